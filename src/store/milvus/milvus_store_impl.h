// The Milvus backend's private header, shared by the files that implement MilvusStore:
//   milvus_store.cpp    opening, read-only guard, and visibility (which reads wait for what)
//   milvus_catalog.cpp  collections: create / drop / describe / stats, indexes, loading, flush
//   milvus_writes.cpp   insert / upsert / remove: duplicate checks, batches, deletes
//   milvus_reads.cpp    get / query / count / search: filters, the query window, scans by id
// Where Milvus's semantics differ from the Store contract (duplicate primary keys, delete
// counts, the 16384-row query window, eventual visibility) the difference is closed here, with
// extra queries where needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "clipdex/store.h"
#include "store/milvus/milvus_client.h"
#include "store/milvus/milvus_codec.h"
#include "store/milvus/milvus_store.h"

namespace clipdex::store::milvus {

constexpr size_t kIdsPerExpression = 1000;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

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
    // milvus_store.cpp
    MilvusStore(std::string uri, const StoreOptions& options)
        : uri_(std::move(uri)), options_(options), client_(parse_uri(uri_), options) {}

    void ping();

    Traffic traffic() const { return client_.traffic(); }

    std::string uri() const override { return uri_; }
    std::string backend_name() const override { return "milvus"; }

    // milvus_catalog.cpp
    std::vector<std::string> list_collections() override;
    bool has_collection(const std::string& name) override;
    void create_collection(const CollectionSpec& spec) override;
    void drop_collection(const std::string& name) override;
    CollectionInfo describe_collection(const std::string& name) override;
    void set_properties(const std::string& name,
                        const std::map<std::string, std::string>& properties) override;
    CollectionStats stats(const std::string& name) override;
    void flush(const std::string& name) override;

    // milvus_writes.cpp
    void insert(const std::string& name, std::span<const Row> rows) override;
    void upsert(const std::string& name, std::span<const Row> rows) override;
    int64_t update(const std::string& name, std::span<const RowPatch> patches) override;
    int64_t remove(const std::string& name, std::span<const int64_t> ids) override;
    int64_t remove_where(const std::string& name, const std::string& filter_text) override;

    // milvus_reads.cpp
    std::vector<Row> get(const std::string& name, std::span<const int64_t> ids,
                         const FieldList& output_fields) override;
    std::vector<Row> query(const std::string& name, const QueryRequest& request) override;
    int64_t count(const std::string& name, const std::string& filter_text) override;
    int64_t count_expr(const std::string& name, const std::string& expr);
    std::vector<std::vector<Hit>> search(const std::string& name, std::span<const float> queries,
                                         const SearchRequest& request) override;

  private:
    using Stub = pb::MilvusService::Stub;

    template <class Request>
    void scope(Request& request) const {
        if (!client_.db_name().empty()) request.set_db_name(client_.db_name());
    }

    // --- milvus_store.cpp: read-only guard and visibility ------------------------------------
    void writable() const;
    void forget(const std::string& name);

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

    void wrote(const std::string& name, uint64_t timestamp);
    void inserted(const std::string& name, uint64_t timestamp, std::vector<int64_t> ids);
    std::vector<int64_t> recently_inserted(const std::string& name,
                                           const std::vector<int64_t>& ids);

    // --- milvus_catalog.cpp -------------------------------------------------------------------
    void drop_quietly(const std::string& name);
    void create_index(const CollectionSpec& spec);
    pb::DescribeIndexResponse describe_index(const std::string& name, bool* found);
    std::string index_state(const std::string& name);
    Collection collection(const std::string& name);
    bool is_loaded(const std::string& name);
    void load(const std::string& name);
    void ensure_loaded(const std::string& name);
    void wait_flushed(const std::string& name, const pb::FlushResponse& response);

    // --- milvus_writes.cpp --------------------------------------------------------------------
    std::vector<int64_t> existing_ids(const std::string& name, std::vector<int64_t> ids,
                                      bool before_insert = false);
    void keep_added_at(const std::string& name, std::vector<Row>& rows);
    void delete_ids(const std::string& name, const std::vector<int64_t>& ids);
    template <class Request>
    void write_batches(const std::string& name, const std::vector<Row>& rows, const Layout& layout,
                       const char* what,
                       grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                    pb::MutationResult*),
                       bool undo_on_failure);

    // --- milvus_reads.cpp ---------------------------------------------------------------------
    std::string server_filter(const std::string& name, const std::string& filter_text);
    std::vector<Row> query_page(const std::string& name, const Layout& layout,
                                const std::string& expr, const OutputPlan& plan, int64_t limit,
                                int64_t offset, bool settled_only = false);
    std::vector<Row> scan(const std::string& name, const std::string& expr, const FieldList& fields,
                          int64_t offset, int64_t limit);
    bool lowest_ids(const std::string& name, const std::string& expr, const std::vector<Row>& rows);
    static std::vector<Row> slice(std::vector<Row> rows, int64_t offset, int64_t limit);
    static std::string id_range(int64_t lo, int64_t hi);
    std::vector<int64_t> scan_ids(const std::string& name, const Layout& layout,
                                  const std::string& expr, int64_t want);
    std::vector<std::vector<Hit>> search_part(const std::string& name, const Collection& info,
                                              std::span<const float> queries, size_t n,
                                              const std::string& expr, const OutputPlan& plan,
                                              const SearchRequest& search);

    std::string uri_;
    StoreOptions options_;
    Client client_;
    std::mutex write_mutex_;
    std::mutex cache_mutex_;
    std::map<std::string, Collection> cache_;
    std::mutex visibility_mutex_;
    std::map<std::string, Visibility> visibility_;
};

}  // namespace clipdex::store::milvus
