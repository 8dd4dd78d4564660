// svg_render_bench <folder> [rounds]: milliseconds per SVG rendered in this process (librsvg
// directly, as clipdex did before issue #12) and through clipdex-svg-worker (decode_image), on
// one thread and on every hardware thread, with the pixels of both paths compared.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "image/image.h"
#include "image/worker/render_svg.h"

namespace ci = clipdex::image;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double ms_per_item(size_t items, int threads, F&& render_range) {
    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { render_range(t, threads); });
    for (auto& th : pool) th.join();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count() /
           static_cast<double>(items);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: svg_render_bench <folder of .svg> [rounds]\n");
        return 2;
    }
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
    std::vector<std::vector<uint8_t>> svgs;
    for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
        if (e.path().extension() != ".svg") continue;
        std::ifstream in(e.path(), std::ios::binary);
        svgs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (svgs.empty()) return 2;
    const auto first = Clock::now();
    ci::decode_image(svgs[0], "bench.svg");  // starts the first worker
    const double first_ms = std::chrono::duration<double, std::milli>(Clock::now() - first).count();
    size_t mismatches = 0;
    for (const auto& s : svgs)
        mismatches += ci::decode_image(s, "bench.svg").rgb != ci::worker::render_svg(s, {}).rgb;
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::printf("%zu SVGs, %d rounds, pixel mismatches %zu, first SVG (starts a worker) %.1f ms\n",
                svgs.size(), rounds, mismatches, first_ms);
    for (const int threads : {1, hw}) {
        double in_process = 1e9, isolated = 1e9;
        for (int r = 0; r < rounds; ++r) {
            in_process = std::min(in_process, ms_per_item(svgs.size(), threads, [&](int t, int n) {
                                      for (size_t i = t; i < svgs.size(); i += n)
                                          ci::worker::render_svg(svgs[i], {});
                                  }));
            isolated = std::min(isolated, ms_per_item(svgs.size(), threads, [&](int t, int n) {
                                    for (size_t i = t; i < svgs.size(); i += n)
                                        ci::decode_image(svgs[i], "bench.svg");
                                }));
        }
        std::printf("threads %d: in-process %.3f ms/SVG, worker %.3f ms/SVG (+%.3f ms)\n", threads,
                    in_process, isolated, isolated - in_process);
    }
    return mismatches == 0 ? 0 : 1;
}
