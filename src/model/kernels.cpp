#include "model/kernels.h"

#include <dnnl.h>
#include <omp.h>
#include <dnnl.hpp>

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_ps()
// (GCC bug 105593, fixed in 13); the warning points into the header, so it is silenced there.
#pragma GCC diagnostic push
#if !defined(__clang__)  // clang has no such warning and -Werror refuses unknown ones
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

namespace clipdex::model {

std::pair<int, int> Team::share(int total, int align) const {
    const int units = (total + align - 1) / align;
    const int base = units / size_, extra = units % size_;
    const int first = tid_ * base + std::min(tid_, extra);
    const int count = base + (tid_ < extra ? 1 : 0);
    return {std::min(total, first * align), std::min(total, (first + count) * align)};
}

void run_team(int threads, const std::function<void(const Team&)>& fn) {
    threads = std::max(1, threads);
    std::barrier<> barrier(threads);
    // oneDNN parallelises with OpenMP; the team has already split the work, so each of its GEMMs
    // must stay on the calling thread (two OpenMP threads per team thread would halve speed).
    auto member = [&fn, &barrier, threads](int t) {
        omp_set_num_threads(1);
        fn(Team(t, threads, &barrier));
    };
    std::vector<std::jthread> workers;
    workers.reserve(static_cast<size_t>(threads - 1));
    for (int t = 1; t < threads; ++t) workers.emplace_back(member, t);
    member(0);
}

size_t weight_scratch_floats(const Linear& layer) {
    return layer.w.direct() ? 0
                            : static_cast<size_t>(layer.out()) * static_cast<size_t>(layer.in());
}

namespace {

// exp(x) for float, written so that GCC vectorizes the loops that call it (libm's expf and erff
// stay scalar): 2^n * e^r with |r| <= ln2/2, degree-6 polynomial, relative error ~2e-7.
inline float fast_exp(float x) {
    // min/max, not std::clamp: clamp's branches keep GCC from vectorizing the callers' loops.
    x = std::min(std::max(x, -87.0f), 88.0f);
    const float n = std::floor(x * 1.44269504088896341f + 0.5f);
    const float r = x - n * 0.693145751953125f - n * 1.428606765330187045e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    return p * std::bit_cast<float>(bits);
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), vectorizable like fast_exp.
inline float fast_erf(float x) {
    const float a = std::fabs(x);
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float y = 1.0f - p * t * fast_exp(-a * a);
    return std::copysign(y, x);
}

// Row-major C = alpha op(A) op(B) + beta C on the calling thread. oneDNN's sgemm (JIT AVX-512
// kernels where the CPU has them) runs these shapes ~2.5x faster than BLIS here; see
// bench/results/model-2026-11-23.md. A failure can only be a bad argument: a bug, not an input.
void sgemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
    const dnnl_status_t status = dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (status != dnnl_success) {
        std::fprintf(stderr,
                     "clipdex: dnnl_sgemm(%c%c, m=%d n=%d k=%d, lda=%d ldb=%d ldc=%d) failed with "
                     "status %d\n",
                     ta, tb, m, n, k, lda, ldb, ldc, static_cast<int>(status));
        std::abort();
    }
}

// Bias and activation over rows [0, m) and columns [n0, n1) of y, while those rows are still in
// cache.
bool have_avx512() {
    static const bool yes = __builtin_cpu_supports("avx512f");
    return yes;
}

// AVX-512 versions of fast_exp / fast_erf (same formulas), for the loops GCC leaves scalar.
__attribute__((target("avx512f"))) inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(
        _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
        _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    for (float c : {1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    const __m512i bits =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

__attribute__((target("avx512f"))) inline __m512 erf16(__m512 x) {
    const __m512i sign_mask = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), sign_mask);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign_mask, _mm512_castps_si512(x)));
    const __m512 t = _mm512_div_ps(
        _mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    for (float c : {-1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f})
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c));
    const __m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
    const __m512 y = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, _mm512_set1_ps(1.0f));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), sign));
}

__attribute__((target("avx512f"))) inline __mmask16 tail_mask(int left) {
    return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

__attribute__((target("avx512f"))) void epilogue_row_avx512(float* row, int n, const float* bias,
                                                            Epilogue epilogue) {
    for (int c = 0; c < n; c += 16) {
        const __mmask16 k = tail_mask(n - c);
        __m512 v = _mm512_maskz_loadu_ps(k, row + c);
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + c));
        if (epilogue == Epilogue::QuickGelu) {
            v = _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f),
                                               exp16(_mm512_mul_ps(v, _mm512_set1_ps(-1.702f)))));
        } else if (epilogue == Epilogue::Gelu) {
            const __m512 e = erf16(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)));
            v = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                              _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        }
        _mm512_mask_storeu_ps(row + c, k, v);
    }
}

void apply_epilogue(float* y, int m, int ldy, int n0, int n1, const std::vector<float>& bias,
                    Epilogue epilogue) {
    if (bias.empty() && epilogue == Epilogue::None) return;
    if (have_avx512()) {
        const float* b = bias.empty() ? nullptr : bias.data() + n0;
        for (int r = 0; r < m; ++r)
            epilogue_row_avx512(y + static_cast<size_t>(r) * ldy + n0, n1 - n0, b, epilogue);
        return;
    }
    for (int r = 0; r < m; ++r) {
        float* row = y + static_cast<size_t>(r) * ldy;
        if (!bias.empty())
            for (int c = n0; c < n1; ++c) row[c] += bias[static_cast<size_t>(c)];
        if (epilogue == Epilogue::QuickGelu) {
            for (int c = n0; c < n1; ++c) row[c] = row[c] / (1.0f + fast_exp(-1.702f * row[c]));
        } else if (epilogue == Epilogue::Gelu) {
            for (int c = n0; c < n1; ++c)
                row[c] = 0.5f * row[c] * (1.0f + fast_erf(row[c] * 0.70710678118654752f));
        }
    }
}

// Each thread takes a block of rows when there are enough rows to keep the GEMM kernels busy:
// then both threads read the whole weight matrix but neither re-packs the other's activations.
// With few rows (one image, a query) the weights dominate, so each thread takes half the columns.
constexpr int kMinRowsPerThread = 128;
// Rows per GEMM call within a thread's share: the output block (<= 128 x 3072 floats) is still in
// L2 when the epilogue runs over it.
constexpr int kRowBlock = 128;

// The weights as F32 with their leading dimension. F16/BF16 weights are converted into the shared
// buffer: all of them by the team together (row split), or each thread its own columns.
std::pair<const float*, int> f32_weights(const Team& team, const Linear& layer, bool by_rows,
                                         int n0, int n1, float* converted) {
    const int in = layer.in(), out = layer.out();
    const Matrix& w = layer.w;
    const size_t esize = dtype_size(w.dtype);
    if (by_rows) {
        if (w.direct()) return {reinterpret_cast<const float*>(w.data), w.cols};
        auto [r0, r1] = team.share(w.rows);
        to_f32(w.data + static_cast<size_t>(r0) * w.cols * esize, w.dtype, r1 - r0, w.cols,
               static_cast<size_t>(w.cols), converted + static_cast<size_t>(r0) * w.cols);
        team.sync();
        return {converted, w.cols};
    }
    if (layer.out_in) {
        const float* base = converted + static_cast<size_t>(n0) * in;
        if (w.direct())
            return {reinterpret_cast<const float*>(w.data) + static_cast<size_t>(n0) * in, in};
        to_f32(w.data + static_cast<size_t>(n0) * in * esize, w.dtype, n1 - n0, in,
               static_cast<size_t>(in), converted + static_cast<size_t>(n0) * in);
        return {base, in};
    }
    if (w.direct()) return {reinterpret_cast<const float*>(w.data) + n0, out};
    to_f32(w.data + static_cast<size_t>(n0) * esize, w.dtype, in, n1 - n0, static_cast<size_t>(out),
           converted + static_cast<size_t>(n0) * in);
    return {converted + static_cast<size_t>(n0) * in, n1 - n0};
}

}  // namespace

// ---- Packed F32 weights and the oneDNN matmul primitive ----

struct PackedWeights {
    dnnl::memory::desc md;  // [in, out] in the primitive's blocked layout
    float* data = nullptr;  // md.get_size() bytes, 64-byte aligned
    int in = 0, out = 0;
    // BA16a64b: 64-column blocks of [in rounded up to 16] x 64 floats one after another, so a
    // panel of columns starting at a multiple of 64 is itself a BA16a64b matrix.
    bool panels = false;
    PackedWeights() = default;
    PackedWeights(const PackedWeights&) = delete;
    PackedWeights& operator=(const PackedWeights&) = delete;
    ~PackedWeights() { std::free(data); }
};

namespace {

using dnnl::memory;

const dnnl::engine& cpu_engine() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

// Streams and the (user-managed) scratchpad are per thread: primitives are shared by all.
dnnl::stream& thread_stream() {
    thread_local dnnl::stream stream(cpu_engine());
    return stream;
}

[[noreturn]] void dnnl_failed(const char* what, const dnnl::error& e, int m, int n, int k) {
    std::fprintf(stderr, "clipdex: oneDNN %s (m=%d n=%d k=%d) failed: %s (status %d)\n", what, m, n,
                 k, e.what(), static_cast<int>(e.status));
    std::abort();
}

memory::desc dense(int rows, int cols) {
    return memory::desc({rows, cols}, memory::data_type::f32, memory::format_tag::ab);
}

// Primitives by shape and post-ops, shared by layers of the same shape (every block of a
// tower) and by threads; keyed on the weights' layout too. Distinct row counts (batch sizes,
// text lengths) each compile kernels once; the map is cleared if it grows past kMaxPrimitives.
struct MatmulEntry {
    memory::desc weights;
    dnnl::matmul prim;
    memory::desc scratch;
};
constexpr size_t kMaxPrimitives = 512;
std::mutex primitives_mutex;
std::map<std::tuple<int, int, int, bool, bool, int>, std::vector<MatmulEntry>> primitives;
size_t primitive_count = 0;

MatmulEntry matmul_for(const memory::desc& weights, int m, int k, int n, bool bias, bool sum,
                       Epilogue epilogue) {
    const auto key = std::make_tuple(m, k, n, bias, sum, static_cast<int>(epilogue));
    std::lock_guard lock(primitives_mutex);
    auto it = primitives.find(key);
    if (it != primitives.end())
        for (const MatmulEntry& e : it->second)
            if (e.weights == weights) return e;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    if (sum) ops.append_sum(1.0f);
    if (epilogue == Epilogue::QuickGelu)  // x * sigmoid(1.702 x)
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.702f, 0.0f);
    else if (epilogue == Epilogue::Gelu)
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
    attr.set_post_ops(ops);
    const memory::desc src = dense(m, k), dst = dense(m, n);
    auto desc = bias ? dnnl::matmul::desc(src, weights, dense(1, n), dst)
                     : dnnl::matmul::desc(src, weights, dst);
    dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
    if (primitive_count >= kMaxPrimitives) {
        primitives.clear();
        primitive_count = 0;
    }
    MatmulEntry entry{weights, dnnl::matmul(pd), pd.scratchpad_desc()};
    primitives[key].push_back(entry);
    ++primitive_count;
    return entry;
}

// Dense y [m, n1 - n0] (=|+=) dense x [m, in] @ W[:, n0:n1] + bias[n0:n1], then the activation,
// on the calling thread. n0 is a multiple of 64 unless [n0, n1) is all of W.
void packed_matmul(const PackedWeights& pw, int m, int n0, int n1, const float* x, float* y,
                   const float* bias, bool sum, Epilogue epilogue) {
    const int k = pw.in, n = n1 - n0;
    try {
        memory::desc wmd = pw.md;
        float* w = pw.data;
        if (n != pw.out) {
            wmd = memory::desc({k, n}, memory::data_type::f32, memory::format_tag::BA16a64b);
            w += static_cast<size_t>(n0) * static_cast<size_t>((k + 15) / 16 * 16);
        }
        const MatmulEntry e = matmul_for(wmd, m, k, n, bias != nullptr, sum, epilogue);
        thread_local std::vector<std::byte> scratch;
        if (scratch.size() < e.scratch.get_size()) scratch.resize(e.scratch.get_size());
        const dnnl::engine& engine = cpu_engine();
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, memory(dense(m, k), engine, const_cast<float*>(x))},
            {DNNL_ARG_WEIGHTS, memory(wmd, engine, w)},
            {DNNL_ARG_DST, memory(dense(m, n), engine, y)},
            {DNNL_ARG_SCRATCHPAD, memory(e.scratch, engine, scratch.data())}};
        if (bias)
            args.emplace(DNNL_ARG_BIAS, memory(dense(1, n), engine, const_cast<float*>(bias)));
        e.prim.execute(thread_stream(), args);
    } catch (const dnnl::error& err) {
        dnnl_failed("matmul", err, m, n, k);
    }
}

std::shared_ptr<PackedWeights> pack(const Linear& layer) {
    const int k = layer.in(), n = layer.out();
    if (!layer.w.direct() || k <= 0 || n <= 0) return nullptr;
    try {
        // The layout the primitive prefers for these weights; the row count does not change it
        // (checked for 25..800 rows on the ViT-B-32 shapes).
        constexpr int kRows = 128;
        const memory::desc any({k, n}, memory::data_type::f32, memory::format_tag::any);
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(dense(kRows, k), any, dense(kRows, n)),
                                        cpu_engine());
        // Only the brgemm kernels gain from packing; elsewhere sgemm on the file is as good.
        if (std::strncmp(pd.impl_info_str(), "brg", 3) != 0) return nullptr;
        auto pw = std::make_shared<PackedWeights>();
        pw->md = pd.weights_desc();
        pw->in = k;
        pw->out = n;
        pw->panels =
            pw->md == memory::desc({k, n}, memory::data_type::f32, memory::format_tag::BA16a64b);
        const size_t bytes = (pw->md.get_size() + 63) / 64 * 64;
        pw->data = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (pw->data == nullptr) return nullptr;
        // W [out, in] is [in, out] with strides (1, in); W [in, out] is plain row-major.
        const memory::desc plain({k, n}, memory::data_type::f32,
                                 layer.out_in ? memory::dims{1, k} : memory::dims{n, 1});
        memory from(plain, cpu_engine(),
                    const_cast<float*>(reinterpret_cast<const float*>(layer.w.data)));
        memory to(pw->md, cpu_engine(), pw->data);
        dnnl::stream stream(cpu_engine());
        dnnl::reorder(from, to).execute(stream, from, to);
        stream.wait();
        return pw;
    } catch (const dnnl::error&) {
        return nullptr;  // oneDNN declines this shape: the sgemm path handles it
    }
}

// Scratch rows for inputs or outputs that are not dense (the primitive wants dense matrices).
float* thread_buffer(int which, size_t floats) {
    thread_local std::vector<float> buffers[2];
    std::vector<float>& b = buffers[which];
    if (b.size() < floats) b.resize(floats);
    return b.data();
}

void linear_packed(const Team& team, const Linear& layer, const float* x, int m, int ldx, float* y,
                   int ldy, bool accumulate, Epilogue epilogue) {
    const PackedWeights& pw = *layer.packed;
    const int out = layer.out(), in = layer.in();
    const float* bias = layer.bias.empty() ? nullptr : layer.bias.data();
    const bool by_rows = !pw.panels || m >= kMinRowsPerThread * team.size();
    auto [r0, r1] = by_rows ? team.share(m, 8) : std::pair<int, int>{0, m};
    auto [n0, n1] = by_rows ? std::pair<int, int>{0, out} : team.share(out, 64);
    const int rows = r1 - r0, cols = n1 - n0;
    if (rows <= 0 || cols <= 0) return;
    const float* xs = x + static_cast<size_t>(r0) * ldx;
    if (ldx != in) {
        float* dense_x = thread_buffer(0, static_cast<size_t>(rows) * in);
        for (int r = 0; r < rows; ++r)
            std::memcpy(dense_x + static_cast<size_t>(r) * in, xs + static_cast<size_t>(r) * ldx,
                        sizeof(float) * static_cast<size_t>(in));
        xs = dense_x;
    }
    float* ys = y + static_cast<size_t>(r0) * ldy + n0;
    const float* b = bias ? bias + n0 : nullptr;
    if (cols == ldy) {
        packed_matmul(pw, rows, n0, n1, xs, ys, b, accumulate, epilogue);
        return;
    }
    // A slice of y's columns: computed densely, then copied (or added) into place.
    float* tmp = thread_buffer(1, static_cast<size_t>(rows) * cols);
    packed_matmul(pw, rows, n0, n1, xs, tmp, b, false, epilogue);
    for (int r = 0; r < rows; ++r) {
        float* dst = ys + static_cast<size_t>(r) * ldy;
        const float* src = tmp + static_cast<size_t>(r) * cols;
        if (accumulate)
            for (int c = 0; c < cols; ++c) dst[c] += src[c];
        else
            std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(cols));
    }
}

}  // namespace

int pack_weights(std::span<Linear* const> layers, int threads,
                 const std::function<void(const Linear&)>& done) {
    std::atomic<size_t> next{0};
    std::atomic<int> packed{0};
    auto worker = [&] {
        omp_set_num_threads(1);
        for (size_t i; (i = next.fetch_add(1)) < layers.size();) {
            Linear& layer = *layers[i];
            if (auto pw = pack(layer)) {
                layer.packed = std::move(pw);
                ++packed;
                if (done) done(layer);
            }
        }
    };
    std::vector<std::jthread> workers;
    for (int t = 1; t < std::max(1, threads); ++t) workers.emplace_back(worker);
    worker();
    workers.clear();
    return packed.load();
}

namespace {

// Float sums that GCC will not reorder into vector lanes, done in 16 lanes by hand.
__attribute__((target("avx512f"))) void layer_norm_row_avx512(const float* x, int width,
                                                              const float* gamma, const float* beta,
                                                              float eps, float* y) {
    __m512 acc = _mm512_setzero_ps();
    for (int j = 0; j < width; j += 16)
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail_mask(width - j), x + j));
    const float mean = _mm512_reduce_add_ps(acc) / static_cast<float>(width);
    const __m512 mv = _mm512_set1_ps(mean);
    acc = _mm512_setzero_ps();
    for (int j = 0; j < width; j += 16) {
        const __mmask16 k = tail_mask(width - j);
        const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), mv);
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    const __m512 inv = _mm512_set1_ps(
        1.0f / std::sqrt(_mm512_reduce_add_ps(acc) / static_cast<float>(width) + eps));
    for (int j = 0; j < width; j += 16) {
        const __mmask16 k = tail_mask(width - j);
        const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), mv), inv);
        _mm512_mask_storeu_ps(y + j, k,
                              _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, gamma + j),
                                              _mm512_maskz_loadu_ps(k, beta + j)));
    }
}

}  // namespace

void layer_norm_rows(const Team& team, const float* src, std::span<const int> rows, int width,
                     const Norm& norm, float eps, float* dst) {
    auto [begin, end] = team.share(static_cast<int>(rows.size()));
    const float* gamma = norm.gamma.data();
    const float* beta = norm.beta.data();
    if (have_avx512()) {
        for (int i = begin; i < end; ++i)
            layer_norm_row_avx512(src + static_cast<size_t>(rows[static_cast<size_t>(i)]) * width,
                                  width, gamma, beta, eps, dst + static_cast<size_t>(i) * width);
        return;
    }
    for (int i = begin; i < end; ++i) {
        const float* x = src + static_cast<size_t>(rows[static_cast<size_t>(i)]) * width;
        float* y = dst + static_cast<size_t>(i) * width;
        float sum = 0.0f;
        for (int j = 0; j < width; ++j) sum += x[j];
        const float mean = sum / static_cast<float>(width);
        float var = 0.0f;
        for (int j = 0; j < width; ++j) {
            const float d = x[j] - mean;
            var += d * d;
        }
        const float inv = 1.0f / std::sqrt(var / static_cast<float>(width) + eps);
        for (int j = 0; j < width; ++j) y[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
    }
}

void linear(const Team& team, const Linear& layer, const float* x, int m, int ldx, float* y,
            int ldy, bool accumulate, Epilogue epilogue, float* converted) {
    if (layer.packed) {
        linear_packed(team, layer, x, m, ldx, y, ldy, accumulate, epilogue);
        return;
    }
    const bool by_rows = m >= kMinRowsPerThread * team.size();
    const int out = layer.out(), in = layer.in();
    const float beta = accumulate ? 1.0f : 0.0f;
    const char tb = layer.out_in ? 'T' : 'N';
    if (by_rows) {
        auto [w, ldw] = f32_weights(team, layer, true, 0, out, converted);
        auto [r0, r1] = team.share(m, 8);
        for (int r = r0; r < r1; r += kRowBlock) {
            const int rows = std::min(kRowBlock, r1 - r);
            float* yr = y + static_cast<size_t>(r) * ldy;
            sgemm('N', tb, rows, out, in, 1.0f, x + static_cast<size_t>(r) * ldx, ldx, w, ldw, beta,
                  yr, ldy);
            apply_epilogue(yr, rows, ldy, 0, out, layer.bias, epilogue);
        }
    } else {
        auto [n0, n1] = team.share(out, 16);
        if (n0 < n1 && m > 0) {
            auto [w, ldw] = f32_weights(team, layer, false, n0, n1, converted);
            sgemm('N', tb, m, n1 - n0, in, 1.0f, x, ldx, w, ldw, beta, y + n0, ldy);
            apply_epilogue(y, m, ldy, n0, n1, layer.bias, epilogue);
        }
    }
    // The next linear reuses the shared buffer: nobody may overwrite it while a thread reads it.
    if (!layer.w.direct()) team.sync();
}

namespace {

// Rows [0, rows) of s (row stride `stride`) become softmax over their first `len` (causal: i + 1)
// entries; the rest of each row up to `stride` is zeroed.
__attribute__((target("avx512f"))) void softmax_row_avx512(float* row, int valid, int stride) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < valid; j += 16)
        mx = _mm512_mask_max_ps(mx, tail_mask(valid - j), mx, _mm512_loadu_ps(row + j));
    const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < valid; j += 16) {
        const __mmask16 k = tail_mask(valid - j);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), top));
        sum = _mm512_mask_add_ps(sum, k, sum, e);
        _mm512_mask_storeu_ps(row + j, k, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int j = 0; j < stride; j += 16) {
        const __mmask16 k = tail_mask(stride - j);
        const __mmask16 live = j < valid ? tail_mask(valid - j) : static_cast<__mmask16>(0);
        _mm512_mask_storeu_ps(row + j, k,
                              _mm512_maskz_mul_ps(live, _mm512_maskz_loadu_ps(k, row + j), inv));
    }
}

void softmax_rows(float* s, int rows, int len, int stride, bool causal) {
    if (have_avx512()) {
        for (int i = 0; i < rows; ++i)
            softmax_row_avx512(s + static_cast<size_t>(i) * stride, causal ? i + 1 : len, stride);
        return;
    }
    for (int i = 0; i < rows; ++i) {
        float* row = s + static_cast<size_t>(i) * stride;
        const int valid = causal ? i + 1 : len;
        float mx = row[0];
        for (int j = 1; j < valid; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (int j = 0; j < valid; ++j) {
            row[j] = fast_exp(row[j] - mx);
            sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < valid; ++j) row[j] *= inv;
        for (int j = valid; j < stride; ++j) row[j] = 0.0f;
    }
}

int round16(int n) {
    return (n + 15) / 16 * 16;
}

// One (sequence, head) pair: q, k, v are [len, dh] with row stride ld; o is [len, dh] with row
// stride ldo. The generic path: two GEMM calls, whose fixed cost dominates at 50 x 50 x 64.
void head_attention_gemm(const float* q, const float* k, const float* v, int ld, int len, int dh,
                         float scale, bool causal, float* o, int ldo, float* scratch) {
    float* s = scratch;
    sgemm('N', 'T', len, len, dh, scale, q, ld, k, ld, 0.0f, s, len);
    softmax_rows(s, len, len, len, causal);
    sgemm('N', 'N', len, dh, len, 1.0f, s, len, v, ld, 0.0f, o, ldo);
}

// The AVX-512 path (dh a multiple of 16): K transposed once into [dh, len16] so that a row of
// scores is a few 16-wide vectors, R rows at a time for independent FMA chains; then P V with
// R rows x C vectors of the head dimension in registers.
template <int R>
__attribute__((target("avx512f"))) void scores_rows(const float* q, int ld, const float* kt, int lp,
                                                    int dh, int i, int chunks, float scale,
                                                    float* s) {
    for (int c = 0; c < chunks; ++c) {
        __m512 acc[R];
        for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
        for (int d = 0; d < dh; ++d) {
            const __m512 kv = _mm512_loadu_ps(kt + static_cast<size_t>(d) * lp + 16 * c);
            for (int r = 0; r < R; ++r)
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[static_cast<size_t>(i + r) * ld + d]), kv,
                                         acc[r]);
        }
        for (int r = 0; r < R; ++r)
            _mm512_storeu_ps(s + static_cast<size_t>(i + r) * lp + 16 * c,
                             _mm512_mul_ps(acc[r], _mm512_set1_ps(scale)));
    }
}

template <int R, int C>
__attribute__((target("avx512f"))) void weighted_sum_rows(const float* p, int lp, const float* v,
                                                          int ld, int i, int jn, int d0, float* o,
                                                          int ldo) {
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    for (int j = 0; j < jn; ++j) {
        __m512 vv[C];
        for (int c = 0; c < C; ++c)
            vv[c] = _mm512_loadu_ps(v + static_cast<size_t>(j) * ld + d0 + 16 * c);
        for (int r = 0; r < R; ++r) {
            const __m512 pr = _mm512_set1_ps(p[static_cast<size_t>(i + r) * lp + j]);
            for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(pr, vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c)
            _mm512_storeu_ps(o + static_cast<size_t>(i + r) * ldo + d0 + 16 * c, acc[r][c]);
}

template <int R>
__attribute__((target("avx512f"))) void weighted_sum_block(const float* p, int lp, const float* v,
                                                           int ld, int i, int jn, int dh, float* o,
                                                           int ldo) {
    int d0 = 0;
    for (; d0 + 64 <= dh; d0 += 64) weighted_sum_rows<R, 4>(p, lp, v, ld, i, jn, d0, o, ldo);
    for (; d0 < dh; d0 += 16) weighted_sum_rows<R, 1>(p, lp, v, ld, i, jn, d0, o, ldo);
}

__attribute__((target("avx512f"))) void head_attention_avx512(const float* q, const float* k,
                                                              const float* v, int ld, int len,
                                                              int dh, float scale, bool causal,
                                                              float* o, int ldo, float* scratch) {
    const int lp = round16(len);
    float* kt = scratch;
    float* s = scratch + static_cast<size_t>(dh) * lp;
    for (int d = 0; d < dh; ++d) {
        float* row = kt + static_cast<size_t>(d) * lp;
        for (int j = 0; j < len; ++j) row[j] = k[static_cast<size_t>(j) * ld + d];
        for (int j = len; j < lp; ++j) row[j] = 0.0f;
    }
    constexpr int kRows = 8;
    // Causal rows i..i+R-1 see keys 0..i+R-1 only: later chunks are skipped (softmax zeroes them).
    auto chunks_for = [&](int last_row) { return causal ? last_row / 16 + 1 : lp / 16; };
    int i = 0;
    for (; i + kRows <= len; i += kRows)
        scores_rows<kRows>(q, ld, kt, lp, dh, i, chunks_for(i + kRows - 1), scale, s);
    for (; i < len; ++i) scores_rows<1>(q, ld, kt, lp, dh, i, chunks_for(i), scale, s);
    softmax_rows(s, len, len, lp, causal);
    constexpr int kOutRows = 4;
    i = 0;
    for (; i + kOutRows <= len; i += kOutRows)
        weighted_sum_block<kOutRows>(s, lp, v, ld, i, causal ? i + kOutRows : len, dh, o, ldo);
    for (; i < len; ++i) weighted_sum_block<1>(s, lp, v, ld, i, causal ? i + 1 : len, dh, o, ldo);
}

}  // namespace

size_t attention_scratch_floats(int max_len, int head_dim) {
    const size_t lp = static_cast<size_t>(round16(max_len));
    return static_cast<size_t>(head_dim) * lp + static_cast<size_t>(max_len) * lp;
}

void attention(const Team& team, const float* qkv, const Sequences& seqs, int width, int heads,
               bool causal, float* out, float* scratch) {
    const int tasks = static_cast<int>(seqs.offset.size()) * heads;
    const int dh = width / heads;
    const int ld = 3 * width;
    const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
    const bool fast = have_avx512() && dh % 16 == 0;
    auto [begin, end] = team.share(tasks);
    for (int task = begin; task < end; ++task) {
        const size_t s = static_cast<size_t>(task / heads);
        const int h = task % heads;
        const int len = seqs.length[s];
        const float* q =
            qkv + static_cast<size_t>(seqs.offset[s]) * ld + static_cast<size_t>(h) * dh;
        float* o = out + static_cast<size_t>(seqs.offset[s]) * width + static_cast<size_t>(h) * dh;
        if (fast)
            head_attention_avx512(q, q + width, q + 2 * width, ld, len, dh, scale, causal, o, width,
                                  scratch);
        else
            head_attention_gemm(q, q + width, q + 2 * width, ld, len, dh, scale, causal, o, width,
                                scratch);
    }
}

void l2_normalize_rows(const Team& team, float* x, int n, int dim) {
    auto [begin, end] = team.share(n);
    for (int i = begin; i < end; ++i) {
        float* row = x + static_cast<size_t>(i) * dim;
        double sum = 0.0;
        for (int j = 0; j < dim; ++j) sum += static_cast<double>(row[j]) * row[j];
        if (sum <= 0.0) continue;
        const float inv = static_cast<float>(1.0 / std::sqrt(sum));
        for (int j = 0; j < dim; ++j) row[j] *= inv;
    }
}

}  // namespace clipdex::model
