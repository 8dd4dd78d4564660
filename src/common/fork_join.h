// Fork-join over a few threads, for work split into as many parts as there are cores (scans,
// bulk loads): no pool, because these calls are rare and each part runs for milliseconds at least.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace clipdex {

// Runs body(t) for every t in [0, threads): t = 0 on the calling thread, the others on threads of
// their own. Returns when all have finished, rethrowing the first exception (lowest t) any threw.
template <typename Body>
void fork_join(size_t threads, Body&& body) {
    if (threads <= 1) {
        body(size_t{0});
        return;
    }
    std::vector<std::exception_ptr> errors(threads);
    auto guarded = [&](size_t t) {
        try {
            body(t);
        } catch (...) {
            errors[t] = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(guarded, t);
    guarded(0);
    for (auto& th : pool) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

// Splits [0, n) into `threads` contiguous ranges, each a whole number of `align` items (the last
// may be shorter), and runs body(t, begin, end) under fork_join for every range that is not empty.
template <typename Body>
void fork_join_ranges(size_t n, size_t threads, size_t align, Body&& body) {
    threads = std::max<size_t>(threads, 1);
    const size_t step = ((n + threads - 1) / threads + align - 1) / align * align;
    fork_join(threads, [&](size_t t) {
        const size_t begin = std::min(n, t * step), end = std::min(n, begin + step);
        if (begin < end) body(t, begin, end);
    });
}

}  // namespace clipdex
