// The Milvus backend: Store's contract on top of MilvusService RPCs. Where Milvus's semantics
// differ from the contract (duplicate primary keys, delete counts, the 16384-row query window,
// eventual visibility) the difference is closed here, with extra queries where needed.
//
// Visibility: reads use Session consistency, waiting for this client's own writes only (by the
// timestamps the server returned), plus Strong on a collection's first read so that earlier
// writes of other processes are seen. insert's duplicate check sees this client's writes and
// what other clients wrote before the server's last time tick; two clients inserting the same
// new id at the same moment can both succeed, as with any check-then-write.
#include "store/milvus/milvus_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include "store/filter/filter.h"
#include "store/milvus/milvus_client.h"
#include "store/milvus/milvus_codec.h"

namespace clipdex::store::milvus {
namespace {

constexpr size_t kIdsPerExpression = 1000;
constexpr int64_t kMaxQueriesPerSearch = 16384;
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// An insert older than this is taken as applied by the server (5 time ticks of 200 ms), so the
// duplicate check waiting for it costs nothing; younger ones are checked here instead.
constexpr auto kSettleTime = std::chrono::seconds(1);
constexpr size_t kMaxRecentIds = size_t(1) << 20;

std::string now_utc() {
    auto now = std::chrono::system_clock::now();
    std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[96];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  int(millis));
    return text;
}

void sort_by_id(std::vector<Row>& rows) {
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
}

// Rows of one query answer: the id column tells how many there are.
// An insert of this client that the server may not have applied yet.
struct RecentInsert {
    uint64_t timestamp = 0;
    std::chrono::steady_clock::time_point at;
    std::vector<int64_t> ids;  // ascending
};

struct Visibility {
    uint64_t write_ts = 0;    // latest write of this client (Milvus hybrid timestamp)
    uint64_t settled_ts = 0;  // this client's writes up to here need no local bookkeeping
    bool strong_next = true;
    std::deque<RecentInsert> recent;  // inserts after settled_ts, oldest first
    size_t recent_ids = 0;
};

struct Collection {
    CollectionSpec spec;
    Layout layout;
    bool loaded = false;
};

class MilvusStore final : public Store {
  public:
    MilvusStore(std::string uri, const StoreOptions& options)
        : uri_(std::move(uri)), options_(options), client_(parse_uri(uri_), options) {}

    void ping() {
        try {
            list_collections();
        } catch (const Error& e) {
            throw Error(e.code(), "cannot use Milvus server " + uri_ + ": " + e.what());
        }
    }

    Traffic traffic() const { return client_.traffic(); }

    std::string uri() const override { return uri_; }
    std::string backend_name() const override { return "milvus"; }

    std::vector<std::string> list_collections() override {
        pb::ShowCollectionsRequest request;
        scope(request);
        auto response = client_.call("ShowCollections", "", &Stub::ShowCollections, request);
        std::vector<std::string> names(response.collection_names().begin(),
                                       response.collection_names().end());
        std::sort(names.begin(), names.end());
        return names;
    }

    bool has_collection(const std::string& name) override {
        check_collection_name(name);
        pb::HasCollectionRequest request;
        scope(request);
        request.set_collection_name(name);
        try {
            return client_.call("HasCollection", name, &Stub::HasCollection, request).value();
        } catch (const Error& e) {
            if (e.code() != ErrorCode::Unsupported) throw;
        }
        auto names = list_collections();
        return std::find(names.begin(), names.end(), name) != names.end();
    }

    void create_collection(const CollectionSpec& spec) override {
        writable();
        check_collection_name(spec.name);
        if (spec.dim <= 0 || spec.dim > 32768) {
            throw Error(ErrorCode::InvalidInput, "collection `" + spec.name + "`: dimension " +
                                                     std::to_string(spec.dim) +
                                                     " is not in 1..32768");
        }
        std::lock_guard write(write_mutex_);
        if (has_collection(spec.name)) {
            throw Error(ErrorCode::AlreadyExists, "collection `" + spec.name + "` already exists");
        }
        pb::CreateCollectionRequest request;
        scope(request);
        request.set_collection_name(spec.name);
        request.set_schema(build_schema(spec).SerializeAsString());
        request.set_consistency_level(pbc::Strong);
        for (const auto& kv : collection_properties(spec)) *request.add_properties() = kv;
        client_.call("CreateCollection", spec.name, &Stub::CreateCollection, request);
        forget(spec.name);
        try {
            create_index(spec);
            load(spec.name);
        } catch (const Error&) {
            drop_quietly(spec.name);  // all or nothing: no half-made collection stays behind
            throw;
        }
    }

    void drop_collection(const std::string& name) override {
        writable();
        std::lock_guard write(write_mutex_);
        if (!has_collection(name))
            throw Error(ErrorCode::NotFound, "collection `" + name + "` does not exist");
        pb::DropCollectionRequest request;
        scope(request);
        request.set_collection_name(name);
        client_.call("DropCollection", name, &Stub::DropCollection, request);
        forget(name);
    }

    CollectionInfo describe_collection(const std::string& name) override {
        CollectionInfo info;
        info.spec = collection(name).spec;
        info.row_count = count(name, "");
        return info;
    }

    CollectionStats stats(const std::string& name) override {
        CollectionStats stats;
        stats.row_count = count(name, "");
        stats.index_state = index_state(name);
        return stats;
    }

    void insert(const std::string& name, std::span<const Row> rows) override {
        writable();
        if (rows.empty()) return;
        std::lock_guard write(write_mutex_);
        Collection info = collection(name);
        std::vector<Row> prepared = prepare_rows(name, rows, info.layout, now_utc());
        std::vector<int64_t> ids;
        for (const Row& row : prepared) ids.push_back(row.id);
        // Milvus keeps duplicate primary keys side by side; the contract refuses them.
        std::vector<int64_t> present = existing_ids(name, ids, true);
        if (!present.empty()) {
            std::string list;
            for (size_t i = 0; i < present.size() && i < 5; ++i)
                list += (i ? ", " : "") + std::to_string(present[i]);
            throw Error(ErrorCode::AlreadyExists,
                        "collection `" + name + "`: " + std::to_string(present.size()) +
                            " id(s) already present: " + list + (present.size() > 5 ? ", …" : ""));
        }
        write_batches<pb::InsertRequest>(name, prepared, info.layout, "Insert", &Stub::Insert,
                                         true);
    }

    void upsert(const std::string& name, std::span<const Row> rows) override {
        writable();
        if (rows.empty()) return;
        std::lock_guard write(write_mutex_);
        Collection info = collection(name);
        std::vector<Row> given(rows.begin(), rows.end());
        keep_added_at(name, given);
        std::vector<Row> prepared = prepare_rows(name, given, info.layout, now_utc());
        write_batches<pb::UpsertRequest>(name, prepared, info.layout, "Upsert", &Stub::Upsert,
                                         false);
    }

    int64_t remove(const std::string& name, std::span<const int64_t> ids) override {
        writable();
        std::lock_guard write(write_mutex_);
        collection(name);
        // Milvus counts the ids it was given, present or not; the contract counts rows removed.
        std::vector<int64_t> present = existing_ids(name, {ids.begin(), ids.end()});
        delete_ids(name, present);
        return int64_t(present.size());
    }

    int64_t remove_where(const std::string& name, const std::string& filter_text) override {
        writable();
        std::lock_guard write(write_mutex_);
        collection(name);
        std::string expr = server_filter(name, filter_text);
        std::vector<int64_t> ids;
        for (const Row& row : scan(name, expr, {kFieldId}, 0, -1)) ids.push_back(row.id);
        delete_ids(name, ids);
        return int64_t(ids.size());
    }

    std::vector<Row> get(const std::string& name, std::span<const int64_t> ids,
                         const FieldList& output_fields) override {
        Collection info = collection(name);
        ensure_loaded(name);
        OutputPlan plan = plan_output(output_fields, info.layout);
        std::unordered_map<int64_t, Row> found;
        std::vector<int64_t> unique(ids.begin(), ids.end());
        std::sort(unique.begin(), unique.end());
        unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
        for (size_t begin = 0; begin < unique.size(); begin += kIdsPerExpression) {
            size_t end = std::min(unique.size(), begin + kIdsPerExpression);
            std::span<const int64_t> chunk(unique.data() + begin, end - begin);
            for (Row& row : query_page(name, info.layout, id_list_expr(chunk), plan, -1, 0)) {
                int64_t id = row.id;
                found.emplace(id, std::move(row));
            }
        }
        std::vector<Row> rows;
        for (int64_t id : ids) {
            if (auto it = found.find(id); it != found.end()) rows.push_back(it->second);
        }
        return rows;
    }

    std::vector<Row> query(const std::string& name, const QueryRequest& request) override {
        if (request.offset < 0 || request.limit < -1) {
            throw Error(ErrorCode::InvalidInput,
                        "collection `" + name + "`: negative limit or offset");
        }
        collection(name);
        std::string expr = server_filter(name, request.filter);
        return scan(name, expr, request.output_fields, request.offset, request.limit);
    }

    int64_t count(const std::string& name, const std::string& filter_text) override {
        collection(name);
        std::string expr = server_filter(name, filter_text);
        ensure_loaded(name);
        return count_expr(name, expr);
    }

    int64_t count_expr(const std::string& name, const std::string& expr) {
        pb::QueryRequest request;
        scope(request);
        request.set_collection_name(name);
        request.set_expr(expr);
        request.add_output_fields("count(*)");
        read_consistency(name, request);
        auto response = client_.call("Query count(*)", name, &Stub::Query, request);
        for (const auto& column : response.fields_data()) {
            if (column.scalars().long_data().data_size() > 0)
                return column.scalars().long_data().data(0);
        }
        throw Error(ErrorCode::Corrupt,
                    "Milvus count(*) on collection `" + name + "` returned no count");
    }

    std::vector<std::vector<Hit>> search(const std::string& name, std::span<const float> queries,
                                         const SearchRequest& request) override {
        Collection info = collection(name);
        size_t dim = size_t(info.layout.dim);
        if (request.k <= 0)
            throw Error(ErrorCode::InvalidInput, "collection `" + name + "`: k must be positive");
        if (dim == 0 || queries.empty() || queries.size() % dim != 0) {
            throw Error(ErrorCode::InvalidInput, "collection `" + name + "`: query data of " +
                                                     std::to_string(queries.size()) +
                                                     " floats is not a whole number of " +
                                                     std::to_string(dim) + "-d vectors");
        }
        for (float x : queries) {
            if (!std::isfinite(x))
                throw Error(
                    ErrorCode::InvalidInput,
                    "collection `" + name + "`: query vector has a NaN or infinite component");
        }
        std::string expr = server_filter(name, request.filter);
        ensure_loaded(name);
        OutputPlan plan = plan_output(request.output_fields, info.layout);
        size_t per_call = std::clamp<size_t>(kMaxRequestBytes / (dim * sizeof(float) + 64), 1,
                                             size_t(kMaxQueriesPerSearch));
        std::vector<std::vector<Hit>> hits;
        for (size_t begin = 0; begin < queries.size() / dim; begin += per_call) {
            size_t n = std::min(per_call, queries.size() / dim - begin);
            auto part = search_part(name, info, queries.subspan(begin * dim, n * dim), n, expr,
                                    plan, request);
            for (auto& list : part) hits.push_back(std::move(list));
        }
        return hits;
    }

    void flush(const std::string& name) override {
        collection(name);
        pb::FlushRequest request;
        scope(request);
        request.add_collection_names(name);
        pb::FlushResponse response;
        try {
            response = client_.call("Flush", name, &Stub::Flush, request);
        } catch (const Error& e) {
            if (e.code() == ErrorCode::Unsupported)
                return;  // Milvus Lite persists every write itself
            throw;
        }
        wait_flushed(name, response);
    }

  private:
    using Stub = pb::MilvusService::Stub;

    template <class Request>
    void scope(Request& request) const {
        if (!client_.db_name().empty()) request.set_db_name(client_.db_name());
    }

    void writable() const {
        if (options_.read_only)
            throw Error(ErrorCode::Conflict, "Milvus store " + uri_ + " was opened read-only");
    }

    void forget(const std::string& name) {
        {
            std::lock_guard lock(cache_mutex_);
            cache_.erase(name);
        }
        std::lock_guard lock(visibility_mutex_);
        visibility_.erase(name);
    }

    // Reads wait only for what they must see (Milvus's Session consistency): this client's
    // own writes, by the timestamps the server gave them. The first read of a collection, and
    // the first after a write the server gave no timestamp, is Strong instead, so that what
    // other processes wrote before is seen too. Strong on every read would wait for the
    // server's next time tick (200 ms by default) on every call. Writes of other clients made
    // since appear as soon as the server has applied them.
    template <class Request>
    void read_consistency(const std::string& name, Request& request, bool settled_only = false) {
        std::lock_guard lock(visibility_mutex_);
        Visibility& seen = visibility_[name];
        if (seen.strong_next) {
            request.set_consistency_level(pbc::Strong);
            seen.strong_next = false;
            return;
        }
        request.set_consistency_level(pbc::Session);
        request.set_guarantee_timestamp(settled_only ? seen.settled_ts : seen.write_ts);
    }

    // A delete or upsert: later duplicate checks wait for it on the server (a recent insert
    // of an id deleted since must not count as present).
    void wrote(const std::string& name, uint64_t timestamp) {
        std::lock_guard lock(visibility_mutex_);
        Visibility& seen = visibility_[name];
        if (timestamp == 0) seen.strong_next = true;
        seen.write_ts = std::max(seen.write_ts, timestamp);
        seen.settled_ts = seen.write_ts;
        seen.recent.clear();
        seen.recent_ids = 0;
    }

    void inserted(const std::string& name, uint64_t timestamp, std::vector<int64_t> ids) {
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
    std::vector<int64_t> recently_inserted(const std::string& name,
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

    void drop_quietly(const std::string& name) {
        pb::DropCollectionRequest request;
        scope(request);
        request.set_collection_name(name);
        try {
            client_.call("DropCollection", name, &Stub::DropCollection, request);
        } catch (const Error&) {
            // the original error is the one worth reporting
        }
        forget(name);
    }

    void create_index(const CollectionSpec& spec) {
        pb::CreateIndexRequest request;
        scope(request);
        request.set_collection_name(spec.name);
        request.set_field_name(kFieldVector);
        for (const auto& kv : index_params(spec.index)) *request.add_extra_params() = kv;
        try {
            client_.call("CreateIndex", spec.name, &Stub::CreateIndex, request);
        } catch (const Error& e) {
            // Milvus Lite searches exhaustively whatever the index and refuses HNSW outright;
            // FLAT is what it would run anyway, so the collection stays usable as asked.
            if (spec.index.kind == IndexKind::Flat ||
                std::string(e.what()).find("only support") == std::string::npos)
                throw;
            request.clear_extra_params();
            for (const auto& kv : flat_stand_in(spec.index)) *request.add_extra_params() = kv;
            client_.call("CreateIndex", spec.name, &Stub::CreateIndex, request);
        }
    }

    pb::DescribeIndexResponse describe_index(const std::string& name, bool* found) {
        pb::DescribeIndexRequest request;
        scope(request);
        request.set_collection_name(name);
        request.set_field_name(kFieldVector);
        *found = false;
        try {
            auto response = client_.call("DescribeIndex", name, &Stub::DescribeIndex, request);
            *found = true;
            return response;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::NotFound && e.code() != ErrorCode::Unsupported) throw;
        }
        return {};
    }

    std::string index_state(const std::string& name) {
        bool found = false;
        auto response = describe_index(name, &found);
        if (!found || response.index_descriptions_size() == 0) return "no index";
        const auto& index = response.index_descriptions(0);
        switch (index.state()) {
            case pbc::Finished:
                return "ready";
            case pbc::Failed:
                return "failed: " + index.index_state_fail_reason();
            case pbc::InProgress:
            case pbc::Unissued:
            case pbc::Retry:
                return "building";
            default:
                return "ready";
        }
    }

    // Schema, index and layout of a collection, asked once and cached.
    Collection collection(const std::string& name) {
        check_collection_name(name);
        {
            std::lock_guard lock(cache_mutex_);
            if (auto it = cache_.find(name); it != cache_.end()) return it->second;
        }
        pb::DescribeCollectionRequest request;
        scope(request);
        request.set_collection_name(name);
        pb::DescribeCollectionResponse described;
        try {
            described =
                client_.call("DescribeCollection", name, &Stub::DescribeCollection, request);
        } catch (const Error& e) {
            if (e.code() == ErrorCode::NotFound || e.code() == ErrorCode::InvalidInput ||
                e.code() == ErrorCode::Internal) {
                if (!has_collection(name))
                    throw Error(ErrorCode::NotFound, "collection `" + name + "` does not exist");
            }
            throw;
        }
        bool found = false;
        auto index = describe_index(name, &found);
        Collection info;
        info.spec = spec_from_description(described, found ? &index : nullptr);
        info.spec.name = name;
        info.layout = layout_of(described.schema());
        if (!info.layout.has(kFieldId) || !info.layout.has(kFieldVector)) {
            throw Error(ErrorCode::Unsupported,
                        "collection `" + name +
                            "` lacks an `id` or `vector` field; clipdex reads seed 001's schema");
        }
        std::lock_guard lock(cache_mutex_);
        return cache_.emplace(name, info).first->second;
    }

    bool is_loaded(const std::string& name) {
        pb::GetLoadStateRequest request;
        scope(request);
        request.set_collection_name(name);
        return client_.call("GetLoadState", name, &Stub::GetLoadState, request).state() ==
               pbc::LoadStateLoaded;
    }

    void load(const std::string& name) {
        pb::LoadCollectionRequest request;
        scope(request);
        request.set_collection_name(name);
        client_.call("LoadCollection", name, &Stub::LoadCollection, request);
        auto deadline =
            std::chrono::steady_clock::now() +
            std::chrono::milliseconds(int64_t(std::max(options_.timeout_seconds, 1.0) * 1000));
        try {
            while (!is_loaded(name)) {
                if (std::chrono::steady_clock::now() > deadline) {
                    throw Error(ErrorCode::Unavailable,
                                "Milvus collection `" + name + "` did not finish loading within " +
                                    std::to_string(options_.timeout_seconds) + " s");
                }
                std::this_thread::sleep_for(kPollInterval);
            }
        } catch (const Error& e) {
            if (e.code() != ErrorCode::Unsupported)
                throw;  // no GetLoadState: Load returns when loaded
        }
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(name); it != cache_.end()) it->second.loaded = true;
    }

    // A collection made elsewhere may be released; searching it needs it in memory.
    void ensure_loaded(const std::string& name) {
        {
            std::lock_guard lock(cache_mutex_);
            if (auto it = cache_.find(name); it != cache_.end() && it->second.loaded) return;
        }
        bool loaded = false;
        try {
            loaded = is_loaded(name);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::Unsupported) throw;
        }
        if (!loaded) {
            load(name);
            return;
        }
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(name); it != cache_.end()) it->second.loaded = true;
    }

    // The filter as this server can run it. Milvus before 2.4 runs `like` only as a prefix
    // match; other patterns are evaluated here and sent as the list of matching ids.
    std::string server_filter(const std::string& name, const std::string& filter_text) {
        filter::Expression parsed = filter::parse(filter_text);
        if (parsed.empty()) return {};
        std::string expr = filter::to_milvus(parsed);
        if (filter_text.find("like") == std::string::npos) return expr;
        Collection info = collection(name);
        ensure_loaded(name);
        try {
            query_page(name, info.layout, expr, plan_output({kFieldId}, info.layout), 1, 0);
            return expr;
        } catch (const Error& e) {
            if (std::string(e.what()).find("unsupported pattern") == std::string::npos) throw;
        }
        std::vector<int64_t> ids;
        for (const Row& row : scan(name, "", {}, 0, -1)) {
            if (filter::matches(parsed, row)) ids.push_back(row.id);
        }
        return id_list_expr(ids);
    }

    std::vector<Row> query_page(const std::string& name, const Layout& layout,
                                const std::string& expr, const OutputPlan& plan, int64_t limit,
                                int64_t offset, bool settled_only = false) {
        pb::QueryRequest request;
        scope(request);
        request.set_collection_name(name);
        request.set_expr(expr);
        for (const auto& field : plan.server_fields) request.add_output_fields(field);
        if (limit >= 0) {
            auto* kv = request.add_query_params();
            kv->set_key("limit");
            kv->set_value(std::to_string(limit));
            kv = request.add_query_params();
            kv->set_key("offset");
            kv->set_value(std::to_string(offset));
        }
        read_consistency(name, request, settled_only);
        auto response = client_.call("Query", name, &Stub::Query, request);
        std::vector<Row> rows = decode_rows(response.fields_data(), plan, layout, nullptr,
                                            result_count(response.fields_data()));
        sort_by_id(rows);
        return rows;
    }

    // Rows matching expr in ascending id order, offset and limit applied. One query answers
    // at most kMaxQueryWindow rows, and not every server returns the lowest ids first (Milvus
    // Lite 3 does not), so an answer is taken as the lowest ids only when it holds everything
    // that matches or a count confirms nothing below its top id is missing; otherwise the
    // matching ids are collected range by range. A read of `limit` rows asks for offset + limit
    // rows, not for a whole window.
    std::vector<Row> scan(const std::string& name, const std::string& expr, const FieldList& fields,
                          int64_t offset, int64_t limit) {
        Collection info = collection(name);
        ensure_loaded(name);
        OutputPlan plan = plan_output(fields, info.layout);
        if (limit == 0) return {};
        int64_t page = kMaxQueryWindow;
        if (plan.vector) {
            page = std::clamp<int64_t>(
                int64_t(kMaxRequestBytes / (size_t(info.layout.dim) * 4 + 256)), 1, page);
        }
        int64_t want = limit < 0 ? -1 : offset + limit;
        if (want > 0 && want < page) page = want;
        std::vector<Row> rows = query_page(name, info.layout, expr, plan, page, 0);
        if (int64_t(rows.size()) < page || (page == want && lowest_ids(name, expr, rows))) {
            return slice(std::move(rows), offset, limit);
        }
        std::vector<int64_t> ids = scan_ids(name, info.layout, expr, want);
        std::vector<int64_t> window;
        for (size_t i = size_t(offset);
             i < ids.size() && (limit < 0 || int64_t(window.size()) < limit); ++i) {
            window.push_back(ids[i]);
        }
        rows.clear();
        size_t chunk_rows = std::min<size_t>(kIdsPerExpression, size_t(page));
        for (size_t begin = 0; begin < window.size(); begin += chunk_rows) {
            size_t end = std::min(window.size(), begin + chunk_rows);
            std::span<const int64_t> chunk(window.data() + begin, end - begin);
            for (Row& row : query_page(name, info.layout, id_list_expr(chunk), plan, -1, 0))
                rows.push_back(std::move(row));
        }
        return rows;
    }

    // Whether rows (ascending, non-empty) are the lowest ids matching expr.
    bool lowest_ids(const std::string& name, const std::string& expr,
                    const std::vector<Row>& rows) {
        if (rows.empty()) return true;
        std::string below_top = id_range(std::numeric_limits<int64_t>::min(), rows.back().id);
        return count_expr(name, and_expr(expr, below_top)) == int64_t(rows.size());
    }

    static std::vector<Row> slice(std::vector<Row> rows, int64_t offset, int64_t limit) {
        if (offset >= int64_t(rows.size())) return {};
        rows.erase(rows.begin(), rows.begin() + offset);
        if (limit >= 0 && int64_t(rows.size()) > limit) rows.resize(size_t(limit));
        return rows;
    }

    static std::string id_range(int64_t lo, int64_t hi) {
        std::string range;
        if (lo != std::numeric_limits<int64_t>::min()) range = "id >= " + std::to_string(lo);
        if (hi != std::numeric_limits<int64_t>::max())
            range = and_expr(range, "id <= " + std::to_string(hi));
        return range;
    }

    // The ids matching expr, ascending; stops once `want` are known (want < 0: all). A full
    // answer for [lo, hi] is trusted only when a count confirms nothing below its top is missing;
    // otherwise the range is halved at the answer's median. Pages hold `want` ids when fewer
    // than a window are wanted.
    std::vector<int64_t> scan_ids(const std::string& name, const Layout& layout,
                                  const std::string& expr, int64_t want) {
        OutputPlan ids_only = plan_output({kFieldId}, layout);
        int64_t window = want > 0 ? std::min(want, kMaxQueryWindow) : kMaxQueryWindow;
        std::vector<int64_t> ids;
        std::vector<std::pair<int64_t, int64_t>> ranges{
            {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}};
        while (!ranges.empty() && (want < 0 || int64_t(ids.size()) < want)) {
            auto [lo, hi] = ranges.back();
            ranges.pop_back();
            auto page =
                query_page(name, layout, and_expr(expr, id_range(lo, hi)), ids_only, window, 0);
            bool complete = int64_t(page.size()) < window;
            int64_t top = page.empty() ? hi : page.back().id;
            if (!complete &&
                count_expr(name, and_expr(expr, id_range(lo, top))) == int64_t(page.size())) {
                if (top < hi) ranges.emplace_back(top + 1, hi);
                complete = true;
            }
            if (complete) {
                for (const Row& row : page) ids.push_back(row.id);
                continue;
            }
            int64_t mid = page[page.size() / 2].id;
            if (mid >= hi || mid < lo) mid = lo / 2 + hi / 2;
            ranges.emplace_back(mid + 1, hi);
            ranges.emplace_back(lo, mid);
        }
        return ids;
    }

    // The ids among `ids` that the collection holds. For insert's duplicate check
    // (`before_insert`), this client's inserts of the last second are matched here and the
    // server is asked only as of the writes before them, which it has applied already: a
    // bulk load does not wait for a time tick per batch.
    std::vector<int64_t> existing_ids(const std::string& name, std::vector<int64_t> ids,
                                      bool before_insert = false) {
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        if (ids.empty()) return {};
        Collection info = collection(name);
        ensure_loaded(name);
        OutputPlan plan = plan_output({kFieldId}, info.layout);
        std::vector<int64_t> present;
        if (before_insert) present = recently_inserted(name, ids);
        for (size_t begin = 0; begin < ids.size(); begin += kIdsPerExpression) {
            size_t end = std::min(ids.size(), begin + kIdsPerExpression);
            std::span<const int64_t> chunk(ids.data() + begin, end - begin);
            for (const Row& row :
                 query_page(name, info.layout, id_list_expr(chunk), plan, -1, 0, before_insert)) {
                present.push_back(row.id);
            }
        }
        std::sort(present.begin(), present.end());
        present.erase(std::unique(present.begin(), present.end()), present.end());
        return present;
    }

    // A replaced row keeps the time it was first added, whatever the caller sent.
    void keep_added_at(const std::string& name, std::vector<Row>& rows) {
        std::vector<int64_t> ids;
        for (const Row& row : rows) ids.push_back(row.id);
        std::unordered_map<int64_t, std::string> added;
        for (Row& row : get(name, ids, {kFieldAddedAt})) added[row.id] = std::move(row.added_at);
        for (Row& row : rows) {
            if (auto it = added.find(row.id); it != added.end() && !it->second.empty())
                row.added_at = it->second;
        }
    }

    void delete_ids(const std::string& name, const std::vector<int64_t>& ids) {
        for (size_t begin = 0; begin < ids.size(); begin += kIdsPerExpression) {
            size_t end = std::min(ids.size(), begin + kIdsPerExpression);
            pb::DeleteRequest request;
            scope(request);
            request.set_collection_name(name);
            request.set_expr(
                id_list_expr(std::span<const int64_t>(ids.data() + begin, end - begin)));
            wrote(name, client_.call("Delete", name, &Stub::Delete, request).timestamp());
        }
    }

    template <class Request>
    void write_batches(const std::string& name, const std::vector<Row>& rows, const Layout& layout,
                       const char* what,
                       grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                    pb::MutationResult*),
                       bool undo_on_failure) {
        std::vector<int64_t> written;
        for (auto [begin, end] : split_batches(rows, kMaxRequestBytes)) {
            std::span<const Row> batch(rows.data() + begin, end - begin);
            Request request;
            scope(request);
            request.set_collection_name(name);
            request.set_num_rows(uint32_t(batch.size()));
            encode_rows(batch, layout, request.mutable_fields_data());
            try {
                uint64_t timestamp = client_.call(what, name, method, request).timestamp();
                if constexpr (std::is_same_v<Request, pb::InsertRequest>) {
                    std::vector<int64_t> ids;
                    for (const Row& row : batch) ids.push_back(row.id);
                    inserted(name, timestamp, std::move(ids));
                } else {
                    wrote(name, timestamp);
                }
            } catch (const Error&) {
                if (undo_on_failure && !written.empty()) {
                    try {
                        delete_ids(name, written);  // keep the call all-or-nothing
                    } catch (const Error&) {
                    }
                }
                throw;
            }
            for (const Row& row : batch) written.push_back(row.id);
        }
    }

    std::vector<std::vector<Hit>> search_part(const std::string& name, const Collection& info,
                                              std::span<const float> queries, size_t n,
                                              const std::string& expr, const OutputPlan& plan,
                                              const SearchRequest& search) {
        pb::SearchRequest request;
        scope(request);
        request.set_collection_name(name);
        request.set_dsl(expr);
        request.set_dsl_type(pbc::BoolExprV1);
        request.set_placeholder_group(placeholder_group(queries, info.layout.dim));
        request.set_nq(int64_t(n));
        for (const auto& field : plan.server_fields) {
            if (field != kFieldId) request.add_output_fields(field);
        }
        nlohmann::json params = {{"nprobe", search.params.nprobe},
                                 {"ef", std::max(search.params.ef, search.k)}};
        const std::pair<const char*, std::string> kvs[] = {
            {"anns_field", kFieldVector},
            {"topk", std::to_string(search.k)},
            {"metric_type", std::string(metric_name(info.spec.index.metric))},
            {"params", params.dump()},
            {"round_decimal", "-1"},
            {"offset", "0"},
        };
        for (const auto& [key, value] : kvs) {
            auto* kv = request.add_search_params();
            kv->set_key(key);
            kv->set_value(value);
        }
        read_consistency(name, request);
        auto response = client_.call("Search", name, &Stub::Search, request);
        return decode_hits(response.results(), n, plan, info.layout, name);
    }

    void wait_flushed(const std::string& name, const pb::FlushResponse& response) {
        pb::GetFlushStateRequest request;
        scope(request);
        request.set_collection_name(name);
        if (auto it = response.coll_flush_ts().find(name); it != response.coll_flush_ts().end()) {
            request.set_flush_ts(it->second);
        }
        if (auto it = response.coll_segids().find(name); it != response.coll_segids().end()) {
            for (int64_t id : it->second.data()) request.add_segmentids(id);
        }
        auto deadline =
            std::chrono::steady_clock::now() +
            std::chrono::milliseconds(int64_t(std::max(options_.timeout_seconds, 1.0) * 1000));
        try {
            while (!client_.call("GetFlushState", name, &Stub::GetFlushState, request).flushed()) {
                if (std::chrono::steady_clock::now() > deadline) {
                    throw Error(ErrorCode::Unavailable,
                                "Milvus flush of collection `" + name + "` did not finish within " +
                                    std::to_string(options_.timeout_seconds) + " s");
                }
                std::this_thread::sleep_for(kPollInterval);
            }
        } catch (const Error& e) {
            if (e.code() != ErrorCode::Unsupported) throw;
        }
    }

    std::string uri_;
    StoreOptions options_;
    Client client_;
    std::mutex write_mutex_;
    std::mutex cache_mutex_;
    std::map<std::string, Collection> cache_;
    std::mutex visibility_mutex_;
    std::map<std::string, Visibility> visibility_;
};

}  // namespace

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
