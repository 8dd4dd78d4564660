#include "model/kernels.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <thread>

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
    std::vector<std::jthread> workers;
    workers.reserve(static_cast<size_t>(threads - 1));
    for (int t = 1; t < threads; ++t) workers.emplace_back([&fn, &barrier, t, threads] { fn(Team(t, threads, &barrier)); });
    fn(Team(0, threads, &barrier));
}

void layer_norm_rows(const Team& team, const float* src, std::span<const int> rows, int width, const Norm& norm,
                     float eps, float* dst) {
    auto [begin, end] = team.share(static_cast<int>(rows.size()));
    const float* gamma = norm.gamma.data();
    const float* beta = norm.beta.data();
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

size_t weight_scratch_floats(const Linear& layer, int threads) {
    if (layer.w.direct()) return 0;
    const size_t cols_per_thread = static_cast<size_t>((layer.out() + threads - 1) / threads + 16);
    return cols_per_thread * static_cast<size_t>(layer.in());
}

namespace {

// exp(x) for float, written so that GCC vectorizes the loops that call it (libm's expf and erff
// stay scalar): 2^n * e^r with |r| <= ln2/2, degree-6 polynomial, relative error ~2e-7.
inline float fast_exp(float x) {
    x = std::clamp(x, -87.0f, 88.0f);
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

void apply_epilogue(float* y, int m, int ldy, int n0, int n1, const std::vector<float>& bias, Epilogue epilogue) {
    for (int r = 0; r < m; ++r) {
        float* row = y + static_cast<size_t>(r) * ldy;
        if (!bias.empty())
            for (int c = n0; c < n1; ++c) row[c] += bias[static_cast<size_t>(c)];
        if (epilogue == Epilogue::QuickGelu) {
            for (int c = n0; c < n1; ++c) row[c] = row[c] / (1.0f + fast_exp(-1.702f * row[c]));
        } else if (epilogue == Epilogue::Gelu) {
            for (int c = n0; c < n1; ++c) row[c] = 0.5f * row[c] * (1.0f + fast_erf(row[c] * 0.70710678118654752f));
        }
    }
}

}  // namespace

void linear(const Team& team, const Linear& layer, const float* x, int m, int ldx, float* y, int ldy, bool accumulate,
            Epilogue epilogue, ThreadScratch& scratch) {
    auto [n0, n1] = team.share(layer.out(), 16);
    if (n0 >= n1 || m == 0) return;
    const int nc = n1 - n0, in = layer.in(), out = layer.out();
    const size_t esize = dtype_size(layer.w.dtype);
    const float beta = accumulate ? 1.0f : 0.0f;
    const float* w = nullptr;
    int ldw = 0;
    if (layer.out_in) {
        const std::byte* base = layer.w.data + static_cast<size_t>(n0) * in * esize;
        if (layer.w.direct()) {
            w = reinterpret_cast<const float*>(base);
        } else {
            to_f32(base, layer.w.dtype, nc, in, static_cast<size_t>(in), scratch.weights.data());
            w = scratch.weights.data();
        }
        ldw = in;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nc, in, 1.0f, x, ldx, w, ldw, beta, y + n0, ldy);
    } else {
        const std::byte* base = layer.w.data + static_cast<size_t>(n0) * esize;
        if (layer.w.direct()) {
            w = reinterpret_cast<const float*>(base);
            ldw = out;
        } else {
            to_f32(base, layer.w.dtype, in, nc, static_cast<size_t>(out), scratch.weights.data());
            w = scratch.weights.data();
            ldw = nc;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, nc, in, 1.0f, x, ldx, w, ldw, beta, y + n0, ldy);
    }
    apply_epilogue(y, m, ldy, n0, n1, layer.bias, epilogue);
}

namespace {

void softmax_rows(float* s, int rows, int cols, bool causal) {
    for (int i = 0; i < rows; ++i) {
        float* row = s + static_cast<size_t>(i) * cols;
        const int valid = causal ? i + 1 : cols;
        float mx = row[0];
        for (int j = 1; j < valid; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (int j = 0; j < valid; ++j) {
            row[j] = fast_exp(row[j] - mx);
            sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < valid; ++j) row[j] *= inv;
        for (int j = valid; j < cols; ++j) row[j] = 0.0f;
    }
}

}  // namespace

void attention(const Team& team, const float* qkv, const Sequences& seqs, int width, int heads, bool causal, float* out,
               ThreadScratch& scratch) {
    const int tasks = static_cast<int>(seqs.offset.size()) * heads;
    const int dh = width / heads;
    const int ld = 3 * width;
    const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
    auto [begin, end] = team.share(tasks);
    for (int task = begin; task < end; ++task) {
        const size_t s = static_cast<size_t>(task / heads);
        const int h = task % heads;
        const int len = seqs.length[s];
        const float* q = qkv + static_cast<size_t>(seqs.offset[s]) * ld + static_cast<size_t>(h) * dh;
        const float* k = q + width;
        const float* v = q + 2 * width;
        float* scores = scratch.scores.data();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, dh, scale, q, ld, k, ld, 0.0f, scores, len);
        softmax_rows(scores, len, len, causal);
        float* o = out + static_cast<size_t>(seqs.offset[s]) * width + static_cast<size_t>(h) * dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, dh, len, 1.0f, scores, len, v, ld, 0.0f, o, width);
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
