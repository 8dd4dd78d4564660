// Search in the embedded store: exact or through the index, with or without a filter, one query
// or a batch.
//
// * Filtered search: the filter runs in SQLite to an id set. Small sets (or FLAT) are searched
//   exactly; large ones go through the index with an id predicate and over-fetch, falling back to
//   exact search when fewer than k come back, so a filter never starves the result.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <thread>

#include "common/fork_join.h"
#include "store/embedded/embedded_store_impl.h"

namespace clipdex::store::embedded {

namespace {

constexpr int kMaxTopK = 16384;
// Query counts from which a search call uses the batched exact kernel / several threads.
constexpr size_t kBatchExactMin = 8;
constexpr size_t kParallelQueriesMin = 16;

// Runs body(q) for every query; many queries are split over threads (the index and the arena
// are read-only under the caller's shared lock).
template <typename Body>
void parallel_queries(size_t nq, size_t threads, Body body) {
    threads = std::min(threads, nq / kParallelQueriesMin);
    std::atomic<size_t> next{0};
    fork_join(threads, [&](size_t) {
        for (size_t q = next++; q < nq; q = next++) body(q);
    });
}

// One prepared query. `slots` and `accept` describe a filter (null without one).
std::vector<Candidate> search_one(const Collection& c, const float* prepared, size_t k,
                                  SearchParams params, bool exact,
                                  const std::vector<uint32_t>* slots, const IdFilter* accept,
                                  size_t scan_threads) {
    const Arena& arena = c.arena;
    if (exact) return arena.exact_search(prepared, k, slots, scan_threads);
    const size_t live = arena.size();
    const size_t reachable = slots ? slots->size() : live;
    size_t fetch = k;
    if (slots) {
        // Over-fetch in proportion to the filter's selectivity.
        double ratio =
            static_cast<double>(live) / static_cast<double>(std::max<size_t>(1, slots->size()));
        fetch = std::min(live, static_cast<size_t>(static_cast<double>(k) * ratio * 2) + k);
        params.ef = std::max(params.ef, static_cast<int>(std::min<size_t>(fetch, 1 << 20)));
    }
    auto hits = c.index->search(prepared, fetch, params, accept, arena);
    if (hits.size() > k) hits.resize(k);
    if (hits.size() < std::min(k, reachable)) hits = arena.exact_search(prepared, k, slots);
    return hits;
}

}  // namespace

std::vector<std::vector<Hit>> EmbeddedStore::search(const std::string& collection,
                                                    std::span<const float> queries,
                                                    const SearchRequest& request) {
    if (request.k < 1 || request.k > kMaxTopK)
        throw Error(ErrorCode::InvalidInput, "collection `" + collection + "`: search k " +
                                                 std::to_string(request.k) + " is outside 1.." +
                                                 std::to_string(kMaxTopK));
    auto expr = parse_filter(collection, request.filter);
    auto c = current(collection);
    const size_t dim = static_cast<size_t>(c->spec.dim);
    const Metric metric = c->spec.index.metric;
    if (queries.size() % dim != 0)
        throw Error(ErrorCode::InvalidInput, "collection `" + collection + "`: search got " +
                                                 std::to_string(queries.size()) +
                                                 " query values, not a multiple of the dimension " +
                                                 std::to_string(dim));
    for (size_t j = 0; j < queries.size(); ++j)
        if (!std::isfinite(queries[j]))
            throw Error(ErrorCode::InvalidInput, "collection `" + collection + "`: query " +
                                                     std::to_string(j / dim) + " value " +
                                                     std::to_string(j % dim) + " is not finite");
    const size_t nq = queries.size() / dim;
    const size_t k = static_cast<size_t>(request.k);

    std::optional<std::vector<int64_t>> matched;  // sorted ids passing the filter
    if (!expr.empty()) {
        auto db = lease();
        matched = matching_ids(*db, c->cid, expr);
    }

    // One shared lock over the index search and the row fetch: deletions commit under the
    // exclusive lock, so every id found still has its row.
    std::shared_lock state(state_mutex_);
    std::vector<std::vector<Candidate>> found(nq);
    {
        const Arena& arena = c->arena;
        std::vector<uint32_t> slots;
        if (matched) {
            slots.reserve(matched->size());
            for (int64_t id : *matched) {
                int64_t s = arena.slot_of(id);
                if (s >= 0) slots.push_back(static_cast<uint32_t>(s));
            }
        }
        const size_t live = arena.size();
        // Exact search costs |slots| distances; below this the index would not save work.
        const bool exact = !c->index || !c->index->ready() ||
                           (matched && slots.size() <= std::max<size_t>(4096, live / 16));
        IdFilter accept = [&](int64_t id) {
            return std::binary_search(matched->begin(), matched->end(), id);
        };
        const size_t threads = std::max(1u, std::thread::hardware_concurrency());
        if (exact && !matched && metric != Metric::L2 && nq >= kBatchExactMin) {
            std::vector<float> prepared(queries.begin(), queries.end());
            if (metric == Metric::Cosine)
                for (size_t q = 0; q < nq; ++q) normalize({prepared.data() + q * dim, dim});
            found = arena.exact_search_batch(prepared.data(), nq, k, threads);
        } else {
            // Few queries run one after another, each scan on every core; many run side by side.
            const size_t scan_threads = nq < kParallelQueriesMin ? threads : 1;
            parallel_queries(nq, threads, [&](size_t q) {
                auto prepared = prepare_query(queries.data() + q * dim, dim, metric);
                found[q] = search_one(*c, prepared.data(), k, request.params, exact,
                                      matched ? &slots : nullptr, matched ? &accept : nullptr,
                                      scan_threads);
            });
        }
    }

    std::vector<std::vector<Hit>> out(nq);
    const Projection projection = make_projection(request.output_fields);
    if (projection.id_only()) {
        // The arena and the rows change together under state_mutex_, so every id found has a row.
        for (size_t q = 0; q < nq; ++q) {
            out[q].reserve(found[q].size());
            for (const auto& cand : found[q]) {
                Hit hit;
                hit.row.id = cand.id;
                hit.score = to_score(cand.distance, metric);
                out[q].push_back(std::move(hit));
            }
        }
        return out;
    }
    std::vector<int64_t> ids;
    for (const auto& list : found)
        for (const auto& cand : list) ids.push_back(cand.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    auto rows = fetch_rows(*c, ids, projection, true);
    state.unlock();
    for (size_t q = 0; q < nq; ++q) {
        for (const auto& cand : found[q]) {
            auto it = rows.find(cand.id);
            if (it == rows.end())
                continue;  // deleted by another process since this one's last refresh
            out[q].push_back(Hit{it->second, to_score(cand.distance, metric)});
        }
    }
    return out;
}

}  // namespace clipdex::store::embedded
