// Fork-join over a few threads, for work split into as many parts as there are cores (scans,
// bulk loads): no pool, because these calls are rare and each part runs for milliseconds at least.
#pragma once

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

}  // namespace clipdex
