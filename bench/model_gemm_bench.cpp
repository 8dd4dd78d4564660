// GEMM library comparison on the ViT-B-32 tower's shapes (y = x W^T, W stored [out, in] as in
// the checkpoints), two threads. Each library is dlopen'ed with RTLD_LOCAL so that BLIS, OpenBLAS
// and oneDNN can sit in one process without their cblas symbols clashing.
//
// usage: model_gemm_bench [images=32] [seconds_per_case=1]
// Run it once with OMP_NUM_THREADS=2 (the one-call rows) and once with OMP_NUM_THREADS=1 (the
// per-thread oneDNN rows), OPENBLAS_CORETYPE=SkylakeX to give OpenBLAS its AVX-512 kernels.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*,
                            int, float, float*, int);
using DnnlSgemm = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
using SetThreads = void (*)(int);
using SetThreadsLong = void (*)(long);

void* open_lib(const char* path) {
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) std::fprintf(stderr, "skip %s: %s\n", path, dlerror());
    return h;
}

struct Shape {
    const char* name;
    int m, n, k;
};

// One call computing y[:, n0:n1] (or rows m0:m1) of the full product.
using Part = std::function<void(int m0, int m1, int n0, int n1)>;

double run_case(const std::function<void()>& fn, double budget) {
    using Clock = std::chrono::steady_clock;
    fn();
    int runs = 0;
    auto begin = Clock::now();
    double elapsed = 0.0;
    while (runs < 3 || elapsed < budget) {
        fn();
        ++runs;
        elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    }
    return elapsed / runs;
}

// Two std::threads, each calling a serial GEMM on its half of the columns (split_m false) or rows.
void two_threads(const Shape& s, bool split_m, const Part& part) {
    auto half = [&](int t) {
        if (split_m) {
            const int mid = (s.m / 2 + 7) / 8 * 8;
            part(t == 0 ? 0 : mid, t == 0 ? mid : s.m, 0, s.n);
        } else {
            const int mid = (s.n / 2 + 15) / 16 * 16;
            part(0, s.m, t == 0 ? 0 : mid, t == 0 ? mid : s.n);
        }
    };
    std::thread other(half, 1);
    half(0);
    other.join();
}

// A wrong product would make any speed meaningless: spot-check entries against a plain dot product.
void check(const Shape& s, const std::vector<float>& x, const std::vector<float>& w,
           const std::vector<float>& y) {
    for (int probe = 0; probe < 64; ++probe) {
        const int i = (probe * 7919) % s.m, j = (probe * 104729) % s.n;
        double want = 0.0;
        for (int k = 0; k < s.k; ++k)
            want += static_cast<double>(x[static_cast<size_t>(i) * s.k + k]) *
                    w[static_cast<size_t>(j) * s.k + k];
        const double got = y[static_cast<size_t>(i) * s.n + j];
        if (std::abs(got - want) > 1e-3 * (1.0 + std::abs(want))) {
            std::fprintf(stderr, "%s: y[%d][%d] = %g, expected %g\n", s.name, i, j, got, want);
            std::exit(1);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int images = argc > 1 ? std::atoi(argv[1]) : 32;
    const double budget = argc > 2 ? std::atof(argv[2]) : 1.0;
    const int t = 50 * images;
    const std::vector<Shape> shapes = {{"qkv", t, 2304, 768},
                                       {"attn out", t, 768, 768},
                                       {"mlp fc", t, 3072, 768},
                                       {"mlp proj", t, 768, 3072},
                                       {"patch", 49 * images, 768, 3072}};
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(t) * 3072), w(3072 * 3072),
        y(static_cast<size_t>(t) * 3072);
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);

    struct Variant {
        std::string name;
        std::function<void(const Shape&)> run;
    };
    std::vector<Variant> variants;
    const char* serial = "/usr/lib/x86_64-linux-gnu/blis-serial/libblis.so.4";
    if (void* h = open_lib(serial)) {
        auto gemm = reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"));
        auto part = [gemm, &x, &w, &y](const Shape& s) {
            return Part([gemm, &x, &w, &y, s](int m0, int m1, int n0, int n1) {
                gemm(kRowMajor, kNoTrans, kTrans, m1 - m0, n1 - n0, s.k, 1.0f,
                     x.data() + static_cast<size_t>(m0) * s.k, s.k,
                     w.data() + static_cast<size_t>(n0) * s.k, s.k, 0.0f,
                     y.data() + static_cast<size_t>(m0) * s.n + n0, s.n);
            });
        };
        variants.push_back({"BLIS serial, 2 threads split N",
                            [part](const Shape& s) { two_threads(s, false, part(s)); }});
        variants.push_back({"BLIS serial, 2 threads split M",
                            [part](const Shape& s) { two_threads(s, true, part(s)); }});
    }
    if (void* h = open_lib("/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4")) {
        auto gemm = reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"));
        reinterpret_cast<SetThreadsLong>(dlsym(h, "bli_thread_set_num_threads"))(2);
        variants.push_back({"BLIS OpenMP, one call, 2 threads", [gemm, &x, &w, &y](const Shape& s) {
                                gemm(kRowMajor, kNoTrans, kTrans, s.m, s.n, s.k, 1.0f, x.data(),
                                     s.k, w.data(), s.k, 0.0f, y.data(), s.n);
                            }});
    }
    if (void* h = open_lib("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0")) {
        auto gemm = reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"));
        reinterpret_cast<SetThreads>(dlsym(h, "openblas_set_num_threads"))(2);
        auto core = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_corename"));
        variants.push_back({std::string("OpenBLAS (") + core() + "), one call, 2 threads",
                            [gemm, &x, &w, &y](const Shape& s) {
                                gemm(kRowMajor, kNoTrans, kTrans, s.m, s.n, s.k, 1.0f, x.data(),
                                     s.k, w.data(), s.k, 0.0f, y.data(), s.n);
                            }});
    }
    if (void* h = open_lib("/usr/lib/x86_64-linux-gnu/libdnnl.so.2")) {
        auto gemm = reinterpret_cast<DnnlSgemm>(dlsym(h, "dnnl_sgemm"));
        auto part = [gemm, &x, &w, &y](const Shape& s) {
            return Part([gemm, &x, &w, &y, s](int m0, int m1, int n0, int n1) {
                const int status = gemm('N', 'T', m1 - m0, n1 - n0, s.k, 1.0f,
                                        x.data() + static_cast<size_t>(m0) * s.k, s.k,
                                        w.data() + static_cast<size_t>(n0) * s.k, s.k, 0.0f,
                                        y.data() + static_cast<size_t>(m0) * s.n + n0, s.n);
                if (status != 0) {
                    std::fprintf(stderr, "dnnl_sgemm %s: status %d\n", s.name, status);
                    std::exit(1);
                }
            });
        };
        const char* omp = std::getenv("OMP_NUM_THREADS");
        const std::string omp_threads = omp ? omp : "default";
        variants.push_back({"oneDNN dnnl_sgemm, one call, OMP " + omp_threads,
                            [part](const Shape& s) { part(s)(0, s.m, 0, s.n); }});
        variants.push_back({"oneDNN, 2 threads split N, OMP " + omp_threads,
                            [part](const Shape& s) { two_threads(s, false, part(s)); }});
        variants.push_back({"oneDNN, 2 threads split M, OMP " + omp_threads,
                            [part](const Shape& s) { two_threads(s, true, part(s)); }});
    }

    std::printf("GFLOP/s with 2 threads, %d images (%d rows)\n\n| variant |", images, t);
    for (const Shape& s : shapes) std::printf(" %s %dx%dx%d |", s.name, s.m, s.n, s.k);
    std::printf(" all (weighted) |\n|---|");
    for (size_t i = 0; i <= shapes.size(); ++i) std::printf("---|");
    std::printf("\n");
    for (const Variant& v : variants) {
        std::printf("| %s |", v.name.c_str());
        double flops_all = 0.0, seconds_all = 0.0;
        for (const Shape& s : shapes) {
            std::fill(y.begin(), y.end(), 0.0f);
            const double seconds = run_case([&] { v.run(s); }, budget);
            check(s, x, w, y);
            const double flops = 2.0 * s.m * s.n * s.k;
            // Per image: qkv, out, fc, proj once per layer (x12); the patch GEMM once.
            const double weight = s.name == std::string("patch") ? 1.0 : 12.0;
            flops_all += weight * flops;
            seconds_all += weight * seconds;
            std::printf(" %.1f |", flops / seconds * 1e-9);
            std::fflush(stdout);
        }
        std::printf(" %.1f |\n", flops_all / seconds_all * 1e-9);
    }
    return 0;
}
