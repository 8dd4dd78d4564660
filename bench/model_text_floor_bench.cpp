// The floor under the text tower's latency: the same GEMMs as a ViT-B-32 text query of
// `tokens` tokens (12 blocks of qkv, out, fc1, fc2; the last block's out and MLP on the
// end-of-text row only; the projection), through the product's own linear() with packed F32
// weights and its team of threads, and nothing else: no layer norm, attention or embedding. The
// whole tower cannot be faster than this; bench/model_bench.py measures the whole tower.
//
// Also the rate of the largest of these GEMMs with enough rows to reach the kernels' peak, and
// the time to read the text weights' bytes once (they are streamed every query).
//
// usage: model_text_floor_bench [tokens=70] [threads=2] [seconds=3]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "model/clip_weights.h"
#include "model/kernels.h"

namespace {

using namespace clipdex::model;
using Clock = std::chrono::steady_clock;

constexpr int kWidth = 512, kMlp = 2048, kLayers = 12;

struct Layer {
    std::vector<float> storage;
    Linear linear;
};

Layer make_layer(int in, int out, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
    Layer l;
    l.storage.resize(static_cast<size_t>(in) * out);
    for (float& v : l.storage) v = dist(rng);
    l.linear.w = Matrix{reinterpret_cast<const std::byte*>(l.storage.data()), DType::F32, out, in};
    l.linear.bias.assign(static_cast<size_t>(out), 0.01f);
    return l;
}

// Seconds of each of `runs` calls, sorted.
template <typename Fn>
std::vector<double> time_runs(Fn fn, double budget) {
    fn();
    std::vector<double> runs;
    auto begin = Clock::now();
    while (runs.size() < 20 ||
           std::chrono::duration<double>(Clock::now() - begin).count() < budget) {
        auto start = Clock::now();
        fn();
        runs.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::sort(runs.begin(), runs.end());
    return runs;
}

}  // namespace

int main(int argc, char** argv) {
    const int tokens = argc > 1 ? std::atoi(argv[1]) : 70;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
    const double budget = argc > 3 ? std::atof(argv[3]) : 3.0;
    const int rows = tokens + 2;  // start and end of text
    std::mt19937 rng(1);
    std::vector<Layer> layers;
    for (int i = 0; i < kLayers; ++i) {
        layers.push_back(make_layer(kWidth, 3 * kWidth, rng));
        layers.push_back(make_layer(kWidth, kWidth, rng));
        layers.push_back(make_layer(kWidth, kMlp, rng));
        layers.push_back(make_layer(kMlp, kWidth, rng));
    }
    layers.push_back(make_layer(kWidth, kWidth, rng));  // projection
    std::vector<Linear*> to_pack;
    for (Layer& l : layers) to_pack.push_back(&l.linear);
    const int packed = pack_weights(to_pack, threads, nullptr);

    const auto r = static_cast<size_t>(rows);
    std::vector<float> x(r * kWidth, 0.1f), attn(r * kWidth, 0.1f), qkv(r * 3 * kWidth),
        y(r * kMlp);
    double flops = 0;
    auto gemms = [&](const Team& team) {
        for (int i = 0; i < kLayers; ++i) {
            const int m = i + 1 < kLayers ? rows : 1;  // the last block past qkv: one row
            linear(team, layers[static_cast<size_t>(4 * i)].linear, x.data(), rows, kWidth,
                   qkv.data(), 3 * kWidth, false, Epilogue::None, nullptr);
            team.sync();
            linear(team, layers[static_cast<size_t>(4 * i + 1)].linear, attn.data(), m, kWidth,
                   x.data(), kWidth, true, Epilogue::None, nullptr);
            team.sync();
            linear(team, layers[static_cast<size_t>(4 * i + 2)].linear, x.data(), m, kWidth,
                   y.data(), kMlp, false, Epilogue::QuickGelu, nullptr);
            team.sync();
            linear(team, layers[static_cast<size_t>(4 * i + 3)].linear, y.data(), m, kMlp, x.data(),
                   kWidth, true, Epilogue::None, nullptr);
            team.sync();
        }
        linear(team, layers.back().linear, x.data(), 1, kWidth, y.data(), kWidth, false,
               Epilogue::None, nullptr);
    };
    for (int i = 0; i < kLayers; ++i) {
        const double m = i + 1 < kLayers ? rows : 1;
        flops +=
            2.0 * rows * kWidth * 3 * kWidth + 2.0 * m * (kWidth * kWidth + 2.0 * kWidth * kMlp);
    }
    auto text = time_runs([&] { run_team(threads, gemms); }, budget);

    // The same qkv GEMM on 1,024 rows: the rate the kernels reach when rows are plentiful.
    std::vector<float> big_x(1024 * static_cast<size_t>(kWidth), 0.1f),
        big_y(1024 * 3 * static_cast<size_t>(kWidth));
    auto big = time_runs(
        [&] {
            run_team(threads, [&](const Team& team) {
                linear(team, layers[0].linear, big_x.data(), 1024, kWidth, big_y.data(), 3 * kWidth,
                       false, Epilogue::None, nullptr);
            });
        },
        budget / 2);
    const double big_flops = 2.0 * 1024 * kWidth * 3 * kWidth;

    // Reading the text weights' bytes once, every thread its share (the packed copies are the
    // same size as these).
    size_t weight_floats = 0;
    for (const Layer& l : layers) weight_floats += l.storage.size();
    std::vector<uint32_t> sums(static_cast<size_t>(threads));
    auto stream = time_runs(
        [&] {
            run_team(threads, [&](const Team& team) {
                uint32_t s = 0;  // integer xor: vectorized, so memory is the limit
                for (const Layer& l : layers) {
                    auto [a, b] = team.share(static_cast<int>(l.storage.size()), 16);
                    const auto* words = reinterpret_cast<const uint32_t*>(l.storage.data());
                    s ^= std::accumulate(words + a, words + b, 0u, std::bit_xor<>());
                }
                sums[static_cast<size_t>(team.tid())] = s;
            });
        },
        budget / 2);

    auto p50 = [](const std::vector<double>& v) { return v[v.size() / 2]; };
    std::printf(
        "{\"tokens\": %d, \"threads\": %d, \"packed_layers\": %d, \"gemm_gflop\": %.3f, "
        "\"gemm_only_p50_ms\": %.3f, \"gemm_only_min_ms\": %.3f, \"gemm_only_gflops\": %.1f, "
        "\"qkv_1024_rows_gflops\": %.1f, \"weight_mb\": %.1f, \"weights_read_p50_ms\": %.3f, "
        "\"checksum\": %u}\n",
        tokens, threads, packed, flops * 1e-9, 1e3 * p50(text), 1e3 * text.front(),
        flops / p50(text) * 1e-9, big_flops / p50(big) * 1e-9, weight_floats * 4.0 / 1e6,
        1e3 * p50(stream), sums[0] ^ static_cast<uint32_t>(y[0] != 0));
    return 0;
}
