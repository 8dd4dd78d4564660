#include "encoder_service/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "clipdex/error.h"

namespace clipdex::encoder_service {
namespace {

using namespace std::chrono_literals;

// A fake encoder: each input number n becomes the vector {n, n + 0.5}; a negative number is a
// bad input that spoils the whole call, as a too-long text spoils the text tower's batch.
struct FakeEncoder {
    std::atomic<int> calls{0};
    std::chrono::milliseconds cost{0};

    std::vector<std::vector<float>> operator()(std::span<const int> inputs) {
        ++calls;
        std::this_thread::sleep_for(cost);
        std::vector<std::vector<float>> out;
        for (int n : inputs) {
            if (n < 0)
                throw Error(ErrorCode::InvalidInput, "input " + std::to_string(n) + " is bad");
            out.push_back({static_cast<float>(n), static_cast<float>(n) + 0.5f});
        }
        return out;
    }
};

TEST(BatcherTest, SixteenConcurrentSingleRequestsShareFewBatches) {
    FakeEncoder fake;
    fake.cost = 20ms;
    Batcher<int> batcher({.max_batch = 32, .max_wait = 50ms},
                         [&](std::span<const int> in) { return fake(in); });
    std::vector<std::thread> clients;
    std::vector<std::vector<Outcome>> results(16);
    for (int i = 0; i < 16; ++i)
        clients.emplace_back([&, i] { results[i] = batcher.encode({i}); });
    for (auto& client : clients) client.join();
    // Every client gets its own vector back, none swapped.
    for (int i = 0; i < 16; ++i) {
        ASSERT_EQ(results[i].size(), 1u);
        ASSERT_FALSE(results[i][0].error);
        EXPECT_EQ(results[i][0].vector, (std::vector<float>{float(i), float(i) + 0.5f}));
    }
    const BatchStats stats = batcher.stats();
    EXPECT_EQ(stats.items, 16u);
    EXPECT_LE(stats.batches, 3u) << "16 requests within the wait should share batches";
    EXPECT_LE(fake.calls.load(), 3);
    EXPECT_GE(stats.largest, 6u);
}

TEST(BatcherTest, MaxBatchBoundsEachBatch) {
    FakeEncoder fake;
    Batcher<int> batcher({.max_batch = 4, .max_wait = 50ms},
                         [&](std::span<const int> in) { return fake(in); });
    const std::vector<Outcome> out = batcher.encode({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    ASSERT_EQ(out.size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(out[i].vector[0], float(i));
    const BatchStats stats = batcher.stats();
    EXPECT_EQ(stats.largest, 4u);
    EXPECT_EQ(stats.batches, 3u);  // 4 + 4 + 2
    EXPECT_EQ(stats.sizes.at(4), 2u);
    EXPECT_EQ(stats.sizes.at(2), 1u);
}

TEST(BatcherTest, ALoneRequestWaitsAtMostMaxWait) {
    FakeEncoder fake;
    Batcher<int> batcher({.max_batch = 32, .max_wait = 30ms},
                         [&](std::span<const int> in) { return fake(in); });
    for (int round = 0; round < 3; ++round) {
        const auto start = std::chrono::steady_clock::now();
        const std::vector<Outcome> out = batcher.encode({7});
        const auto took = std::chrono::steady_clock::now() - start;
        ASSERT_FALSE(out[0].error);
        EXPECT_GE(took, 29ms) << "a lone request waits for company up to max-wait";
        EXPECT_LT(took, 250ms) << "but not much longer (slack for a loaded CI machine)";
    }
    // With no wait at all a lone request goes at once.
    Batcher<int> eager({.max_batch = 32, .max_wait = 0ms},
                       [&](std::span<const int> in) { return fake(in); });
    const auto start = std::chrono::steady_clock::now();
    ASSERT_FALSE(eager.encode({1})[0].error);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST(BatcherTest, ABadItemFailsOnlyItself) {
    FakeEncoder fake;
    Batcher<int> batcher({.max_batch = 32, .max_wait = 20ms},
                         [&](std::span<const int> in) { return fake(in); });
    std::vector<Outcome> good_other;
    std::thread other([&] { good_other = batcher.encode({42}); });
    const std::vector<Outcome> out = batcher.encode({1, -3, 2});
    other.join();
    ASSERT_EQ(out.size(), 3u);
    EXPECT_FALSE(out[0].error);
    EXPECT_EQ(out[0].vector[0], 1.0f);
    ASSERT_TRUE(out[1].error);
    try {
        std::rethrow_exception(out[1].error);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
        EXPECT_STREQ(e.what(), "input -3 is bad");
    }
    EXPECT_FALSE(out[2].error);
    EXPECT_EQ(out[2].vector[0], 2.0f);
    ASSERT_EQ(good_other.size(), 1u);
    EXPECT_FALSE(good_other[0].error);
    EXPECT_EQ(good_other[0].vector[0], 42.0f);
}

TEST(BatcherTest, AWrongNumberOfVectorsIsAnErrorNotACrash) {
    Batcher<int> batcher({.max_batch = 8, .max_wait = 0ms},
                         [](std::span<const int>) { return std::vector<std::vector<float>>{}; });
    const std::vector<Outcome> out = batcher.encode({1});
    ASSERT_TRUE(out[0].error);
}

}  // namespace
}  // namespace clipdex::encoder_service
