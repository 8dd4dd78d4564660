// ThreadPool: results and exceptions come back through the futures; the destructor finishes
// the queued tasks before joining.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "common/thread_pool.h"

namespace clipdex {
namespace {

TEST(ThreadPool, ResultsAndExceptionsReachTheFutures) {
    ThreadPool pool(3);
    std::vector<std::future<int>> futures;
    for (int i = 0; i < 100; ++i) futures.push_back(pool.submit([i] { return i * i; }));
    for (int i = 0; i < 100; ++i) EXPECT_EQ(futures[i].get(), i * i);
    auto failing = pool.submit([]() -> int { throw std::runtime_error("task failed"); });
    EXPECT_THROW(failing.get(), std::runtime_error);
    EXPECT_EQ(pool.submit([] { return 7; }).get(), 7);  // a failed task does not kill a worker
}

TEST(ThreadPool, DestructorRunsEveryQueuedTask) {
    std::atomic<int> ran{0};
    {
        ThreadPool pool(2);
        for (int i = 0; i < 1000; ++i) pool.submit([&ran] { ran.fetch_add(1); });
    }
    EXPECT_EQ(ran.load(), 1000);
}

}  // namespace
}  // namespace clipdex
