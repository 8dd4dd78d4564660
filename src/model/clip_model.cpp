// ClipModel: loads config + weights and runs the two towers over packed batches.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <thread>

#include "clipdex/error.h"
#include "clipdex/model.h"
#include "model/clip_config.h"
#include "model/fingerprint.h"
#include "model/clip_weights.h"
#include "model/kernels.h"
#include "model/text_input.h"

namespace clipdex {

namespace {

using namespace clipdex::model;

// Rows per forward chunk: big enough that GEMMs run at full speed, small enough that the
// activations of a large batch stay a few tens of MB.
constexpr int kMaxRowsPerChunk = 4096;

Epilogue epilogue_of(Activation act) {
    return act == Activation::QuickGelu ? Epilogue::QuickGelu : Epilogue::Gelu;
}

// All activations of one chunk, allocated before the team starts.
struct Workspace {
    std::vector<float> x, h, qkv, attn, mlp, pooled, out;
    std::vector<float> weights;                    // one layer's weights as F32, shared by the team
    std::vector<std::vector<float>> attn_scratch;  // per thread
};

size_t tower_weight_scratch(const std::vector<Block>& blocks, const Linear& proj) {
    size_t most = weight_scratch_floats(proj);
    for (const Block& b : blocks) {
        for (const Linear& l : b.qkv) most = std::max(most, weight_scratch_floats(l));
        for (const Linear* l : {&b.out, &b.fc1, &b.fc2})
            most = std::max(most, weight_scratch_floats(*l));
    }
    return most;
}

// Sizes only grow: a reused workspace keeps its pages, and nothing reads what it did not write.
void grow(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}

void allocate(Workspace& ws, int rows, const TowerConfig& t, int pooled, int embed,
              size_t weight_floats, int max_len, int threads) {
    const size_t r = static_cast<size_t>(rows), w = static_cast<size_t>(t.width);
    grow(ws.x, r * w);
    grow(ws.h, r * w);
    grow(ws.qkv, r * 3 * w);
    grow(ws.attn, r * w);
    grow(ws.mlp, r * static_cast<size_t>(t.mlp_width));
    grow(ws.pooled, static_cast<size_t>(pooled) * w);
    grow(ws.out, static_cast<size_t>(pooled) * static_cast<size_t>(embed));
    grow(ws.weights, weight_floats);
    if (ws.attn_scratch.size() < static_cast<size_t>(threads))
        ws.attn_scratch.resize(static_cast<size_t>(threads));
    for (auto& s : ws.attn_scratch) grow(s, attention_scratch_floats(max_len, t.width / t.heads));
}

// The first half of a pre-LN block: ws.attn = attention(q, k, v of ln_1(x)).
void run_attention_half(const Team& team, const Block& b, const TowerConfig& t, Workspace& ws,
                        const Sequences& seqs, std::span<const int> all_rows, bool causal) {
    const int rows = static_cast<int>(all_rows.size());
    const int w = t.width;
    layer_norm_rows(team, ws.x.data(), all_rows, w, b.ln1, t.ln_eps, ws.h.data());
    team.sync();
    int column = 0;
    for (const Linear& l : b.qkv) {
        linear(team, l, ws.h.data(), rows, w, ws.qkv.data() + column, 3 * w, false, Epilogue::None,
               ws.weights.data());
        column += l.out();
    }
    team.sync();
    attention(team, ws.qkv.data(), seqs, w, t.heads, causal, ws.attn.data(),
              ws.attn_scratch[static_cast<size_t>(team.tid())].data());
    team.sync();
}

// Pre-LN residual block: x += attn(ln_1(x)); x += mlp(ln_2(x)).
void run_block(const Team& team, const Block& b, const TowerConfig& t, Workspace& ws,
               const Sequences& seqs, std::span<const int> all_rows, bool causal) {
    const int rows = static_cast<int>(all_rows.size());
    const int w = t.width;
    float* converted = ws.weights.data();
    run_attention_half(team, b, t, ws, seqs, all_rows, causal);
    linear(team, b.out, ws.attn.data(), rows, w, ws.x.data(), w, true, Epilogue::None, converted);
    team.sync();
    layer_norm_rows(team, ws.x.data(), all_rows, w, b.ln2, t.ln_eps, ws.h.data());
    team.sync();
    linear(team, b.fc1, ws.h.data(), rows, w, ws.mlp.data(), t.mlp_width, false, epilogue_of(t.act),
           converted);
    team.sync();
    linear(team, b.fc2, ws.mlp.data(), rows, t.mlp_width, ws.x.data(), w, true, Epilogue::None,
           converted);
    team.sync();
}

// The text tower's last block, where only the end-of-text rows (`keep`) are read afterwards:
// every row's K and V are still needed (causal attention reads all earlier rows), but the
// attention output, the out-projection and the MLP run on the kept rows only, exact under the
// causal mask. The kept rows of x end up dense in the returned buffer (inside ws.qkv).
const float* run_last_block_kept_rows(const Team& team, const Block& b, const TowerConfig& t,
                                      Workspace& ws, const Sequences& seqs,
                                      std::span<const int> all_rows, std::span<const int> keep,
                                      std::span<const int> first_rows) {
    const int n = static_cast<int>(keep.size());
    const int w = t.width;
    float* converted = ws.weights.data();
    run_attention_half(team, b, t, ws, seqs, all_rows, true);
    // qkv and h are free now: the kept rows of x go to qkv, those of the attention output to h.
    float* xk = ws.qkv.data();
    float* ak = ws.h.data();
    auto [k0, k1] = team.share(n);
    for (int i = k0; i < k1; ++i) {
        const size_t from = static_cast<size_t>(keep[static_cast<size_t>(i)]) * w;
        std::copy(ws.x.data() + from, ws.x.data() + from + w, xk + static_cast<size_t>(i) * w);
        std::copy(ws.attn.data() + from, ws.attn.data() + from + w,
                  ak + static_cast<size_t>(i) * w);
    }
    team.sync();
    linear(team, b.out, ak, n, w, xk, w, true, Epilogue::None, converted);
    team.sync();
    layer_norm_rows(team, xk, first_rows, w, b.ln2, t.ln_eps, ws.h.data());
    team.sync();
    linear(team, b.fc1, ws.h.data(), n, w, ws.mlp.data(), t.mlp_width, false, epilogue_of(t.act),
           converted);
    team.sync();
    linear(team, b.fc2, ws.mlp.data(), n, t.mlp_width, xk, w, true, Epilogue::None, converted);
    team.sync();
    return xk;
}

// Final LN on the pooled rows of `x`, projection, L2 normalization.
void run_head(const Team& team, const Norm& norm, const Linear& proj, const TowerConfig& t,
              int embed, Workspace& ws, const float* x, std::span<const int> pooled_rows) {
    const int n = static_cast<int>(pooled_rows.size());
    layer_norm_rows(team, x, pooled_rows, t.width, norm, t.ln_eps, ws.pooled.data());
    team.sync();
    linear(team, proj, ws.pooled.data(), n, t.width, ws.out.data(), embed, false, Epilogue::None,
           ws.weights.data());
    team.sync();
    l2_normalize_rows(team, ws.out.data(), n, embed);
}

// Packs every F32 matrix of both towers for the GEMMs (see kernels.h). The packed copy replaces
// the file's bytes: their pages leave the process once packed, and F32 copies made at load are
// freed, so memory stays about one copy of the weights.
void pack_linears(ClipWeights& weights, int threads) {
    std::vector<Linear*> layers;
    auto add_blocks = [&layers](std::vector<Block>& blocks) {
        for (Block& b : blocks) {
            for (Linear& l : b.qkv) layers.push_back(&l);
            for (Linear* l : {&b.out, &b.fc1, &b.fc2}) layers.push_back(l);
        }
    };
    layers.push_back(&weights.vision.patch);
    add_blocks(weights.vision.blocks);
    layers.push_back(&weights.vision.proj);
    add_blocks(weights.text.blocks);
    layers.push_back(&weights.text.proj);
    const WeightFile& file = *weights.file;
    pack_weights(layers, threads, [&file](const Linear& l) {
        file.release_pages(l.w.data, static_cast<size_t>(l.w.rows) * l.w.cols * sizeof(float));
    });
    for (auto& owned : weights.owned) {
        const auto* data = reinterpret_cast<const std::byte*>(owned.data());
        const bool used = std::any_of(layers.begin(), layers.end(), [data](const Linear* l) {
            return !l->packed && l->w.data == data;
        });
        const bool packed = std::any_of(layers.begin(), layers.end(), [data](const Linear* l) {
            return l->packed && l->w.data == data;
        });
        if (packed && !used) std::vector<float>().swap(owned);
    }
    for (Linear* l : layers)
        if (l->packed) l->w.data = nullptr;  // packed: w's bytes are never read again
}

}  // namespace

// Hidden: the enclosing class is exported (CLIPDEX_API), its private implementation is not.
struct __attribute__((visibility("hidden"))) ClipModel::Impl {
    ModelInfo info;
    ClipConfig cfg;
    ClipWeights weights;
    int threads = 1;
    std::unique_ptr<TextInput> text_input;
    // Workspaces kept between calls (one per concurrent call): a fresh ~70 MB of activations per
    // batch of 32 images costs page faults and zeroing every time.
    mutable std::mutex pool_mutex;
    mutable std::vector<std::unique_ptr<Workspace>> pool;

    struct Lease {
        const Impl& impl;
        std::unique_ptr<Workspace> ws;
        explicit Lease(const Impl& owner) : impl(owner) {
            std::lock_guard lock(impl.pool_mutex);
            if (impl.pool.empty()) {
                ws = std::make_unique<Workspace>();
            } else {
                ws = std::move(impl.pool.back());
                impl.pool.pop_back();
            }
        }
        ~Lease() {
            std::lock_guard lock(impl.pool_mutex);
            impl.pool.push_back(std::move(ws));
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
    };

    int team_size(int rows) const {
        // A thread per ~16 rows at least: tiny inputs are not worth waking a thread for.
        return std::max(1, std::min(threads, std::max(1, rows / 4)));
    }

    void encode_image_chunk(const float* pixels, int n, float* out) const;
    void encode_text_chunk(std::span<const int32_t> ids, int length, int n, float* out) const;
};

void ClipModel::Impl::encode_image_chunk(const float* pixels, int n, float* out) const {
    const VisionWeights& vw = weights.vision;
    const TowerConfig& t = cfg.vision;
    const int p = cfg.patch_size, s = cfg.image_size, grid = s / p, tokens = grid * grid + 1,
              w = t.width;
    const int rows = n * tokens, patch_len = 3 * p * p;
    const int threads = team_size(rows);
    Lease lease(*this);
    Workspace& ws = *lease.ws;
    size_t wfloats =
        std::max(tower_weight_scratch(vw.blocks, vw.proj), weight_scratch_floats(vw.patch));
    allocate(ws, rows, t, n, cfg.embed_dim, wfloats, tokens, threads);
    Sequences seqs;
    for (int i = 0; i < n; ++i) {
        seqs.offset.push_back(i * tokens);
        seqs.length.push_back(tokens);
    }
    std::vector<int> all_rows(static_cast<size_t>(rows)), cls_rows(static_cast<size_t>(n));
    std::iota(all_rows.begin(), all_rows.end(), 0);
    for (int i = 0; i < n; ++i) cls_rows[static_cast<size_t>(i)] = i * tokens;
    // im2col into `mlp` (n*grid*grid rows of 3*P*P, the conv weight's (c, y, x) order), then
    // conv1 as one GEMM into `attn`.
    const size_t patch_rows = static_cast<size_t>(n) * grid * grid;
    grow(ws.mlp, patch_rows * static_cast<size_t>(patch_len));
    float* patches = ws.mlp.data();
    float* embedded = ws.attn.data();
    run_team(threads, [&](const Team& team) {
        auto [b0, b1] = team.share(static_cast<int>(patch_rows));
        for (int r = b0; r < b1; ++r) {
            const int img = r / (grid * grid), gy = (r / grid) % grid, gx = r % grid;
            float* dst = patches + static_cast<size_t>(r) * patch_len;
            for (int c = 0; c < 3; ++c)
                for (int y = 0; y < p; ++y) {
                    const float* src =
                        pixels + ((static_cast<size_t>(img) * 3 + c) * s + gy * p + y) * s + gx * p;
                    std::copy(src, src + p, dst + (c * p + y) * p);
                }
        }
        team.sync();
        linear(team, vw.patch, patches, static_cast<int>(patch_rows), patch_len, embedded, w, false,
               Epilogue::None, ws.weights.data());
        team.sync();
        auto [r0, r1] = team.share(rows);
        for (int r = r0; r < r1; ++r) {
            const int img = r / tokens, tok = r % tokens;
            const float* src =
                tok == 0 ? vw.class_embedding.data()
                         : embedded + (static_cast<size_t>(img) * (tokens - 1) + tok - 1) * w;
            const float* pos = vw.positional.data() + static_cast<size_t>(tok) * w;
            float* dst = ws.h.data() + static_cast<size_t>(r) * w;
            for (int j = 0; j < w; ++j) dst[j] = src[j] + pos[j];
        }
        team.sync();
        layer_norm_rows(team, ws.h.data(), all_rows, w, vw.ln_pre, t.ln_eps, ws.x.data());
        team.sync();
        for (const Block& b : vw.blocks) run_block(team, b, t, ws, seqs, all_rows, false);
        run_head(team, vw.ln_post, vw.proj, t, cfg.embed_dim, ws, ws.x.data(), cls_rows);
    });
    std::copy(ws.out.begin(), ws.out.begin() + static_cast<ptrdiff_t>(n) * cfg.embed_dim, out);
}

// Causal attention: rows after a sequence's end-of-text token never reach it, so each
// sequence is cut right after that token (its first largest id) and sequences are packed.
void ClipModel::Impl::encode_text_chunk(std::span<const int32_t> ids, int length, int n,
                                        float* out) const {
    const TextWeights& tw = weights.text;
    const TowerConfig& t = cfg.text;
    const int w = t.width;
    Sequences seqs;
    int rows = 0, longest = 1;
    for (int i = 0; i < n; ++i) {
        const int32_t* row = ids.data() + static_cast<size_t>(i) * length;
        const int eot = static_cast<int>(std::max_element(row, row + length) - row);
        seqs.offset.push_back(rows);
        seqs.length.push_back(eot + 1);
        rows += eot + 1;
        longest = std::max(longest, eot + 1);
    }
    const int threads = team_size(rows);
    Lease lease(*this);
    Workspace& ws = *lease.ws;
    allocate(ws, rows, t, n, cfg.embed_dim, tower_weight_scratch(tw.blocks, tw.proj), longest,
             threads);
    std::vector<int> all_rows(static_cast<size_t>(rows)), eot_rows(static_cast<size_t>(n)),
        first_rows(static_cast<size_t>(n));
    std::iota(all_rows.begin(), all_rows.end(), 0);
    std::iota(first_rows.begin(), first_rows.end(), 0);
    for (int i = 0; i < n; ++i)
        eot_rows[static_cast<size_t>(i)] =
            seqs.offset[static_cast<size_t>(i)] + seqs.length[static_cast<size_t>(i)] - 1;
    const size_t esize = dtype_size(tw.token_embedding.dtype);
    run_team(threads, [&](const Team& team) {
        auto [r0, r1] = team.share(rows);
        size_t seq = 0;
        for (int r = r0; r < r1; ++r) {
            while (r >= seqs.offset[seq] + seqs.length[seq]) ++seq;
            const int pos = r - seqs.offset[seq];
            const int32_t token = ids[seq * static_cast<size_t>(length) + static_cast<size_t>(pos)];
            float* dst = ws.x.data() + static_cast<size_t>(r) * w;
            to_f32(tw.token_embedding.data + static_cast<size_t>(token) * w * esize,
                   tw.token_embedding.dtype, 1, w, static_cast<size_t>(w), dst);
            const float* pe = tw.positional.data() + static_cast<size_t>(pos) * w;
            for (int j = 0; j < w; ++j) dst[j] += pe[j];
        }
        team.sync();
        const size_t layers = tw.blocks.size();
        for (size_t i = 0; i + 1 < layers; ++i)
            run_block(team, tw.blocks[i], t, ws, seqs, all_rows, true);
        const float* x = ws.x.data();
        std::span<const int> pooled = eot_rows;
        if (layers > 0) {
            x = run_last_block_kept_rows(team, tw.blocks.back(), t, ws, seqs, all_rows, eot_rows,
                                         first_rows);
            pooled = first_rows;
        }
        run_head(team, tw.ln_final, tw.proj, t, cfg.embed_dim, ws, x, pooled);
    });
    std::copy(ws.out.begin(), ws.out.begin() + static_cast<ptrdiff_t>(n) * cfg.embed_dim, out);
}

ClipModel::ClipModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClipModel::~ClipModel() = default;

std::unique_ptr<ClipModel> ClipModel::load(const std::filesystem::path& dir,
                                           const LoadOptions& options) {
    if (options.threads < 0) throw Error(ErrorCode::InvalidInput, "threads must be >= 0");
    auto impl = std::make_unique<Impl>();
    impl->cfg = read_clip_config(dir);
    std::unique_ptr<WeightFile> file = open_weights(impl->cfg.weights);
    impl->info.fingerprint = fingerprint(impl->cfg, *file);  // before packing releases pages
    impl->weights = resolve_weights(std::move(file), impl->cfg, options.half_to_f32_at_load);
    impl->threads = options.threads > 0
                        ? options.threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    pack_linears(impl->weights, impl->threads);
    impl->text_input = TextInput::open(dir);
    const ClipConfig& c = impl->cfg;
    ModelInfo& info = impl->info;
    info.name = std::filesystem::absolute(dir).lexically_normal().filename().string();
    if (info.name.empty())
        info.name =
            std::filesystem::absolute(dir).lexically_normal().parent_path().filename().string();
    info.format = c.format == Format::OpenClip ? "open_clip" : "hf";
    info.weight_dtype = dtype_name(impl->weights.matrix_dtype);
    info.activation = c.vision.act == Activation::QuickGelu ? "quick_gelu" : "gelu";
    info.embed_dim = c.embed_dim;
    info.image_size = c.image_size;
    info.patch_size = c.patch_size;
    info.context_length = c.context_length;
    info.vocab_size = c.vocab_size;
    info.vision = {c.vision.width, c.vision.layers, c.vision.heads, c.vision.mlp_width};
    info.text = {c.text.width, c.text.layers, c.text.heads, c.text.mlp_width};
    info.mean = c.mean;
    info.std = c.std;
    info.weight_bytes = impl->weights.bytes_used;
    return std::unique_ptr<ClipModel>(new ClipModel(std::move(impl)));
}

const ModelInfo& ClipModel::info() const {
    return impl_->info;
}

std::vector<float> ClipModel::encode_images(std::span<const float> pixels, size_t n) const {
    const ModelInfo& info = impl_->info;
    const size_t per_image = 3 * static_cast<size_t>(info.image_size) * info.image_size;
    if (pixels.size() != n * per_image)
        throw Error(ErrorCode::InvalidInput, "encode_images: got " + std::to_string(pixels.size()) +
                                                 " floats for " + std::to_string(n) +
                                                 " images of 3x" + std::to_string(info.image_size) +
                                                 "x" + std::to_string(info.image_size));
    std::vector<float> out(n * static_cast<size_t>(info.embed_dim));
    const int tokens =
        (info.image_size / info.patch_size) * (info.image_size / info.patch_size) + 1;
    const size_t chunk = static_cast<size_t>(std::max(1, kMaxRowsPerChunk / tokens));
    for (size_t i = 0; i < n; i += chunk) {
        const size_t count = std::min(chunk, n - i);
        impl_->encode_image_chunk(pixels.data() + i * per_image, static_cast<int>(count),
                                  out.data() + i * static_cast<size_t>(info.embed_dim));
    }
    return out;
}

std::vector<float> ClipModel::encode_token_ids(std::span<const int32_t> ids, size_t n) const {
    const ModelInfo& info = impl_->info;
    if (n == 0) return {};
    if (ids.size() % n != 0 || ids.size() / n == 0 ||
        ids.size() / n > static_cast<size_t>(info.context_length))
        throw Error(ErrorCode::InvalidInput,
                    "encode_token_ids: " + std::to_string(ids.size()) + " ids do not form " +
                        std::to_string(n) + " rows of 1.." + std::to_string(info.context_length));
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] < 0 || ids[i] >= info.vocab_size)
            throw Error(ErrorCode::InvalidInput,
                        "encode_token_ids: token id " + std::to_string(ids[i]) + " at row " +
                            std::to_string(i / (ids.size() / n)) +
                            " is outside the vocabulary of " + std::to_string(info.vocab_size));
    const size_t length = ids.size() / n;
    std::vector<float> out(n * static_cast<size_t>(info.embed_dim));
    const size_t chunk =
        static_cast<size_t>(std::max(1, kMaxRowsPerChunk / static_cast<int>(length)));
    for (size_t i = 0; i < n; i += chunk) {
        const size_t count = std::min(chunk, n - i);
        impl_->encode_text_chunk(ids.subspan(i * length, count * length), static_cast<int>(length),
                                 static_cast<int>(count),
                                 out.data() + i * static_cast<size_t>(info.embed_dim));
    }
    return out;
}

std::vector<int32_t> ClipModel::tokenize(const std::string& text) const {
    return impl_->text_input->tokenize(text, impl_->info.context_length);
}

std::vector<float> ClipModel::encode_texts(std::span<const std::string> texts) const {
    std::vector<int32_t> ids;
    ids.reserve(texts.size() * static_cast<size_t>(impl_->info.context_length));
    for (const std::string& text : texts) {
        std::vector<int32_t> row = tokenize(text);
        ids.insert(ids.end(), row.begin(), row.end());
    }
    return encode_token_ids(ids, texts.size());
}

std::vector<float> ClipModel::encode_image_files(
    std::span<const std::filesystem::path> files) const {
    const ModelInfo& info = impl_->info;
    std::vector<float> pixels;
    for (const auto& file : files) {
        std::vector<float> one = load_pixels(file, info.image_size, info.mean, info.std);
        pixels.insert(pixels.end(), one.begin(), one.end());
    }
    return encode_images(pixels, files.size());
}

}  // namespace clipdex
