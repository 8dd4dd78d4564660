// The Milvus backend: Store's contract on top of MilvusService RPCs (milvus_store_impl.h maps
// the files that implement it). This file opens a store and keeps what this client has written,
// so that reads wait for exactly that.
//
// Visibility: reads use Session consistency, waiting for this client's own writes only (by the
// timestamps the server returned), plus Strong on a collection's first read so that earlier
// writes of other processes are seen. insert's duplicate check sees this client's writes and
// what other clients wrote before the server's last time tick; two clients inserting the same
// new id at the same moment can both succeed, as with any check-then-write.
#include "store/milvus/milvus_store.h"

#include <algorithm>
#include <iterator>

#include "store/milvus/milvus_store_impl.h"

namespace clipdex::store::milvus {
namespace {

// An insert older than this is taken as applied by the server (5 time ticks of 200 ms), so the
// duplicate check waiting for it costs nothing; younger ones are checked here instead.
constexpr auto kSettleTime = std::chrono::seconds(1);
constexpr size_t kMaxRecentIds = size_t(1) << 20;

}  // namespace

void MilvusStore::ping() {
    try {
        list_collections();
    } catch (const Error& e) {
        throw Error(e.code(), "cannot use Milvus server " + uri_ + ": " + e.what());
    }
}

void MilvusStore::writable() const {
    if (options_.read_only)
        throw Error(ErrorCode::Conflict, "Milvus store " + uri_ + " was opened read-only");
}

void MilvusStore::forget(const std::string& name) {
    {
        std::lock_guard lock(cache_mutex_);
        cache_.erase(name);
    }
    std::lock_guard lock(visibility_mutex_);
    visibility_.erase(name);
}

// A delete or upsert: later duplicate checks wait for it on the server (a recent insert
// of an id deleted since must not count as present).
void MilvusStore::wrote(const std::string& name, uint64_t timestamp) {
    std::lock_guard lock(visibility_mutex_);
    Visibility& seen = visibility_[name];
    if (timestamp == 0) seen.strong_next = true;
    seen.write_ts = std::max(seen.write_ts, timestamp);
    seen.settled_ts = seen.write_ts;
    seen.recent.clear();
    seen.recent_ids = 0;
}

void MilvusStore::inserted(const std::string& name, uint64_t timestamp, std::vector<int64_t> ids) {
    if (timestamp == 0) return wrote(name, timestamp);
    std::sort(ids.begin(), ids.end());
    std::lock_guard lock(visibility_mutex_);
    Visibility& seen = visibility_[name];
    seen.write_ts = std::max(seen.write_ts, timestamp);
    seen.recent_ids += ids.size();
    seen.recent.push_back({timestamp, std::chrono::steady_clock::now(), std::move(ids)});
}

// Forgets inserts old enough for the server to have applied; returns the ids among `ids`
// (ascending) that this client inserted recently.
std::vector<int64_t> MilvusStore::recently_inserted(const std::string& name,
                                                    const std::vector<int64_t>& ids) {
    std::lock_guard lock(visibility_mutex_);
    Visibility& seen = visibility_[name];
    auto now = std::chrono::steady_clock::now();
    while (!seen.recent.empty() &&
           (now - seen.recent.front().at > kSettleTime || seen.recent_ids > kMaxRecentIds)) {
        seen.settled_ts = std::max(seen.settled_ts, seen.recent.front().timestamp);
        seen.recent_ids -= seen.recent.front().ids.size();
        seen.recent.pop_front();
    }
    std::vector<int64_t> found;
    for (const RecentInsert& insert : seen.recent) {
        std::set_intersection(ids.begin(), ids.end(), insert.ids.begin(), insert.ids.end(),
                              std::back_inserter(found));
    }
    return found;
}

Traffic traffic_of(const Store& store) {
    const auto* milvus = dynamic_cast<const MilvusStore*>(&store);
    if (milvus == nullptr)
        throw Error(ErrorCode::InvalidInput, "store " + store.uri() + " is not a Milvus store");
    return milvus->traffic();
}

std::unique_ptr<Store> open_milvus_store(const std::string& uri, const StoreOptions& options) {
    auto store = std::make_unique<MilvusStore>(uri, options);
    store->ping();
    return store;
}

}  // namespace clipdex::store::milvus
