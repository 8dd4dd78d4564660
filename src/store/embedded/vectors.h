// In-memory vector state of one embedded collection: the arena (every live vector, bit-exact,
// at its storage slot), exact search kernels, and the top-k collector the indexes share.
//
// Distances inside the store are "smaller is closer" for every metric: IP and COSINE use
// -dot (COSINE over unit vectors), L2 the squared distance. to_score() turns them into the
// public score (similarity for IP/COSINE, squared distance for L2).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "clipdex/store.h"

namespace clipdex::store::embedded {

float dot(const float* a, const float* b, size_t dim);
// Asks for every cache line of [data, data + bytes) ahead of use.
inline void prefetch(const void* data, size_t bytes) {
    const auto* p = static_cast<const char*>(data);
    for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(p + offset);
}
float l2_squared(const float* a, const float* b, size_t dim);
// Scales `v` to unit length; false when its norm is zero or not finite.
bool normalize(std::span<float> v);
// 1/|v|, or 0 when the norm is zero or not finite (then normalize leaves `v` as it is).
float inverse_norm(const float* v, size_t dim);

struct Candidate {
    float distance = 0;
    int64_t id = 0;
};

// Keeps the k smallest distances; ties broken by smaller id so results are deterministic.
class TopK {
  public:
    explicit TopK(size_t k) : k_(k) {}
    void push(float distance, int64_t id);
    float worst() const;  // +inf until k candidates are held
    bool full() const { return heap_.size() >= k_; }
    std::vector<Candidate> take_sorted();

  private:
    size_t k_;
    std::vector<Candidate> heap_;
};

using IdFilter = std::function<bool(int64_t id)>;

// Backs [data, data + bytes) with memory now, on every core (MADV_POPULATE_WRITE), for buffers
// that a bulk load is about to fill: touching fresh pages one fault at a time was most of the
// time of opening a large collection. Does nothing for small buffers or on kernels without it.
void prefault(void* data, size_t bytes);

// For the arena's vector storage: growing it default-initialises (leaves floats unwritten)
// unless told otherwise, so an open that fills every slot from disk touches the memory once.
template <typename T>
struct UninitAllocator : std::allocator<T> {
    UninitAllocator() = default;
    template <typename U>
    UninitAllocator(const UninitAllocator<U>&) {}
    template <typename U>
    struct rebind {
        using other = UninitAllocator<U>;
    };
    template <typename U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

class Arena {
  public:
    Arena(int dim, Metric metric) : dim_(static_cast<size_t>(dim)), metric_(metric) {}

    size_t dim() const { return dim_; }
    Metric metric() const { return metric_; }
    size_t slot_count() const { return ids_.size(); }
    size_t size() const { return by_id_.size(); }

    // New slots are zeroed unless `zero` is false (the caller then writes every new slot, and
    // their memory is prefaulted).
    void reserve_slots(size_t slots, bool zero = true);
    // Places `id` at `slot` (growing the arena); the slot must be free.
    void put(int64_t id, uint32_t slot, const float* vector);
    // Bulk loading: raw storage for `count` slots from `first`, then adopt() marks them live.
    float* mutable_slots(uint32_t first, size_t count);
    // `norm` false leaves COSINE's 1/|v| to compute_inverse_norms() (bulk loads).
    void adopt(int64_t id, uint32_t slot, bool norm = true);
    // COSINE: 1/|v| for the `count` slots from `first`, whether live yet or not (a bulk load
    // computes them as it reads the vectors in). Slots must exist; other metrics: nothing.
    void compute_inverse_norms(uint32_t first, size_t count);
    void erase(int64_t id);
    bool contains(int64_t id) const { return by_id_.count(id) != 0; }
    // Slot of `id` or -1.
    int64_t slot_of(int64_t id) const;
    const float* vector_at(uint32_t slot) const { return data_.data() + slot * dim_; }
    // The memory behind every slot's vector.
    std::span<const uint8_t> storage() const {
        return {reinterpret_cast<const uint8_t*>(data_.data()), data_.size() * sizeof(float)};
    }
    // COSINE: 1/|v| of the vector at `slot` (what normalize() would scale it by).
    float inverse_norm_at(uint32_t slot) const { return inverse_norm_[slot]; }
    int64_t id_at(uint32_t slot) const { return ids_[slot]; }
    bool used(uint32_t slot) const { return used_[slot] != 0; }
    // The `count` smallest free slots.
    std::vector<uint32_t> free_slots(size_t count) const;
    const std::unordered_map<int64_t, uint32_t>& ids() const { return by_id_; }

    // Internal distance between a prepared query (unit length for COSINE) and a slot.
    float distance(const float* query, uint32_t slot) const;
    // Exact search over every live vector, or over `slots` when given. A scan of a large arena
    // for one IP/COSINE query is split over up to `threads` threads (one core cannot read memory
    // as fast as the arena can be scored).
    std::vector<Candidate> exact_search(const float* query, size_t k,
                                        const std::vector<uint32_t>* slots = nullptr,
                                        size_t threads = 1) const;
    // exact_search over every live vector for `nq` prepared queries at once (IP and COSINE):
    // one GEMM per block of queries and vectors, so each vector is read from memory once per
    // block instead of once per query; query blocks are split over `threads`.
    std::vector<std::vector<Candidate>> exact_search_batch(const float* queries, size_t nq,
                                                           size_t k, size_t threads) const;

  private:
    std::vector<Candidate> exact_search_tiles(const float* query, size_t k, size_t threads) const;
    void scan_tiles(const float* query, size_t first, size_t end, TopK& top) const;

    size_t dim_;
    Metric metric_;
    std::vector<float, UninitAllocator<float>> data_;
    std::vector<float> inverse_norm_;  // COSINE only: 1/|v| so raw vectors stay bit-exact
    std::vector<int64_t> ids_;
    std::vector<uint8_t> used_;
    std::unordered_map<int64_t, uint32_t> by_id_;
};

// A query in the form the distance functions expect (normalised for COSINE).
std::vector<float> prepare_query(const float* query, size_t dim, Metric metric);
float to_score(float distance, Metric metric);

}  // namespace clipdex::store::embedded
