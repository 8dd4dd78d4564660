// Dynamic batching for the encoder service: requests that arrive within `max_wait` of the first
// waiting one are handed to the encode function together, at most `max_batch` items at a time,
// so many clients sending one input each share the model's batch throughput, and a lone request
// waits at most `max_wait` before its batch starts.
//
// One dispatcher thread takes batches off the queue and calls the encode function; callers block
// in encode() until their own items are done. The encode function returns one vector per item
// or throws; when a batch of several items throws, each item is encoded alone, so a bad input
// fails only its own item (its Outcome carries the exception) and the others still get vectors.
//
//   Batcher<std::string> batcher({.max_batch = 32, .max_wait = 5ms},
//       [&](std::span<const std::string> texts) { return encode_each(texts); });
//   std::vector<Outcome> out = batcher.encode({"a cat", "a dog"});
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace clipdex::encoder_service {

struct BatchOptions {
    size_t max_batch = 32;
    std::chrono::microseconds max_wait{5000};
};

// One item's result: its vector, or the error that refused it.
struct Outcome {
    std::vector<float> vector;
    std::exception_ptr error;
};

struct BatchStats {
    uint64_t batches = 0;
    uint64_t items = 0;
    size_t largest = 0;
    std::map<size_t, uint64_t> sizes;  // batch size -> how many batches had it
};

template <class In>
class Batcher {
  public:
    using EncodeFn = std::function<std::vector<std::vector<float>>(std::span<const In>)>;

    Batcher(const BatchOptions& options, EncodeFn encode)
        : options_(options), encode_(std::move(encode)) {
        options_.max_batch = std::max<size_t>(1, options_.max_batch);
        dispatcher_ = std::thread([this] { dispatch(); });
    }

    ~Batcher() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        dispatcher_.join();
    }

    Batcher(const Batcher&) = delete;
    Batcher& operator=(const Batcher&) = delete;

    // Queues `items` and waits until every one of them has its outcome (input order).
    std::vector<Outcome> encode(std::vector<In> items) {
        std::vector<std::future<Outcome>> futures;
        futures.reserve(items.size());
        {
            std::lock_guard lock(mutex_);
            const auto now = std::chrono::steady_clock::now();
            for (auto& item : items) {
                queue_.push_back({std::move(item), {}, now});
                futures.push_back(queue_.back().promise.get_future());
            }
        }
        wake_.notify_all();
        std::vector<Outcome> outcomes;
        outcomes.reserve(futures.size());
        for (auto& future : futures) outcomes.push_back(future.get());
        return outcomes;
    }

    BatchStats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }

    const BatchOptions& options() const { return options_; }

  private:
    struct Pending {
        In input;
        std::promise<Outcome> promise;
        std::chrono::steady_clock::time_point arrived;
    };

    void dispatch() {
        std::unique_lock lock(mutex_);
        while (true) {
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and nothing left
            // The oldest waiting item sets the deadline; a full batch goes at once.
            const auto deadline = queue_.front().arrived + options_.max_wait;
            wake_.wait_until(lock, deadline,
                             [&] { return stopping_ || queue_.size() >= options_.max_batch; });
            const size_t take = std::min(options_.max_batch, queue_.size());
            std::vector<Pending> batch;
            batch.reserve(take);
            for (size_t i = 0; i < take; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            ++stats_.batches;
            stats_.items += take;
            stats_.largest = std::max(stats_.largest, take);
            ++stats_.sizes[take];
            lock.unlock();
            run(batch);
            lock.lock();
        }
    }

    void run(std::vector<Pending>& batch) {
        std::vector<In> inputs;
        inputs.reserve(batch.size());
        for (auto& pending : batch) inputs.push_back(std::move(pending.input));
        try {
            auto vectors = encode_(std::span<const In>(inputs));
            if (vectors.size() != inputs.size())
                throw std::logic_error("encoder returned " + std::to_string(vectors.size()) +
                                       " vectors for " + std::to_string(inputs.size()) + " inputs");
            for (size_t i = 0; i < batch.size(); ++i)
                batch[i].promise.set_value({std::move(vectors[i]), nullptr});
            return;
        } catch (...) {
            if (batch.size() == 1) {
                batch[0].promise.set_value({{}, std::current_exception()});
                return;
            }
        }
        // One item spoiled the batch: encode each alone so only that one fails.
        for (size_t i = 0; i < batch.size(); ++i) {
            try {
                auto vectors = encode_(std::span<const In>(&inputs[i], 1));
                if (vectors.size() != 1) throw std::logic_error("encoder returned no vector");
                batch[i].promise.set_value({std::move(vectors[0]), nullptr});
            } catch (...) {
                batch[i].promise.set_value({{}, std::current_exception()});
            }
        }
    }

    BatchOptions options_;
    EncodeFn encode_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    BatchStats stats_;
    bool stopping_ = false;
    std::thread dispatcher_;
};

}  // namespace clipdex::encoder_service
