#include "model/clip_weights.h"

#include <cstring>

#include "clipdex/error.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace clipdex::model {

namespace {

float half_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal: value = mant * 2^-24
        float f = static_cast<float>(mant) * 5.9604644775390625e-8f;
        std::memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

void f16_row(const std::byte* src, int n, float* dst) {
    int i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = half_to_float(h);
    }
}

void bf16_row(const std::byte* src, int n, float* dst) {
    for (int i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        uint32_t bits = static_cast<uint32_t>(h) << 16;
        std::memcpy(dst + i, &bits, 4);
    }
}

}  // namespace

void to_f32(const std::byte* src, DType dtype, int rows, int cols, size_t ld, float* dst) {
    const size_t esize = dtype_size(dtype);
    for (int r = 0; r < rows; ++r) {
        const std::byte* row = src + static_cast<size_t>(r) * ld * esize;
        float* out = dst + static_cast<size_t>(r) * cols;
        switch (dtype) {
            case DType::F32:
                std::memcpy(out, row, static_cast<size_t>(cols) * 4);
                break;
            case DType::F16:
                f16_row(row, cols, out);
                break;
            case DType::BF16:
                bf16_row(row, cols, out);
                break;
            default:
                break;  // rejected when the weights were resolved
        }
    }
}

namespace {

// Both naming schemes through one table of name builders.
struct Names {
    bool hf = false;
    std::string vis_block(int i) const {
        return hf ? "vision_model.encoder.layers." + std::to_string(i) + "."
                  : "visual.transformer.resblocks." + std::to_string(i) + ".";
    }
    std::string txt_block(int i) const {
        return hf ? "text_model.encoder.layers." + std::to_string(i) + "."
                  : "transformer.resblocks." + std::to_string(i) + ".";
    }
};

template <typename It>
std::string shape_text(It begin, It end) {
    std::string text = "[";
    for (It it = begin; it != end; ++it) {
        if (it != begin) text.push_back(',');
        text.append(std::to_string(*it));
    }
    text.push_back(']');
    return text;
}

class Resolver {
  public:
    Resolver(ClipWeights& w, const ClipConfig& cfg, bool half_to_f32)
        : w_(w), cfg_(cfg), convert_(half_to_f32) {
        names_.hf = cfg.format == Format::HuggingFace;
    }

    void run() {
        resolve_vision();
        resolve_text();
        w_.matrix_dtype =
            w_.vision.blocks.empty() ? w_.vision.patch.w.dtype : w_.vision.blocks[0].fc1.w.dtype;
    }

  private:
    const WeightFile& file() const { return *w_.file; }

    Error shape_error(const std::string& name, const TensorView& t,
                      const std::string& expected) const {
        std::string got = shape_text(t.shape.begin(), t.shape.end());
        return Error(ErrorCode::Corrupt, file().path().string() + ": tensor '" + name +
                                             "' has shape " + got + ", expected " + expected + " " +
                                             std::string(dtype_name(t.dtype)));
    }

    const TensorView& tensor(const std::string& name, std::initializer_list<int64_t> shape) {
        const TensorView& t = file().at(name);
        std::string expected = shape_text(shape.begin(), shape.end());
        bool ok = t.shape.size() == shape.size();
        size_t i = 0;
        for (int64_t d : shape) ok = ok && t.shape[i++] == d;
        if (!ok) throw shape_error(name, t, expected);
        if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
            throw Error(ErrorCode::Unsupported, file().path().string() + ": tensor '" + name +
                                                    "' has dtype " + dtype_name(t.dtype) +
                                                    "; F32, F16 or BF16 expected");
        w_.bytes_used += t.nbytes;
        return t;
    }

    std::vector<float> vec(const std::string& name, std::initializer_list<int64_t> shape) {
        const TensorView& t = tensor(name, shape);
        std::vector<float> out(static_cast<size_t>(t.numel()));
        to_f32(t.data, t.dtype, 1, static_cast<int>(out.size()), out.size(), out.data());
        return out;
    }

    Matrix matrix(const std::string& name, int64_t rows, int64_t cols) {
        const TensorView& t = tensor(name, {rows, cols});
        Matrix m{t.data, t.dtype, static_cast<int>(rows), static_cast<int>(cols)};
        if (convert_ && !m.direct()) {
            auto& buf = w_.owned.emplace_back(static_cast<size_t>(rows * cols));
            to_f32(t.data, t.dtype, m.rows, m.cols, m.cols, buf.data());
            m.data = reinterpret_cast<const std::byte*>(buf.data());
            m.dtype = DType::F32;
        }
        return m;
    }

    // conv1 [W, 3, P, P] viewed as [W, 3*P*P]; HF projections [E, W]; open_clip [W, E].
    Matrix matrix4(const std::string& name, int64_t w, int64_t p) {
        const TensorView& t = tensor(name, {w, 3, p, p});
        Matrix m{t.data, t.dtype, static_cast<int>(w), static_cast<int>(3 * p * p)};
        if (convert_ && !m.direct()) {
            auto& buf = w_.owned.emplace_back(static_cast<size_t>(m.rows) * m.cols);
            to_f32(t.data, t.dtype, m.rows, m.cols, m.cols, buf.data());
            m.data = reinterpret_cast<const std::byte*>(buf.data());
            m.dtype = DType::F32;
        }
        return m;
    }

    Linear linear(const std::string& prefix, int64_t out, int64_t in) {
        Linear l;
        l.w = matrix(prefix + "weight", out, in);
        l.bias = vec(prefix + "bias", {out});
        return l;
    }

    Norm norm(const std::string& prefix, int64_t width) {
        return Norm{vec(prefix + "weight", {width}), vec(prefix + "bias", {width})};
    }

    Block block(const std::string& p, const TowerConfig& t) {
        const int64_t w = t.width;
        Block b;
        if (names_.hf) {
            b.ln1 = norm(p + "layer_norm1.", w);
            b.ln2 = norm(p + "layer_norm2.", w);
            for (const char* name : {"q_proj.", "k_proj.", "v_proj."})
                b.qkv.push_back(linear(p + "self_attn." + name, w, w));
            b.out = linear(p + "self_attn.out_proj.", w, w);
            b.fc1 = linear(p + "mlp.fc1.", t.mlp_width, w);
            b.fc2 = linear(p + "mlp.fc2.", w, t.mlp_width);
        } else {
            b.ln1 = norm(p + "ln_1.", w);
            b.ln2 = norm(p + "ln_2.", w);
            Linear qkv;
            qkv.w = matrix(p + "attn.in_proj_weight", 3 * w, w);
            qkv.bias = vec(p + "attn.in_proj_bias", {3 * w});
            b.qkv.push_back(std::move(qkv));
            b.out = linear(p + "attn.out_proj.", w, w);
            b.fc1 = linear(p + "mlp.c_fc.", t.mlp_width, w);
            b.fc2 = linear(p + "mlp.c_proj.", w, t.mlp_width);
        }
        return b;
    }

    Linear projection(const std::string& name, int64_t width) {
        Linear l;
        l.out_in = names_.hf;  // HF stores nn.Linear [E, W]; open_clip a matrix used as x @ proj
        l.w = names_.hf ? matrix(name, cfg_.embed_dim, width) : matrix(name, width, cfg_.embed_dim);
        return l;
    }

    void resolve_vision() {
        const auto& v = cfg_.vision;
        const int64_t w = v.width, p = cfg_.patch_size;
        const int64_t grid = cfg_.image_size / cfg_.patch_size;
        auto& out = w_.vision;
        const bool hf = names_.hf;
        out.patch.w = matrix4(
            hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight", w, p);
        out.class_embedding =
            vec(hf ? "vision_model.embeddings.class_embedding" : "visual.class_embedding", {w});
        out.positional = vec(hf ? "vision_model.embeddings.position_embedding.weight"
                                : "visual.positional_embedding",
                             {grid * grid + 1, w});
        out.ln_pre = norm(hf ? "vision_model.pre_layrnorm." : "visual.ln_pre.", w);
        for (int i = 0; i < v.layers; ++i) out.blocks.push_back(block(names_.vis_block(i), v));
        if (file().contains(names_.vis_block(v.layers) +
                            (hf ? "layer_norm1.weight" : "ln_1.weight")))
            throw Error(ErrorCode::Corrupt, file().path().string() +
                                                ": holds more vision layers than the config's " +
                                                std::to_string(v.layers));
        out.ln_post = norm(hf ? "vision_model.post_layernorm." : "visual.ln_post.", w);
        out.proj = projection(hf ? "visual_projection.weight" : "visual.proj", w);
    }

    void resolve_text() {
        const auto& t = cfg_.text;
        const int64_t w = t.width;
        auto& out = w_.text;
        const bool hf = names_.hf;
        out.token_embedding =
            matrix(hf ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight",
                   cfg_.vocab_size, w);
        out.positional =
            vec(hf ? "text_model.embeddings.position_embedding.weight" : "positional_embedding",
                {cfg_.context_length, w});
        for (int i = 0; i < t.layers; ++i) out.blocks.push_back(block(names_.txt_block(i), t));
        if (file().contains(names_.txt_block(t.layers) +
                            (hf ? "layer_norm1.weight" : "ln_1.weight")))
            throw Error(ErrorCode::Corrupt, file().path().string() +
                                                ": holds more text layers than the config's " +
                                                std::to_string(t.layers));
        out.ln_final = norm(hf ? "text_model.final_layer_norm." : "ln_final.", w);
        out.proj = projection(hf ? "text_projection.weight" : "text_projection", w);
    }

    ClipWeights& w_;
    const ClipConfig& cfg_;
    bool convert_;
    Names names_;
};

}  // namespace

ClipWeights resolve_weights(std::unique_ptr<WeightFile> file, const ClipConfig& cfg,
                            bool half_to_f32) {
    ClipWeights w;
    w.file = std::move(file);
    Resolver(w, cfg, half_to_f32).run();
    return w;
}

}  // namespace clipdex::model
