// Every kernel against a plain reference implementation, on one and several threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/kernels.h"

using namespace clipdex::model;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

uint16_t to_half(float f) {  // round-to-nearest for normal values in range, enough for tests
    uint32_t b;
    std::memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000u;
    int exp = static_cast<int>((b >> 23) & 0xff) - 127 + 15;
    uint32_t mant = b & 0x7fffffu;
    if (exp <= 0) return static_cast<uint16_t>(sign);
    uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
    if (mant & 0x1000u) ++h;
    return static_cast<uint16_t>(h);
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "at " << i;
}

class Kernels : public ::testing::TestWithParam<int> {};

}  // namespace

TEST(Convert, HalfAndBfloatSpecialValues) {
    const uint16_t halves[] = {0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001,
                               0x03ff, 0x7c00, 0xfc00, 0x3555, 0x1234, 0x4321,
                               0x5555, 0x0400, 0x8400, 0xabcd, 0x7e00};
    const float want[] = {0.0f,
                          -0.0f,
                          1.0f,
                          -2.0f,
                          65504.0f,
                          5.9604645e-8f,
                          6.0975552e-5f,
                          INFINITY,
                          -INFINITY,
                          0.333251953125f,
                          7.572174072265625e-4f,
                          3.564453125f,
                          85.3125f,
                          6.103515625e-5f,
                          -6.103515625e-5f,
                          -0.060943603515625f,
                          NAN};  // numpy's float16 -> float32
    std::vector<std::byte> src(sizeof halves);
    std::memcpy(src.data(), halves, sizeof halves);
    std::vector<float> out(std::size(halves));
    to_f32(src.data(), DType::F16, 1, static_cast<int>(out.size()), out.size(), out.data());
    for (size_t i = 0; i < out.size(); ++i) {
        float single = 0.0f;  // one element at a time takes the scalar path even where F16C exists
        to_f32(src.data() + 2 * i, DType::F16, 1, 1, 1, &single);
        if (std::isnan(want[i])) {
            EXPECT_TRUE(std::isnan(out[i]) && std::isnan(single));
        } else {
            EXPECT_EQ(out[i], want[i]) << "half " << std::hex << halves[i];
            EXPECT_EQ(single, want[i]) << "half " << std::hex << halves[i];
        }
    }
    const uint16_t bf[] = {0x3f80, 0xc040, 0x0000};
    std::memcpy(src.data(), bf, sizeof bf);
    to_f32(src.data(), DType::BF16, 1, 3, 3, out.data());
    EXPECT_EQ(out[0], 1.0f);
    EXPECT_EQ(out[1], -3.0f);
    EXPECT_EQ(out[2], 0.0f);
}

TEST_P(Kernels, LayerNormMatchesReference) {
    const int threads = GetParam(), rows = 7, width = 37;
    auto x = random_vector(static_cast<size_t>(rows * width), 1, 3.0f);
    Norm norm{random_vector(width, 2), random_vector(width, 3)};
    std::vector<int> picked = {6, 0, 3};
    std::vector<float> got(picked.size() * width), want(picked.size() * width);
    run_team(threads, [&](const Team& team) {
        layer_norm_rows(team, x.data(), picked, width, norm, 1e-5f, got.data());
    });
    for (size_t i = 0; i < picked.size(); ++i) {
        const float* r = x.data() + picked[i] * width;
        double mean = 0, var = 0;
        for (int j = 0; j < width; ++j) mean += r[j];
        mean /= width;
        for (int j = 0; j < width; ++j) var += (r[j] - mean) * (r[j] - mean);
        var /= width;
        for (int j = 0; j < width; ++j)
            want[i * width + j] = static_cast<float>(
                (r[j] - mean) / std::sqrt(var + 1e-5) * norm.gamma[j] + norm.beta[j]);
    }
    expect_near(got, want, 1e-4f);
}

// m = 5 splits the output columns over the threads; m = 400 splits the rows (with a tail that
// is not a multiple of the row block) and has the team convert F16 weights together.
void check_linear(int threads, int m);

TEST_P(Kernels, LinearMatchesReferenceForEveryLayoutAndType) {
    check_linear(GetParam(), 5);
    check_linear(GetParam(), 400);
}

void check_linear(int threads, int m) {
    const int in = 24, out = 40;
    auto x = random_vector(static_cast<size_t>(m * in), 4);
    auto w = random_vector(static_cast<size_t>(out * in), 5, 0.2f);
    // Round to half precision first so that the F16 weights hold the same values.
    std::vector<uint16_t> half(w.size());
    for (size_t i = 0; i < w.size(); ++i) half[i] = to_half(w[i]);
    std::vector<std::byte> half_bytes(half.size() * 2);
    std::memcpy(half_bytes.data(), half.data(), half_bytes.size());
    to_f32(half_bytes.data(), DType::F16, 1, static_cast<int>(w.size()), w.size(), w.data());
    std::vector<float> wt(w.size());  // [in, out]
    for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i)
            wt[static_cast<size_t>(i * out + o)] = w[static_cast<size_t>(o * in + i)];
    std::vector<std::byte> half_t(half_bytes.size());
    for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i)
            std::memcpy(&half_t[static_cast<size_t>(i * out + o) * 2],
                        &half[static_cast<size_t>(o * in + i)], 2);
    auto bias = random_vector(out, 6);
    for (Epilogue epilogue : {Epilogue::None, Epilogue::QuickGelu, Epilogue::Gelu}) {
        std::vector<float> want(static_cast<size_t>(m * out));
        for (int r = 0; r < m; ++r)
            for (int o = 0; o < out; ++o) {
                double acc = bias[static_cast<size_t>(o)];
                for (int i = 0; i < in; ++i)
                    acc += static_cast<double>(x[static_cast<size_t>(r * in + i)]) *
                           w[static_cast<size_t>(o * in + i)];
                double v = acc;
                if (epilogue == Epilogue::QuickGelu) v = acc / (1 + std::exp(-1.702 * acc));
                if (epilogue == Epilogue::Gelu)
                    v = 0.5 * acc * (1 + std::erf(acc / std::sqrt(2.0)));
                want[static_cast<size_t>(r * out + o)] = static_cast<float>(v);
            }
        struct Case {
            const std::byte* data;
            DType dtype;
            bool out_in;
        } cases[] = {{reinterpret_cast<const std::byte*>(w.data()), DType::F32, true},
                     {reinterpret_cast<const std::byte*>(wt.data()), DType::F32, false},
                     {half_bytes.data(), DType::F16, true},
                     {half_t.data(), DType::F16, false}};
        for (const Case& c : cases) {
            Linear layer;
            layer.w = Matrix{c.data, c.dtype, c.out_in ? out : in, c.out_in ? in : out};
            layer.out_in = c.out_in;
            layer.bias = bias;
            std::vector<float> got(static_cast<size_t>(m * out));
            std::vector<float> converted(weight_scratch_floats(layer));
            run_team(threads, [&](const Team& team) {
                linear(team, layer, x.data(), m, in, got.data(), out, false, epilogue,
                       converted.data());
            });
            expect_near(got, want, 1e-4f);
        }
    }
}

// F32 weights packed for oneDNN's matmul primitive: in = 40 (not a multiple of the 16-row
// blocks), out = 200 (64-column panels with a short last one). m = 7 splits panels over the
// threads, m = 300 rows; ldx/ldy wider than the matrices (as in a fused qkv output) and the
// residual add (accumulate) take the copy paths.
void check_packed_linear(int threads, int m, bool out_in, bool strided, bool accumulate,
                         Epilogue epilogue) {
    const int in = 40, out = 200;
    const int ldx = strided ? in + 8 : in, ldy = strided ? out + 24 : out;
    auto x = random_vector(static_cast<size_t>(m) * ldx, 14);
    auto w = random_vector(static_cast<size_t>(out * in), 15, 0.2f);  // [out, in]
    std::vector<float> stored(w.size());
    for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i)
            stored[out_in ? static_cast<size_t>(o * in + i) : static_cast<size_t>(i * out + o)] =
                w[static_cast<size_t>(o * in + i)];
    auto bias = random_vector(out, 16);
    auto before = random_vector(static_cast<size_t>(m) * ldy, 17);
    std::vector<float> want = before;
    for (int r = 0; r < m; ++r)
        for (int o = 0; o < out; ++o) {
            double acc = bias[static_cast<size_t>(o)];
            for (int i = 0; i < in; ++i)
                acc += static_cast<double>(x[static_cast<size_t>(r * ldx + i)]) *
                       w[static_cast<size_t>(o * in + i)];
            if (epilogue == Epilogue::QuickGelu) acc = acc / (1 + std::exp(-1.702 * acc));
            if (epilogue == Epilogue::Gelu) acc = 0.5 * acc * (1 + std::erf(acc / std::sqrt(2.0)));
            float& y = want[static_cast<size_t>(r * ldy + o)];
            y = static_cast<float>(accumulate ? y + acc : acc);
        }
    Linear layer;
    layer.w = Matrix{reinterpret_cast<const std::byte*>(stored.data()), DType::F32,
                     out_in ? out : in, out_in ? in : out};
    layer.out_in = out_in;
    layer.bias = bias;
    Linear* layers[] = {&layer};
    int released = 0;
    ASSERT_EQ(pack_weights(layers, threads, [&](const Linear&) { ++released; }), 1);
    ASSERT_TRUE(layer.packed);
    EXPECT_EQ(released, 1);
    std::fill(stored.begin(), stored.end(), NAN);  // packed: the original is never read again
    std::vector<float> got = before;
    run_team(threads, [&](const Team& team) {
        linear(team, layer, x.data(), m, ldx, got.data(), ldy, accumulate, epilogue, nullptr);
    });
    expect_near(got, want, 1e-4f);
}

TEST_P(Kernels, PackedLinearMatchesReference) {
    if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "oneDNN packs only for brgemm";
    for (int m : {7, 300})
        for (bool out_in : {true, false})
            for (bool strided : {false, true}) {
                SCOPED_TRACE(::testing::Message()
                             << "m " << m << " out_in " << out_in << " strided " << strided);
                check_packed_linear(GetParam(), m, out_in, strided, false, Epilogue::None);
                check_packed_linear(GetParam(), m, out_in, strided, true, Epilogue::None);
                check_packed_linear(GetParam(), m, out_in, strided, false, Epilogue::QuickGelu);
                check_packed_linear(GetParam(), m, out_in, strided, false, Epilogue::Gelu);
            }
}

// Head width 8 takes the GEMM path; 64 (CLIP's) the AVX-512 kernels where the CPU has them, with
// lengths around the 16-wide chunks and the 8- and 4-row blocks (50 is ViT-B-32's, 77 the text's).
void check_attention(int threads, int width, int heads, const std::vector<int>& lengths);

TEST_P(Kernels, AttentionMatchesReference) {
    check_attention(GetParam(), 32, 4, {5, 3});
    check_attention(GetParam(), 128, 2, {50, 1, 17, 77, 16});
}

void check_attention(int threads, int width, int heads, const std::vector<int>& lengths) {
    const int dh = width / heads;
    Sequences seqs;
    int rows = 0, longest = 0;
    for (int len : lengths) {
        seqs.offset.push_back(rows);
        seqs.length.push_back(len);
        rows += len;
        longest = std::max(longest, len);
    }
    auto qkv = random_vector(static_cast<size_t>(rows * 3 * width), 7);
    for (bool causal : {false, true}) {
        std::vector<float> got(static_cast<size_t>(rows * width)), want(got.size());
        std::vector<std::vector<float>> scratch(static_cast<size_t>(threads));
        for (auto& s : scratch) s.resize(attention_scratch_floats(longest, dh));
        run_team(threads, [&](const Team& team) {
            attention(team, qkv.data(), seqs, width, heads, causal, got.data(),
                      scratch[static_cast<size_t>(team.tid())].data());
        });
        for (size_t s = 0; s < lengths.size(); ++s)
            for (int h = 0; h < heads; ++h)
                for (int i = 0; i < seqs.length[s]; ++i) {
                    const int qi = seqs.offset[s] + i;
                    std::vector<double> p(static_cast<size_t>(seqs.length[s]), 0.0);
                    double mx = -1e300, sum = 0;
                    const int valid = causal ? i + 1 : seqs.length[s];
                    for (int j = 0; j < valid; ++j) {
                        const int kj = seqs.offset[s] + j;
                        double dot = 0;
                        for (int d = 0; d < dh; ++d)
                            dot += qkv[static_cast<size_t>(qi * 3 * width + h * dh + d)] *
                                   qkv[static_cast<size_t>(kj * 3 * width + width + h * dh + d)];
                        p[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(dh));
                        mx = std::max(mx, p[static_cast<size_t>(j)]);
                    }
                    for (int j = 0; j < valid; ++j)
                        sum += p[static_cast<size_t>(j)] = std::exp(p[static_cast<size_t>(j)] - mx);
                    for (int d = 0; d < dh; ++d) {
                        double acc = 0;
                        for (int j = 0; j < valid; ++j)
                            acc += p[static_cast<size_t>(j)] / sum *
                                   qkv[static_cast<size_t>((seqs.offset[s] + j) * 3 * width +
                                                           2 * width + h * dh + d)];
                        want[static_cast<size_t>(qi * width + h * dh + d)] =
                            static_cast<float>(acc);
                    }
                }
        expect_near(got, want, 1e-5f);
    }
}

TEST_P(Kernels, L2NormalizeAndShares) {
    const int threads = GetParam();
    std::vector<float> x = {3, 4, 0, 0, 0, 0, 1, 1, 1};
    run_team(threads, [&](const Team& team) { l2_normalize_rows(team, x.data(), 3, 3); });
    EXPECT_FLOAT_EQ(x[0], 0.6f);
    EXPECT_FLOAT_EQ(x[3], 0.0f);  // zero rows stay zero instead of becoming NaN
    EXPECT_NEAR(x[6], 1 / std::sqrt(3.0f), 1e-6f);
    std::barrier<> unused(1);
    int covered = 0;
    for (int t = 0; t < threads; ++t) {
        auto [b, e] = Team(t, threads, &unused).share(100, 16);
        EXPECT_EQ(b % 16, 0);
        covered += e - b;
    }
    EXPECT_EQ(covered, 100);
}

INSTANTIATE_TEST_SUITE_P(Threads, Kernels, ::testing::Values(1, 2, 3));
