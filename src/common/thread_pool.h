// A fixed set of worker threads running submitted tasks in FIFO order.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace clipdex {

class ThreadPool {
  public:
    explicit ThreadPool(size_t threads);
    ~ThreadPool();  // finishes queued tasks, then joins
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // The future carries the task's result or its exception.
    template <class F>
    auto submit(F task) -> std::future<decltype(task())> {
        using Result = decltype(task());
        auto packaged = std::make_shared<std::packaged_task<Result()>>(std::move(task));
        std::future<Result> future = packaged->get_future();
        enqueue([packaged] { (*packaged)(); });
        return future;
    }

    size_t size() const { return workers_.size(); }

  private:
    void enqueue(std::function<void()> job);
    void work();

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace clipdex
