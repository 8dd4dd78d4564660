// Model runtime benchmark: load time, image throughput at several batch sizes, text latency
// percentiles, peak RSS. Prints one JSON object; bench/model_bench.py runs it beside open_clip.
//
// usage: model_bench MODEL_DIR [threads=2] [seconds_per_case=3] [at_load=0]
// at_load=1 converts F16/BF16 weights to F32 once at load instead of per call.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "clipdex/model.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Process CPU seconds: on a shared, loaded machine this is steadier than wall time.
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs fn until `budget` seconds have passed (at least `min_runs` times); returns each run's
// seconds.
template <typename Fn>
std::vector<double> time_runs(Fn fn, double budget, int min_runs) {
    std::vector<double> runs;
    auto begin = Clock::now();
    while (static_cast<int>(runs.size()) < min_runs || seconds_since(begin) < budget) {
        auto start = Clock::now();
        fn();
        runs.push_back(seconds_since(start));
    }
    return runs;
}

// VmHWM, not getrusage: ru_maxrss survives execve, so a child of a big Python process would
// report its parent's peak.
double peak_rss_mb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
    return 0.0;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double median(const std::vector<double>& v) {
    return percentile(v, 0.5);
}

std::vector<int32_t> text_ids(int tokens, int context, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> ids(static_cast<size_t>(context), 0);
    ids[0] = 49406;
    for (int i = 1; i <= tokens; ++i)
        ids[static_cast<size_t>(i)] = static_cast<int32_t>(rng() % 49000 + 256);
    ids[static_cast<size_t>(tokens + 1)] = 49407;
    return ids;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL_DIR [threads] [seconds_per_case] [at_load]\n",
                     argv[0]);
        return 2;
    }
    const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
    const double budget = argc > 3 ? std::atof(argv[3]) : 3.0;
    try {
        auto start = Clock::now();
        const bool at_load = argc > 4 && std::atoi(argv[4]) != 0;
        auto model =
            clipdex::ClipModel::load(argv[1], {.threads = threads, .half_to_f32_at_load = at_load});
        const double load_s = seconds_since(start);
        const auto& info = model->info();
        const size_t per_image = 3 * static_cast<size_t>(info.image_size) * info.image_size;
        std::mt19937 rng(1);
        std::normal_distribution<float> dist;
        std::vector<float> pixels(32 * per_image);
        for (float& p : pixels) p = dist(rng);
        std::printf("{\"load_s\": %.4f, \"weight_bytes\": %zu, \"threads\": %d", load_s,
                    info.weight_bytes, threads);
        for (int batch : {1, 8, 32}) {
            std::span<const float> in(pixels.data(), batch * per_image);
            model->encode_images(in, static_cast<size_t>(batch));  // warm-up
            const double cpu0 = cpu_seconds();
            auto runs =
                time_runs([&] { model->encode_images(in, static_cast<size_t>(batch)); }, budget, 3);
            const double cpu_per_image =
                (cpu_seconds() - cpu0) /
                static_cast<double>(runs.size() * static_cast<size_t>(batch));
            std::printf(", \"images_per_s_b%d\": %.3f, \"cpu_ms_per_image_b%d\": %.2f", batch,
                        batch / median(runs), batch, 1e3 * cpu_per_image);
        }
        for (auto [name, tokens] : {std::pair{"query8", 8}, std::pair{"text70", 68}}) {
            auto ids = text_ids(tokens, info.context_length, 7);
            model->encode_token_ids(ids, 1);
            const double cpu0 = cpu_seconds();
            auto runs = time_runs([&] { model->encode_token_ids(ids, 1); }, budget, 20);
            const double cpu_per_run = (cpu_seconds() - cpu0) / static_cast<double>(runs.size());
            std::printf(", \"%s_p50_ms\": %.3f, \"%s_p99_ms\": %.3f, \"%s_cpu_ms\": %.2f", name,
                        1e3 * percentile(runs, 0.5), name, 1e3 * percentile(runs, 0.99), name,
                        1e3 * cpu_per_run);
        }
        std::printf(", \"peak_rss_mb\": %.1f}\n", peak_rss_mb());
    } catch (const clipdex::Error& e) {
        std::fprintf(stderr, "model_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
