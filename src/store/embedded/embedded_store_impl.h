// The embedded store's private header, shared by the files that implement it (split by job, as
// DuckDB splits storage/). One SQLite file holds every collection; in memory each loaded
// collection is an arena holding every vector once plus an ANN index over arena slots. Each
// file's head carries the part of the design it implements:
//   embedded_store.cpp  open and close, connections, format
//   writer_lock.cpp     the writer's file lock (processes) and its owner line
//   catalog.cpp         the tables (SQLite as the source of truth), specs, create / drop / stats
//   load.cpp            loading a collection: the arena from its vector chunks, huge pages
//   snapshots.cpp       index snapshots, generations and replay, compaction
//   row_writes.cpp      insert / upsert / update / remove: row SQL and the vector chunks
//   row_reads.cpp       get / query / count: row SQL, output fields, filters to id sets
//   search.cpp          search planning: exact or through the index, filters, threads
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "clipdex/store.h"
#include "store/embedded/ann_index.h"
#include "store/embedded/huge_pages.h"
#include "store/embedded/sqlite_db.h"
#include "store/embedded/vectors.h"
#include "store/filter/filter.h"

namespace clipdex::store::embedded {

// Vectors live in chunk blobs of kChunkSlots slots each (row_writes.cpp).
constexpr int64_t kChunkSlots = 1024;
// Collections whose vectors and index take this much memory move to 2 MiB pages once they have
// been open for kHugePagesDelay (huge_pages.h), so that a command that opens, searches once and
// exits never pays for the move.
constexpr size_t kHugePagesMinBytes = size_t{32} << 20;
constexpr size_t kHugePagePieceBytes = size_t{32} << 20;
constexpr auto kHugePagesDelay = std::chrono::seconds(2);

// The writer's process lock (writer_lock.h).
class WriterLock;

// Spec <-> JSON, and the rules a spec must follow (catalog.cpp).
nlohmann::json spec_to_json(const CollectionSpec& spec);
void validate_spec(const CollectionSpec& spec, ErrorCode code);
CollectionSpec spec_from_json(const std::string& name, const std::string& text);

// Output field selection (row_reads.cpp).
struct Projection {
    bool url = true, description = true, added_at = true, updated_at = true, vector = false;
    bool all_extra = true;
    std::vector<std::string> extra_keys;
    // Only the id is asked for: the index answers alone, without reading rows from SQLite.
    bool id_only() const {
        return !url && !description && !added_at && !updated_at && !vector && !all_extra &&
               extra_keys.empty();
    }
};

Projection make_projection(const FieldList& fields);

// One collection's memory: the arena of vectors and the ANN index, current as of `generation`.
struct Collection {
    int64_t cid = 0;
    CollectionSpec spec;
    Arena arena;
    std::unique_ptr<AnnIndex> index;  // null for FLAT
    int64_t generation = 0;
    int64_t snapshot_generation = 0;
    int64_t changes_since_snapshot = 0;
    bool snapshot_damaged = false;
    std::atomic<Paging> paging{Paging::Small};  // the arena's and the index's memory
    std::atomic<int> paging_error{0};

    Collection(int64_t id, CollectionSpec s)
        : cid(id), spec(std::move(s)), arena(spec.dim, spec.index.metric) {}
    std::string table(const char* kind) const {
        return std::string(kind) + "_" + std::to_string(cid);
    }
};

struct CollectionRecord {
    int64_t cid = 0;
    std::string spec_json;
    int64_t generation = 0;
    int64_t snapshot_generation = 0;
    int64_t tomb_floor = 0;
};

std::optional<CollectionRecord> read_record(Db& db, const std::string& name);  // catalog.cpp

// A change since some generation: rows written (with their slots) and ids deleted.
struct ChangeSet {
    std::vector<std::pair<int64_t, uint32_t>> rows;  // (id, slot)
    std::vector<float> vectors;                      // rows.size() * dim
    std::vector<int64_t> tombs;
};

class EmbeddedStore final : public Store {
  public:
    // embedded_store.cpp
    EmbeddedStore(std::string path, const StoreOptions& options);
    ~EmbeddedStore() override;
    std::string uri() const override { return path_; }
    std::string backend_name() const override { return "embedded"; }

    // catalog.cpp
    std::vector<std::string> list_collections() override;
    bool has_collection(const std::string& name) override;
    void create_collection(const CollectionSpec& spec) override;
    void drop_collection(const std::string& name) override;
    CollectionInfo describe_collection(const std::string& name) override;
    void set_properties(const std::string& name,
                        const std::map<std::string, std::string>& properties) override;
    CollectionStats stats(const std::string& name) override;

    // row_writes.cpp
    void insert(const std::string& collection, std::span<const Row> rows) override;
    void upsert(const std::string& collection, std::span<const Row> rows) override;
    int64_t update(const std::string& collection, std::span<const RowPatch> patches) override;
    int64_t remove(const std::string& collection, std::span<const int64_t> ids) override;
    int64_t remove_where(const std::string& collection, const std::string& filter_text) override;

    // row_reads.cpp
    std::vector<Row> get(const std::string& collection, std::span<const int64_t> ids,
                         const FieldList& output_fields) override;
    std::vector<Row> query(const std::string& collection, const QueryRequest& request) override;
    int64_t count(const std::string& collection, const std::string& filter_text) override;

    // search.cpp
    std::vector<std::vector<Hit>> search(const std::string& collection,
                                         std::span<const float> queries,
                                         const SearchRequest& request) override;

    // snapshots.cpp
    void flush(const std::string& collection) override;

  private:
    // --- embedded_store.cpp: connections and format checks ------------------------------------
    struct Lease {
        EmbeddedStore* owner;
        std::unique_ptr<Db> db;
        Db* operator->() { return db.get(); }
        Db& operator*() { return *db; }
        Lease(EmbeddedStore* o, std::unique_ptr<Db> d) : owner(o), db(std::move(d)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() {
            std::lock_guard lock(owner->pool_mutex_);
            owner->pool_.push_back(std::move(db));
        }
    };

    Lease lease();
    void initialise(Db& db);
    void check_format(Db& db);
    void require_writable(const std::string& what) const;
    Error not_found(const std::string& name) const;

    // --- catalog.cpp --------------------------------------------------------------------------
    static int64_t count_rows(Db& db, int64_t cid, const std::string&, const std::string&);

    // --- load.cpp: loading, the arena and huge pages -------------------------------------------
    std::shared_ptr<Collection> current(const std::string& name);
    std::shared_ptr<Collection> shell(const std::string& name);
    std::shared_ptr<Collection> current_locked(const std::string& name);
    std::shared_ptr<Collection> load(const std::string& name);
    static std::vector<std::span<const uint8_t>> bulk_memory(const Collection& c);
    void move_to_huge_pages_later(const std::shared_ptr<Collection>& c);
    [[noreturn]] void translate_load_error(const std::string& name);
    void load_arena(Db& db, Collection& c);
    void read_chunks(Db& db, Collection& c, const std::vector<int64_t>& capacity);

    // --- snapshots.cpp: snapshots, replay and compaction ---------------------------------------
    // An index snapshot read and parsed, not yet attached to the arena.
    struct ParsedSnapshot {
        bool present = false;             // the collection has snapshot bytes
        std::unique_ptr<AnnIndex> index;  // null when absent, not replayable, or rejected
        std::exception_ptr error;         // why parsing failed
    };

    struct SnapshotParts {
        std::vector<std::pair<int64_t, size_t>> parts;  // part, bytes
        size_t total = 0;
    };

    SnapshotParts snapshot_parts(Db& db, const Collection& c);
    std::unique_ptr<uint8_t[]> read_snapshot(Db& db, const Collection& c,
                                             const SnapshotParts& snapshot);
    ParsedSnapshot parse_snapshot(Db& db, const Collection& c, const CollectionRecord& record);
    void load_index(Db& db, Collection& c, const CollectionRecord& record,
                    ParsedSnapshot& snapshot);
    ChangeSet read_changes(Db& db, const Collection& c, int64_t since);
    bool refresh(Collection& c);
    bool apply(Collection& c, const ChangeSet& changes, int64_t generation);
    void sync_after_write(const std::shared_ptr<Collection>& c);
    void compact_if_needed(Collection& c);
    static bool snapshot_stale(const Collection& c);
    void save_snapshot(Collection& c);

    // --- row_writes.cpp: row SQL and vector chunks ---------------------------------------------
    void validate_rows(const Collection& c, std::span<const Row> rows);
    void write_rows(const std::string& collection, std::span<const Row> rows, bool replace);
    int64_t next_generation(const Collection& c);
    void write_vectors(const Collection& c, std::vector<std::pair<uint32_t, const float*>>& writes,
                       size_t dim);
    void ensure_chunk(const Collection& c, int64_t chunk, int64_t slots_needed, size_t dim);
    template <typename Select>
    int64_t remove_ids(const std::string& collection, Select select);

    // --- row_reads.cpp: row SQL and filters ----------------------------------------------------
    filter::Expression parse_filter(const std::string& collection, const std::string& text);
    std::vector<int64_t> matching_ids(Db& db, int64_t cid, const filter::Expression& expr);
    Row read_row(Statement& stmt, const Projection& p, const std::string& collection);
    std::unordered_map<int64_t, Row> fetch_rows(const Collection& c,
                                                const std::vector<int64_t>& ids,
                                                const Projection& p, bool state_locked = false);
    void attach_vectors(const Collection& c, std::vector<Row>& rows);

    // Threads: `write_mutex_` serialises everything that changes memory (writes, loads,
    // replays); `state_mutex_` is shared by searches and exclusive only while the arena changes.
    // HNSW inserts (the slow part) run under the shared lock, as hnswlib allows inserts beside
    // searches.
    std::string path_;
    bool read_only_ = false;
    std::unique_ptr<WriterLock> lock_;
    std::unique_ptr<Db> writer_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<Db>> pool_;
    std::mutex write_mutex_;
    std::shared_mutex state_mutex_;
    std::map<std::string, std::shared_ptr<Collection>> collections_;
    // Last, so that it stops (its jobs use the members above) before anything else goes.
    HugePageWorker huge_pages_{kHugePagesDelay};
};

}  // namespace clipdex::store::embedded
