#include "store/embedded/vectors.h"

#include "common/fork_join.h"

#include <cblas.h>
#if defined(__AVX512F__)
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized on their own _mm512_undefined_ps()
// (GCC bug 105593, fixed in 13); the warning points into the header, so it is silenced there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // clang has no such warning and -Werror refuses unknown ones
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

namespace clipdex::store::embedded {

void prefault(void* data, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
    constexpr size_t kPage = 4096, kMinBytes = size_t{64} << 20;
    if (bytes < kMinBytes) return;
    auto begin = (reinterpret_cast<uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
    auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kPage - 1);
    size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
    // A failure (an old kernel, memory pressure) only means the pages fault in later as usual.
    fork_join_ranges(end - begin, threads, kPage, [begin](size_t, size_t from, size_t to) {
        (void)madvise(reinterpret_cast<void*>(begin + from), to - from, MADV_POPULATE_WRITE);
    });
#else
    (void)data;
    (void)bytes;
#endif
}

// Four vector registers of independent accumulators: one register would make every step wait
// for the previous add (latency-bound); four keep the FMA units busy. Written as plain loops so
// GCC vectorises them for whatever -march the build has (SSE2 when CLIPDEX_NATIVE=OFF), without
// -ffast-math. The lanes are summed as a tree, not one by one.
#if defined(__AVX512F__)
constexpr size_t kLanes = 64;
#elif defined(__AVX__)
constexpr size_t kLanes = 32;
#else
constexpr size_t kLanes = 16;
#endif

#if !defined(__AVX512F__)
namespace {
float sum_lanes(float* acc) {
    for (size_t width = kLanes / 2; width > 0; width /= 2)
        for (size_t l = 0; l < width; ++l) acc[l] += acc[l + width];
    return acc[0];
}
}  // namespace
#endif

#if defined(__AVX512F__)
// With AVX-512 the same four accumulators, but summed in registers: the portable version's
// reduction through memory cost as much as the loop itself for 512-d vectors (HNSW calls these
// hundreds of times per query).
float dot(const float* a, const float* b, size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t j = 0;
    for (; j + 64 <= dim; j += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 32), _mm512_loadu_ps(b + j + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 48), _mm512_loadu_ps(b + j + 48), s3);
    }
    for (; j + 16 <= dim; j += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
    float tail = 0;
    for (; j < dim; ++j) tail += a[j] * b[j];
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) + tail;
}

float l2_squared(const float* a, const float* b, size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    auto step = [](__m512 acc, const float* x, const float* y) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(y));
        return _mm512_fmadd_ps(d, d, acc);
    };
    size_t j = 0;
    for (; j + 64 <= dim; j += 64) {
        s0 = step(s0, a + j, b + j);
        s1 = step(s1, a + j + 16, b + j + 16);
        s2 = step(s2, a + j + 32, b + j + 32);
        s3 = step(s3, a + j + 48, b + j + 48);
    }
    for (; j + 16 <= dim; j += 16) s0 = step(s0, a + j, b + j);
    float tail = 0;
    for (; j < dim; ++j) tail += (a[j] - b[j]) * (a[j] - b[j]);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) + tail;
}
#else
float dot(const float* a, const float* b, size_t dim) {
    float acc[kLanes] = {};
    size_t j = 0;
    for (; j + kLanes <= dim; j += kLanes)
        for (size_t l = 0; l < kLanes; ++l) acc[l] += a[j + l] * b[j + l];
    float tail = 0;
    for (; j < dim; ++j) tail += a[j] * b[j];
    return sum_lanes(acc) + tail;
}

float l2_squared(const float* a, const float* b, size_t dim) {
    float acc[kLanes] = {};
    size_t j = 0;
    for (; j + kLanes <= dim; j += kLanes)
        for (size_t l = 0; l < kLanes; ++l) {
            float d = a[j + l] - b[j + l];
            acc[l] += d * d;
        }
    float tail = 0;
    for (; j < dim; ++j) tail += (a[j] - b[j]) * (a[j] - b[j]);
    return sum_lanes(acc) + tail;
}
#endif

// Sum of squares in double (unit vectors must come out the same for every caller), over eight
// independent lanes so the loop vectorises instead of waiting on one accumulator.
double sum_squares(const float* v, size_t dim) {
    constexpr size_t kDoubleLanes = 8;
    double acc[kDoubleLanes] = {};
    size_t j = 0;
    for (; j + kDoubleLanes <= dim; j += kDoubleLanes)
        for (size_t l = 0; l < kDoubleLanes; ++l)
            acc[l] += static_cast<double>(v[j + l]) * v[j + l];
    double sum = 0;
    for (; j < dim; ++j) sum += static_cast<double>(v[j]) * v[j];
    for (size_t l = 0; l < kDoubleLanes; ++l) sum += acc[l];
    return sum;
}

float inverse_norm(const float* v, size_t dim) {
    double sum = sum_squares(v, dim);
    if (!(sum > 0) || !std::isfinite(sum)) return 0.0f;
    return static_cast<float>(1.0 / std::sqrt(sum));
}

bool normalize(std::span<float> v) {
    float inv = inverse_norm(v.data(), v.size());
    if (inv == 0.0f) return false;
    for (float& x : v) x *= inv;
    return true;
}

namespace {
bool worse(const Candidate& a, const Candidate& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}
}  // namespace

void TopK::push(float distance, int64_t id) {
    if (k_ == 0) return;
    Candidate c{distance, id};
    if (heap_.size() < k_) {
        heap_.push_back(c);
        std::push_heap(heap_.begin(), heap_.end(), worse);
        return;
    }
    if (!worse(c, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), worse);
    heap_.back() = c;
    std::push_heap(heap_.begin(), heap_.end(), worse);
}

float TopK::worst() const {
    return full() ? heap_.front().distance : std::numeric_limits<float>::infinity();
}

std::vector<Candidate> TopK::take_sorted() {
    std::sort_heap(heap_.begin(), heap_.end(), worse);
    return std::move(heap_);
}

void Arena::reserve_slots(size_t slots, bool zero) {
    if (slots <= ids_.size()) return;
    size_t old = data_.size();
    data_.resize(slots * dim_);
    if (zero)
        std::fill(data_.begin() + static_cast<ptrdiff_t>(old), data_.end(), 0.0f);
    else
        prefault(data_.data() + old, (data_.size() - old) * sizeof(float));
    ids_.resize(slots, 0);
    used_.resize(slots, 0);
    if (metric_ == Metric::Cosine) inverse_norm_.resize(slots, 0.0f);
    by_id_.reserve(slots);  // a bulk load then never rehashes
}

void Arena::put(int64_t id, uint32_t slot, const float* vector) {
    reserve_slots(static_cast<size_t>(slot) + 1);
    std::copy(vector, vector + dim_, data_.begin() + static_cast<ptrdiff_t>(slot * dim_));
    adopt(id, slot);
}

float* Arena::mutable_slots(uint32_t first, size_t count) {
    reserve_slots(static_cast<size_t>(first) + count);
    return data_.data() + static_cast<size_t>(first) * dim_;
}

void Arena::adopt(int64_t id, uint32_t slot, bool norm) {
    ids_[slot] = id;
    used_[slot] = 1;
    by_id_[id] = slot;
    if (norm && metric_ == Metric::Cosine)
        inverse_norm_[slot] = embedded::inverse_norm(vector_at(slot), dim_);
}

void Arena::compute_inverse_norms(uint32_t first, size_t count) {
    if (metric_ != Metric::Cosine) return;
    for (size_t s = first; s < first + count; ++s)
        inverse_norm_[s] = embedded::inverse_norm(vector_at(static_cast<uint32_t>(s)), dim_);
}

void Arena::erase(int64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    used_[it->second] = 0;
    by_id_.erase(it);
}

int64_t Arena::slot_of(int64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? -1 : static_cast<int64_t>(it->second);
}

std::vector<uint32_t> Arena::free_slots(size_t count) const {
    std::vector<uint32_t> out;
    out.reserve(count);
    for (size_t s = 0; s < used_.size() && out.size() < count; ++s)
        if (!used_[s]) out.push_back(static_cast<uint32_t>(s));
    for (size_t s = used_.size(); out.size() < count; ++s) out.push_back(static_cast<uint32_t>(s));
    return out;
}

float Arena::distance(const float* query, uint32_t slot) const {
    const float* v = vector_at(slot);
    switch (metric_) {
        case Metric::L2:
            return l2_squared(query, v, dim_);
        case Metric::InnerProduct:
            return -dot(query, v, dim_);
        case Metric::Cosine:
            return -dot(query, v, dim_) * inverse_norm_[slot];
    }
    return 0;
}

std::vector<Candidate> Arena::exact_search(const float* query, size_t k,
                                           const std::vector<uint32_t>* slots,
                                           size_t threads) const {
    // Every vector, IP or COSINE: BLAS dot products over tiles of vectors stream memory at full
    // speed (one call per vector, as below, does not).
    if (!slots && metric_ != Metric::L2) return exact_search_tiles(query, k, threads);
    TopK top(k);
    if (slots) {
        for (uint32_t s : *slots)
            if (used_[s]) top.push(distance(query, s), ids_[s]);
    } else {
        for (size_t s = 0; s < used_.size(); ++s)
            if (used_[s]) top.push(distance(query, static_cast<uint32_t>(s)), ids_[s]);
    }
    return top.take_sorted();
}

std::vector<Candidate> Arena::exact_search_tiles(const float* query, size_t k,
                                                 size_t threads) const {
    // A thread costs ~50 us to start: worth it from 16 MiB of vectors each (~1 ms of scanning).
    constexpr size_t kMinBytesPerThread = size_t{16} << 20;
    const size_t n = used_.size();
    threads =
        std::clamp<size_t>(std::min(threads, n * dim_ * sizeof(float) / kMinBytesPerThread), 1, 16);
    std::vector<TopK> tops(threads, TopK(k));
    // Thread ranges are whole 4,096-slot tiles so each thread's sgemv calls stay aligned.
    fork_join_ranges(n, threads, 4096, [&](size_t t, size_t first, size_t end) {
        scan_tiles(query, first, end, tops[t]);
    });
    for (size_t t = 1; t < threads; ++t)
        for (const auto& c : tops[t].take_sorted()) tops[0].push(c.distance, c.id);
    return tops[0].take_sorted();
}

void Arena::scan_tiles(const float* query, size_t first, size_t end, TopK& top) const {
    constexpr size_t kSlotTile = 4096;
    std::vector<float> scores(kSlotTile);
    for (size_t s0 = first; s0 < end; s0 += kSlotTile) {
        size_t sn = std::min(kSlotTile, end - s0);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(sn), static_cast<int>(dim_), 1.0f,
                    data_.data() + s0 * dim_, static_cast<int>(dim_), query, 1, 0.0f, scores.data(),
                    1);
        for (size_t s = 0; s < sn; ++s) {
            if (!used_[s0 + s]) continue;
            float d = metric_ == Metric::Cosine ? -scores[s] * inverse_norm_[s0 + s] : -scores[s];
            if (!top.full() || d <= top.worst()) top.push(d, ids_[s0 + s]);
        }
    }
}

std::vector<std::vector<Candidate>> Arena::exact_search_batch(const float* queries, size_t nq,
                                                              size_t k, size_t threads) const {
    // 256 queries x 1024 vectors of scores (1 MiB) per GEMM: the vector tile stays in cache
    // while every query of the block is scored against it.
    constexpr size_t kQueryBlock = 256, kSlotTile = 1024;
    std::vector<std::vector<Candidate>> out(nq);
    auto work = [&](size_t q_begin, size_t q_end) {
        std::vector<float> scores(kQueryBlock * kSlotTile);
        for (size_t q0 = q_begin; q0 < q_end; q0 += kQueryBlock) {
            size_t qn = std::min(kQueryBlock, q_end - q0);
            std::vector<TopK> tops(qn, TopK(k));
            for (size_t s0 = 0; s0 < used_.size(); s0 += kSlotTile) {
                size_t sn = std::min(kSlotTile, used_.size() - s0);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(qn),
                            static_cast<int>(sn), static_cast<int>(dim_), 1.0f, queries + q0 * dim_,
                            static_cast<int>(dim_), data_.data() + s0 * dim_,
                            static_cast<int>(dim_), 0.0f, scores.data(), static_cast<int>(sn));
                for (size_t q = 0; q < qn; ++q) {
                    const float* row = scores.data() + q * sn;
                    TopK& top = tops[q];
                    for (size_t s = 0; s < sn; ++s) {
                        if (!used_[s0 + s]) continue;
                        float d =
                            metric_ == Metric::Cosine ? -row[s] * inverse_norm_[s0 + s] : -row[s];
                        if (!top.full() || d <= top.worst()) top.push(d, ids_[s0 + s]);
                    }
                }
            }
            for (size_t q = 0; q < qn; ++q) out[q0 + q] = tops[q].take_sorted();
        }
    };
    threads = std::clamp<size_t>(threads, 1, std::max<size_t>(1, nq / 16));
    fork_join_ranges(nq, threads, 1, [&](size_t, size_t begin, size_t end) { work(begin, end); });
    return out;
}

std::vector<float> prepare_query(const float* query, size_t dim, Metric metric) {
    std::vector<float> q(query, query + dim);
    if (metric == Metric::Cosine) normalize(q);
    return q;
}

float to_score(float distance, Metric metric) {
    return metric == Metric::L2 ? distance : -distance;
}

}  // namespace clipdex::store::embedded
