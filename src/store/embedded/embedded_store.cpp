// The embedded store: one SQLite file holds every collection.
//
// Design
// ------
// * Source of truth: SQLite in WAL mode with synchronous=FULL, 64 KiB pages. A write call is
//   one transaction, so a crash loses at most the call that had not returned. Tables, per
//   collection (numbered by `cid`, AUTOINCREMENT so a re-created name never reuses a number):
//     rows_N(id INTEGER PRIMARY KEY, url, description, added_at, updated_at, extra TEXT (JSON),
//            slot, generation)       -- the scalar fields, named as filter::to_sql expects
//     chunks_N(chunk, data BLOB)     -- the vectors, 1,024 slots per blob, float32 bit-exact
//     tombs_N(id, generation)        -- ids deleted since the last snapshot
//     snapshots_N(part, data BLOB)   -- the ANN index structure as of collections.snapshot_gen
//   plus `collections(cid, name, spec JSON, generation, snapshot_gen, tomb_floor)` and `meta`.
// * Vectors are stored once: in the chunk blobs, each row naming its slot. Freed slots are
//   reused by later inserts; an upsert rewrites its row's slot in place. Writes go through
//   sqlite3_blob_write into the chunk, so only the touched pages reach the WAL. Opening reads a
//   few large blobs (2 MiB at dim 512) instead of one row per vector.
// * The snapshot holds only the index structure (HNSW links and labels, IVF centroids and list
//   membership, about 7% of the vector bytes at M=16, dim 512), never vectors.
// * Generations: every write call bumps the collection's generation and stamps the rows it
//   writes (rows.generation) and the ids it deletes (tombs). Opening loads the arena from the
//   chunks, the index from the snapshot, then replays only rows and tombs newer than the
//   snapshot. A missing or damaged snapshot means a rebuild from the arena, never an error.
//   The same replay keeps the writer's memory and read-only processes current: after each
//   commit, and in readers whenever the collection's generation moved.
// * Snapshots are written on flush(), on close, after an IVF training, and when more than a
//   quarter of the rows (at least 50,000) changed since the last one. Writing one prunes the
//   tombs it covers and raises tomb_floor; a reader older than tomb_floor reloads fully.
// * Processes: a writer holds an exclusive flock on PATH.lock (a second writer gets
//   Error(Conflict)); read-only stores take no lock and read through WAL snapshots.
// * Threads: `write_mutex_` serialises everything that changes memory (writes, loads, replays);
//   `state_mutex_` is shared by searches and exclusive only while the arena changes. HNSW
//   inserts (the slow part) run under the shared lock, as hnswlib allows inserts beside searches.
// * Memory: the arena holds every vector once; the HNSW graph names arena slots. Opens fill
//   4 KiB pages (fast on any host); from 2 s after an open, a background worker moves large
//   collections to 2 MiB pages piece by piece (huge_pages.h), which stats reports.
// * Filtered search: the filter runs in SQLite to an id set. Small sets (or FLAT) are searched
//   exactly; large ones go through the index with an id predicate and over-fetch, falling back to
//   exact search when fewer than k come back, so a filter never starves the result.
#include "store/embedded/embedded_store.h"

#include "common/fork_join.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "store/embedded/ann_index.h"
#include "store/embedded/huge_pages.h"
#include "store/embedded/sqlite_db.h"
#include "store/embedded/vectors.h"
#include "store/filter/filter.h"

namespace clipdex::store::embedded {

namespace {

constexpr int64_t kChunkSlots = 1024;
constexpr int kPageSize = 65536;
constexpr int64_t kSnapshotPartBytes = 256LL << 20;
// Collections whose vectors and index take this much memory move to 2 MiB pages once they have
// been open for kHugePagesDelay (huge_pages.h), so that a command that opens, searches once and
// exits never pays for the move.
constexpr size_t kHugePagesMinBytes = size_t{32} << 20;
constexpr size_t kHugePagePieceBytes = size_t{32} << 20;
constexpr auto kHugePagesDelay = std::chrono::seconds(2);
constexpr int kMaxDim = 32768;
constexpr int kMaxTopK = 16384;
// Query counts from which a search call uses the batched exact kernel / several threads.
constexpr size_t kBatchExactMin = 8;
constexpr size_t kParallelQueriesMin = 16;
// Share of deleted nodes above which the HNSW graph is rebuilt without them.
constexpr double kCompactDeletedFraction = 0.3;
constexpr const char* kFormat = "clipdex-embedded";
constexpr const char* kFormatVersion = "1";

// ---------------------------------------------------------------------------------------------
// Process-level writer lock.
class FileLock {
  public:
    explicit FileLock(const std::string& db_path) : path_(db_path + ".lock") {
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0)
            throw Error(ErrorCode::Io, "embedded store " + db_path + ": cannot create lock file " +
                                           path_ + ": " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            ::close(fd_);
            if (err == EWOULDBLOCK)
                throw Error(ErrorCode::Conflict,
                            "embedded store " + db_path +
                                " is already open for writing by another process or handle "
                                "(lock " +
                                path_ + " is held); open it read-only or close the other writer");
            throw Error(ErrorCode::Io, "embedded store " + db_path + ": cannot lock " + path_ +
                                           ": " + std::strerror(err));
        }
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock() { ::close(fd_); }

  private:
    std::string path_;
    int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Spec <-> JSON.
nlohmann::json spec_to_json(const CollectionSpec& spec) {
    return {{"dim", spec.dim},
            {"index",
             {{"kind", index_kind_name(spec.index.kind)},
              {"metric", metric_name(spec.index.metric)},
              {"nlist", spec.index.nlist},
              {"m", spec.index.m},
              {"ef_construction", spec.index.ef_construction}}},
            {"description", spec.description},
            {"properties", spec.properties}};
}

void validate_spec(const CollectionSpec& spec, ErrorCode code) {
    auto bad = [&](const std::string& why) {
        throw Error(code, "collection `" + spec.name + "`: " + why);
    };
    if (spec.name.empty() || spec.name.size() > 255) bad("name must have 1 to 255 characters");
    if (!(std::isalpha(static_cast<unsigned char>(spec.name[0])) || spec.name[0] == '_'))
        bad("name must start with a letter or '_'");
    for (char c : spec.name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
            bad("name may hold only letters, digits and '_'");
    if (spec.dim < 1 || spec.dim > kMaxDim)
        bad("dim " + std::to_string(spec.dim) + " is outside 1.." + std::to_string(kMaxDim));
    if (spec.index.kind == IndexKind::IvfFlat && (spec.index.nlist < 1 || spec.index.nlist > 65536))
        bad("nlist " + std::to_string(spec.index.nlist) + " is outside 1..65536");
    if ((spec.index.kind == IndexKind::Hnsw || spec.index.kind == IndexKind::AutoIndex) &&
        (spec.index.m < 2 || spec.index.m > 512 || spec.index.ef_construction < 1 ||
         spec.index.ef_construction > 100000))
        bad("HNSW needs M in 2..512 and efConstruction in 1..100000 (got M=" +
            std::to_string(spec.index.m) +
            ", efConstruction=" + std::to_string(spec.index.ef_construction) + ")");
}

CollectionSpec spec_from_json(const std::string& name, const std::string& text) {
    CollectionSpec spec;
    spec.name = name;
    try {
        auto j = nlohmann::json::parse(text);
        spec.dim = j.at("dim").get<int>();
        const auto& index = j.at("index");
        spec.index.kind = parse_index_kind(index.at("kind").get<std::string>());
        spec.index.metric = parse_metric(index.at("metric").get<std::string>());
        spec.index.nlist = index.at("nlist").get<int>();
        spec.index.m = index.at("m").get<int>();
        spec.index.ef_construction = index.at("ef_construction").get<int>();
        spec.description = j.at("description").get<std::string>();
        spec.properties = j.at("properties").get<std::map<std::string, std::string>>();
    } catch (const Error& e) {
        throw Error(ErrorCode::Corrupt,
                    "collection `" + name + "`: stored schema is damaged: " + e.what());
    } catch (const std::exception& e) {
        throw Error(ErrorCode::Corrupt,
                    "collection `" + name + "`: stored schema is damaged: " + e.what());
    }
    validate_spec(spec, ErrorCode::Corrupt);
    return spec;
}

// ---------------------------------------------------------------------------------------------
// Output field selection.
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

Projection make_projection(const FieldList& fields) {
    Projection p;
    if (fields.empty()) return p;
    p = Projection{false, false, false, false, false, false, {}};
    for (const auto& f : fields) {
        if (f == "*") {
            p = Projection{true, true, true, true, true, true, {}};
            return p;
        }
        if (f == kFieldId) continue;
        if (f == kFieldUrl)
            p.url = true;
        else if (f == kFieldDescription)
            p.description = true;
        else if (f == kFieldAddedAt)
            p.added_at = true;
        else if (f == kFieldUpdatedAt)
            p.updated_at = true;
        else if (f == kFieldVector)
            p.vector = true;
        else if (f == "$meta")
            p.all_extra = true;
        else
            p.extra_keys.push_back(f);
    }
    return p;
}

bool is_fixed_field(const std::string& key) {
    return key == kFieldId || key == kFieldUrl || key == kFieldDescription || key == kFieldVector ||
           key == kFieldAddedAt || key == kFieldUpdatedAt;
}

void bind_where(Statement& stmt, const filter::SqlWhere& where, int first) {
    int i = first;
    for (const auto& p : where.params) {
        switch (p.kind) {
            case filter::SqlValue::Kind::Integer:
                stmt.bind(i++, p.integer);
                break;
            case filter::SqlValue::Kind::Real:
                stmt.bind(i++, p.real);
                break;
            case filter::SqlValue::Kind::Text:
                stmt.bind(i++, std::string_view(p.text));
                break;
        }
    }
}

std::string row_context(const std::string& collection, size_t index, int64_t id) {
    return "collection `" + collection + "`: row " + std::to_string(index) + " (id " +
           std::to_string(id) + ")";
}

// ---------------------------------------------------------------------------------------------
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

std::optional<CollectionRecord> read_record(Db& db, const std::string& name) {
    Statement stmt(
        db,
        "SELECT cid, spec, generation, snapshot_gen, tomb_floor FROM collections WHERE name = ?");
    stmt.bind(1, std::string_view(name));
    if (!stmt.step()) return std::nullopt;
    return CollectionRecord{stmt.column_int(0), stmt.column_text(1), stmt.column_int(2),
                            stmt.column_int(3), stmt.column_int(4)};
}

// A change since some generation: rows written (with their slots) and ids deleted.
struct ChangeSet {
    std::vector<std::pair<int64_t, uint32_t>> rows;  // (id, slot)
    std::vector<float> vectors;                      // rows.size() * dim
    std::vector<int64_t> tombs;
};

// ---------------------------------------------------------------------------------------------
class EmbeddedStore final : public Store {
  public:
    EmbeddedStore(std::string path, const StoreOptions& options)
        : path_(std::move(path)), read_only_(options.read_only) {
        if (read_only_) {
            if (!std::filesystem::exists(path_))
                throw Error(ErrorCode::NotFound,
                            "embedded store " + path_ + " does not exist (cannot open read-only)");
            auto db = std::make_unique<Db>(path_, SQLITE_OPEN_READONLY);
            check_format(*db);
            pool_.push_back(std::move(db));
            return;
        }
        lock_ = std::make_unique<FileLock>(path_);
        writer_ = std::make_unique<Db>(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        initialise(*writer_);
    }

    ~EmbeddedStore() override {
        if (read_only_) return;
        // Saving the index on close makes the next open skip the replay; failing here only
        // costs that replay, so errors are swallowed.
        std::lock_guard write(write_mutex_);
        for (auto& [name, c] : collections_) {
            try {
                if (snapshot_stale(*c)) save_snapshot(*c);
            } catch (const std::exception&) {
            }
        }
    }

    std::string uri() const override { return path_; }
    std::string backend_name() const override { return "embedded"; }

    std::vector<std::string> list_collections() override {
        auto db = lease();
        Statement stmt(*db, "SELECT name FROM collections ORDER BY name");
        std::vector<std::string> names;
        while (stmt.step()) names.push_back(stmt.column_text(0));
        return names;
    }

    bool has_collection(const std::string& name) override {
        auto db = lease();
        return read_record(*db, name).has_value();
    }

    void create_collection(const CollectionSpec& spec) override {
        require_writable("create collection `" + spec.name + "`");
        validate_spec(spec, ErrorCode::InvalidInput);
        std::lock_guard write(write_mutex_);
        Transaction tx(*writer_, true);
        if (read_record(*writer_, spec.name))
            throw Error(ErrorCode::AlreadyExists,
                        "collection `" + spec.name + "` already exists in " + path_);
        Statement insert(*writer_,
                         "INSERT INTO collections(name, spec, generation, snapshot_gen, "
                         "tomb_floor) VALUES (?, ?, 0, 0, 0)");
        insert.bind(1, std::string_view(spec.name))
            .bind(2, std::string_view(spec_to_json(spec).dump()));
        insert.run();
        std::string n = std::to_string(sqlite3_last_insert_rowid(writer_->handle()));
        writer_->exec("CREATE TABLE rows_" + n +
                      "(id INTEGER PRIMARY KEY, url TEXT NOT NULL, description TEXT NOT NULL, "
                      "added_at TEXT NOT NULL, "
                      "updated_at TEXT NOT NULL, extra TEXT NOT NULL, slot INTEGER NOT NULL, "
                      "generation INTEGER NOT NULL);"
                      "CREATE INDEX rows_" +
                      n + "_generation ON rows_" + n +
                      "(generation, slot);"
                      "CREATE TABLE chunks_" +
                      n +
                      "(chunk INTEGER PRIMARY KEY, data BLOB NOT NULL);"
                      "CREATE TABLE tombs_" +
                      n +
                      "(id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);"
                      "CREATE TABLE snapshots_" +
                      n + "(part INTEGER PRIMARY KEY, data BLOB NOT NULL);");
        tx.commit();
    }

    void drop_collection(const std::string& name) override {
        require_writable("drop collection `" + name + "`");
        std::lock_guard write(write_mutex_);
        Transaction tx(*writer_, true);
        auto record = read_record(*writer_, name);
        if (!record) throw not_found(name);
        std::string n = std::to_string(record->cid);
        writer_->exec("DROP TABLE IF EXISTS rows_" + n + "; DROP TABLE IF EXISTS chunks_" + n +
                      "; DROP TABLE IF EXISTS tombs_" + n + "; DROP TABLE IF EXISTS snapshots_" +
                      n + ";");
        Statement del(*writer_, "DELETE FROM collections WHERE cid = ?");
        del.bind(1, record->cid).run();
        tx.commit();
        std::unique_lock state(state_mutex_);
        collections_.erase(name);
    }

    CollectionInfo describe_collection(const std::string& name) override {
        auto db = lease();
        Transaction tx(*db, false);
        auto record = read_record(*db, name);
        if (!record) throw not_found(name);
        CollectionInfo info;
        info.spec = spec_from_json(name, record->spec_json);
        info.row_count = count_rows(*db, record->cid, "", name);
        return info;
    }

    CollectionStats stats(const std::string& name) override {
        auto c = current(name);
        CollectionStats s;
        {
            auto db = lease();
            s.row_count = count_rows(*db, c->cid, "", name);
        }
        s.bytes_on_disk = 0;
        std::error_code ec;
        for (const auto& suffix : {"", "-wal"}) {
            auto size = std::filesystem::file_size(path_ + suffix, ec);
            if (!ec) s.bytes_on_disk += static_cast<int64_t>(size);
        }
        std::shared_lock state(state_mutex_);
        if (!c->index)
            s.index_state = "ready (FLAT, exact)";
        else if (!c->index->ready())
            s.index_state = c->index->describe();
        else if (c->generation != c->snapshot_generation)
            s.index_state = "ready, snapshot stale (" +
                            std::to_string(c->generation - c->snapshot_generation) +
                            " writes behind)";
        else
            s.index_state = "ready";
        if (c->index && c->index->ready()) s.index_state += " (" + c->index->describe() + ")";
        if (auto paging = paging_description(c->paging, c->paging_error); !paging.empty())
            s.index_state += "; " + paging;
        return s;
    }

    void insert(const std::string& collection, std::span<const Row> rows) override {
        write_rows(collection, rows, false);
    }
    void upsert(const std::string& collection, std::span<const Row> rows) override {
        write_rows(collection, rows, true);
    }

    int64_t remove(const std::string& collection, std::span<const int64_t> ids) override {
        return remove_ids(collection, [&](Db&, const Collection&) {
            return std::vector<int64_t>(ids.begin(), ids.end());
        });
    }

    int64_t remove_where(const std::string& collection, const std::string& filter_text) override {
        auto expr = parse_filter(collection, filter_text);
        return remove_ids(
            collection, [&](Db& db, const Collection& c) { return matching_ids(db, c.cid, expr); });
    }

    std::vector<Row> get(const std::string& collection, std::span<const int64_t> ids,
                         const FieldList& output_fields) override {
        auto projection = make_projection(output_fields);
        auto c = projection.vector ? current(collection) : shell(collection);
        auto fetched = fetch_rows(*c, std::vector<int64_t>(ids.begin(), ids.end()), projection);
        std::vector<Row> out;
        out.reserve(ids.size());
        for (int64_t id : ids) {
            auto it = fetched.find(id);
            if (it != fetched.end()) out.push_back(it->second);
        }
        return out;
    }

    std::vector<Row> query(const std::string& collection, const QueryRequest& request) override {
        if (request.limit < -1)
            throw Error(ErrorCode::InvalidInput,
                        "collection `" + collection + "`: query limit must be -1 (none) or >= 0");
        if (request.offset < 0)
            throw Error(ErrorCode::InvalidInput,
                        "collection `" + collection + "`: query offset must be >= 0");
        auto expr = parse_filter(collection, request.filter);
        auto projection = make_projection(request.output_fields);
        auto c = projection.vector ? current(collection) : shell(collection);
        auto where = filter::to_sql(expr);
        std::vector<Row> out;
        {
            auto db = lease();
            Statement stmt(*db, "SELECT id, url, description, added_at, updated_at, extra FROM " +
                                    c->table("rows") + " WHERE (" + where.sql +
                                    ") ORDER BY id LIMIT ? OFFSET ?");
            bind_where(stmt, where, 1);
            int next = static_cast<int>(where.params.size()) + 1;
            stmt.bind(next, request.limit).bind(next + 1, request.offset);
            while (stmt.step()) out.push_back(read_row(stmt, projection, collection));
        }
        if (projection.vector) attach_vectors(*c, out);
        return out;
    }

    int64_t count(const std::string& collection, const std::string& filter_text) override {
        auto expr = parse_filter(collection, filter_text);
        auto db = lease();
        auto record = read_record(*db, collection);
        if (!record) throw not_found(collection);
        auto where = filter::to_sql(expr);
        Statement stmt(*db, "SELECT count(*) FROM rows_" + std::to_string(record->cid) +
                                " WHERE (" + where.sql + ")");
        bind_where(stmt, where, 1);
        stmt.step();
        return stmt.column_int(0);
    }

    std::vector<std::vector<Hit>> search(const std::string& collection,
                                         std::span<const float> queries,
                                         const SearchRequest& request) override;

    void flush(const std::string& collection) override {
        auto c = current(collection);
        if (read_only_) return;
        std::lock_guard write(write_mutex_);
        if (snapshot_stale(*c)) save_snapshot(*c);
    }

  private:
    // --- connections -------------------------------------------------------------------------
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

    Lease lease() {
        {
            std::lock_guard lock(pool_mutex_);
            if (!pool_.empty()) {
                auto db = std::move(pool_.back());
                pool_.pop_back();
                return Lease(this, std::move(db));
            }
        }
        return Lease(this, std::make_unique<Db>(
                               path_, read_only_ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE));
    }

    void initialise(Db& db) {
        bool fresh = false;
        {
            Statement stmt(db, "SELECT count(*) FROM sqlite_master");
            stmt.step();
            fresh = stmt.column_int(0) == 0;
        }
        if (fresh) db.exec("PRAGMA page_size=" + std::to_string(kPageSize));
        {
            Statement stmt(db, "PRAGMA journal_mode=WAL");
            stmt.step();
            if (stmt.column_text(0) != "wal")
                throw Error(
                    ErrorCode::Io,
                    "embedded store " + path_ +
                        ": cannot switch to WAL journaling (the file system may not support it)");
        }
        db.exec("PRAGMA synchronous=FULL");
        if (fresh) {
            Transaction tx(db, true);
            db.exec(
                "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS collections(cid INTEGER PRIMARY KEY AUTOINCREMENT, "
                "name TEXT UNIQUE NOT NULL, "
                "spec TEXT NOT NULL, generation INTEGER NOT NULL, snapshot_gen INTEGER NOT NULL, "
                "tomb_floor INTEGER NOT NULL);");
            Statement meta(
                db, "INSERT OR REPLACE INTO meta(key, value) VALUES ('format', ?), ('version', ?)");
            meta.bind(1, std::string_view(kFormat)).bind(2, std::string_view(kFormatVersion)).run();
            tx.commit();
        }
        check_format(db);
    }

    void check_format(Db& db) {
        std::string format, version;
        try {
            Statement stmt(db, "SELECT key, value FROM meta WHERE key IN ('format', 'version')");
            while (stmt.step())
                (stmt.column_text(0) == "format" ? format : version) = stmt.column_text(1);
            Statement probe(db,
                            "SELECT cid, name, spec, generation, snapshot_gen, tomb_floor FROM "
                            "collections LIMIT 0");
            probe.run();
        } catch (const Error& e) {
            if (e.code() == ErrorCode::Corrupt) throw;
            throw Error(ErrorCode::Corrupt,
                        "embedded store " + path_ + " is not a clipdex database: " + e.what());
        }
        if (format != kFormat)
            throw Error(ErrorCode::Corrupt, "embedded store " + path_ +
                                                " is not a clipdex database (no format marker)");
        if (version != kFormatVersion)
            throw Error(ErrorCode::Unsupported, "embedded store " + path_ + " has format version " +
                                                    version + "; this build reads version " +
                                                    kFormatVersion);
    }

    void require_writable(const std::string& what) const {
        if (read_only_)
            throw Error(ErrorCode::Unsupported,
                        "embedded store " + path_ + " is open read-only: cannot " + what);
    }

    Error not_found(const std::string& name) const {
        return Error(ErrorCode::NotFound, "collection `" + name + "` does not exist in " + path_);
    }

    filter::Expression parse_filter(const std::string& collection, const std::string& text) {
        try {
            return filter::parse(text);
        } catch (const Error& e) {
            throw Error(e.code(), "collection `" + collection + "`: " + e.what());
        }
    }

    static int64_t count_rows(Db& db, int64_t cid, const std::string&, const std::string&) {
        Statement stmt(db, "SELECT count(*) FROM rows_" + std::to_string(cid));
        stmt.step();
        return stmt.column_int(0);
    }

    std::vector<int64_t> matching_ids(Db& db, int64_t cid, const filter::Expression& expr) {
        auto where = filter::to_sql(expr);
        Statement stmt(db, "SELECT id FROM rows_" + std::to_string(cid) + " WHERE (" + where.sql +
                               ") ORDER BY id");
        bind_where(stmt, where, 1);
        std::vector<int64_t> ids;
        while (stmt.step()) ids.push_back(stmt.column_int(0));
        return ids;
    }

    // --- loading and replay ------------------------------------------------------------------

    // The collection, loaded and current. Writers are always current after their own writes;
    // read-only stores replay whatever other processes committed since.
    std::shared_ptr<Collection> current(const std::string& name) {
        {
            std::shared_lock state(state_mutex_);
            auto it = collections_.find(name);
            if (it != collections_.end() && !read_only_) return it->second;
        }
        std::lock_guard write(write_mutex_);
        return current_locked(name);
    }

    // Metadata-only reads need the table names, not the vectors: the loaded collection when
    // there is one, else an empty shell.
    std::shared_ptr<Collection> shell(const std::string& name) {
        {
            std::shared_lock state(state_mutex_);
            auto it = collections_.find(name);
            if (it != collections_.end()) return it->second;
        }
        auto db = lease();
        auto record = read_record(*db, name);
        if (!record) throw not_found(name);
        return std::make_shared<Collection>(record->cid, spec_from_json(name, record->spec_json));
    }

    std::shared_ptr<Collection> current_locked(const std::string& name) {
        std::shared_ptr<Collection> c;
        {
            std::shared_lock state(state_mutex_);
            auto it = collections_.find(name);
            if (it != collections_.end()) c = it->second;
        }
        if (c && !read_only_) return c;
        if (c) {
            try {
                if (refresh(*c)) return c;
            } catch (const Error& e) {
                if (e.code() == ErrorCode::NotFound) {
                    std::unique_lock state(state_mutex_);
                    collections_.erase(name);
                }
                throw;
            }
        }
        auto loaded = load(name);
        std::unique_lock state(state_mutex_);
        collections_[name] = loaded;
        return loaded;
    }

    std::shared_ptr<Collection> load(const std::string& name) {
        auto db = lease();
        Transaction tx(*db, false);
        auto record = read_record(*db, name);
        if (!record) throw not_found(name);
        auto c = std::make_shared<Collection>(record->cid, spec_from_json(name, record->spec_json));
        c->generation = record->generation;
        c->snapshot_generation = record->snapshot_generation;
        // The index snapshot is parsed on a second thread while the arena loads: both are mostly
        // memory being filled for the first time. Only a writer may read them in two
        // transactions (no other process can commit in between); a read-only store reads both
        // in its one transaction.
        ParsedSnapshot snapshot;
        auto parse = [&](Db& from) {
            try {
                snapshot = parse_snapshot(from, *c, *record);
            } catch (...) {
                snapshot.error = std::current_exception();
            }
        };
        std::thread parser;
        if (!read_only_ && c->spec.index.kind != IndexKind::Flat)
            parser = std::thread([&] {
                try {
                    auto other = lease();
                    Transaction other_tx(*other, false);
                    parse(*other);
                } catch (...) {
                    snapshot.error = std::current_exception();
                }
            });
        try {
            load_arena(*db, *c);
        } catch (...) {
            if (parser.joinable()) parser.join();
            translate_load_error(name);
        }
        if (parser.joinable())
            parser.join();
        else
            parse(*db);
        load_index(*db, *c, *record, snapshot);
        move_to_huge_pages_later(c);
        return c;
    }

    // The memory of a collection that huge pages help: its vectors and its index's bulk.
    static std::vector<std::span<const uint8_t>> bulk_memory(const Collection& c) {
        std::vector<std::span<const uint8_t>> out{c.arena.storage()};
        if (c.index) out.push_back(c.index->bulk_memory());
        return out;
    }

    // Queues a large collection for huge_pages_, which collapses its memory piece by piece,
    // each piece under the shared lock (the arena cannot move meanwhile; a writer waits for one
    // piece at most).
    void move_to_huge_pages_later(const std::shared_ptr<Collection>& c) {
        size_t total = 0;
        for (auto range : bulk_memory(*c)) total += range.size();
        if (total < kHugePagesMinBytes) return;
        c->paging = Paging::Moving;
        huge_pages_.post([this, weak = std::weak_ptr<Collection>(c), range = size_t{0},
                          offset = size_t{0}]() mutable {
            auto c = weak.lock();
            if (!c) return false;
            std::shared_lock state(state_mutex_);
            auto ranges = bulk_memory(*c);
            while (range < ranges.size() && offset >= ranges[range].size()) {
                ++range;
                offset = 0;
            }
            if (range == ranges.size()) {
                c->paging = Paging::Huge;
                return false;
            }
            int error = 0;
            offset += collapse_piece(ranges[range], offset, kHugePagePieceBytes, error);
            if (error) {
                c->paging_error = error;
                c->paging = Paging::Refused;
                return false;
            }
            return true;
        });
    }

    [[noreturn]] void translate_load_error(const std::string& name) {
        try {
            throw;
        } catch (const std::bad_alloc&) {
            throw Error(ErrorCode::Corrupt, "collection `" + name + "` in " + path_ +
                                                ": vector storage too large to load");
        }
    }

    void load_arena(Db& db, Collection& c) {
        const size_t dim = static_cast<size_t>(c.spec.dim);
        const int64_t chunk_bytes = kChunkSlots * static_cast<int64_t>(dim) * 4;
        std::vector<int64_t> capacity;  // slots available per chunk
        {
            Statement stmt(
                db, "SELECT chunk, length(data) FROM " + c.table("chunks") + " ORDER BY chunk");
            while (stmt.step()) {
                int64_t chunk = stmt.column_int(0), bytes = stmt.column_int(1);
                if (chunk != static_cast<int64_t>(capacity.size()) || bytes <= 0 ||
                    bytes > chunk_bytes || bytes % static_cast<int64_t>(dim * 4) != 0)
                    throw Error(ErrorCode::Corrupt, "collection `" + c.spec.name + "` in " + path_ +
                                                        ": vector chunk " + std::to_string(chunk) +
                                                        " is damaged");
                capacity.push_back(bytes / static_cast<int64_t>(dim * 4));
            }
        }
        if (!capacity.empty()) {
            size_t total = static_cast<size_t>(kChunkSlots) * (capacity.size() - 1) +
                           static_cast<size_t>(capacity.back());
            c.arena.reserve_slots(total, false);  // every slot is read below
            read_chunks(db, c, capacity);
        }
        Statement rows(db, "SELECT id, slot FROM " + c.table("rows") + " INDEXED BY " +
                               c.table("rows") + "_generation");
        while (rows.step()) {
            int64_t id = rows.column_int(0), slot = rows.column_int(1);
            if (slot < 0 || static_cast<size_t>(slot) >= c.arena.slot_count() ||
                c.arena.used(static_cast<uint32_t>(slot)))
                throw Error(ErrorCode::Corrupt,
                            "collection `" + c.spec.name + "` in " + path_ + ": row id " +
                                std::to_string(id) + " points at vector slot " +
                                std::to_string(slot) + " which is missing or shared");
            c.arena.adopt(id, static_cast<uint32_t>(slot), false);
        }
    }

    // Blob reads copy the pages straight into the arena (a column read would first assemble
    // each 2 MiB chunk in a buffer of its own); COSINE's 1/|v| is computed per chunk while it is
    // still in cache. A writer reads on every core, each thread in a read transaction of its
    // own (no other process can commit in between); a read-only store keeps its one transaction.
    void read_chunks(Db& db, Collection& c, const std::vector<int64_t>& capacity) {
        const size_t dim = static_cast<size_t>(c.spec.dim);
        auto read_range = [&](Db& from, size_t first, size_t step) {
            for (size_t chunk = first; chunk < capacity.size(); chunk += step) {
                auto count = static_cast<size_t>(capacity[chunk]);
                auto slot = static_cast<uint32_t>(chunk * kChunkSlots);
                auto* out = reinterpret_cast<uint8_t*>(c.arena.mutable_slots(slot, count));
                from.blob_read(c.table("chunks"), "data", static_cast<int64_t>(chunk), 0,
                               {out, count * dim * 4});
                c.arena.compute_inverse_norms(slot, count);
            }
        };
        size_t threads = std::min<size_t>(std::thread::hardware_concurrency(), 4);
        if (read_only_ || threads < 2 || capacity.size() < 64) {
            read_range(db, 0, 1);
            return;
        }
        fork_join(threads, [&](size_t t) {
            if (t == 0) return read_range(db, 0, threads);
            auto other = lease();
            Transaction other_tx(*other, false);
            read_range(*other, t, threads);
        });
    }

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

    SnapshotParts snapshot_parts(Db& db, const Collection& c) {
        SnapshotParts out;
        Statement stmt(db,
                       "SELECT part, length(data) FROM " + c.table("snapshots") + " ORDER BY part");
        while (stmt.step()) {
            int64_t part = stmt.column_int(0), bytes = stmt.column_int(1);
            if (bytes < 0 || bytes > kSnapshotPartBytes)
                throw Error(ErrorCode::Corrupt, "collection `" + c.spec.name + "` in " + path_ +
                                                    ": index snapshot part " +
                                                    std::to_string(part) + " has a bad size");
            out.parts.emplace_back(part, static_cast<size_t>(bytes));
            out.total += static_cast<size_t>(bytes);
        }
        return out;
    }

    // The parts are read straight into one buffer sized up front: a column read would first
    // copy each into SQLite's own buffer, and appending would copy again as the buffer grew
    // (at 1M vectors, 300 MB of fresh pages per open).
    std::unique_ptr<uint8_t[]> read_snapshot(Db& db, const Collection& c,
                                             const SnapshotParts& snapshot) {
        std::unique_ptr<uint8_t[]> bytes(new uint8_t[snapshot.total]);
        embedded::prefault(bytes.get(), snapshot.total);
        size_t offset = 0;
        for (auto [part, size] : snapshot.parts) {
            db.blob_read(c.table("snapshots"), "data", part, 0, {bytes.get() + offset, size});
            offset += size;
        }
        return bytes;
    }

    ParsedSnapshot parse_snapshot(Db& db, const Collection& c, const CollectionRecord& record) {
        ParsedSnapshot out;
        if (c.spec.index.kind == IndexKind::Flat) return out;
        auto parts = snapshot_parts(db, c);
        out.present = parts.total > 0;
        bool replayable = out.present && record.snapshot_generation <= record.generation &&
                          record.tomb_floor <= record.snapshot_generation;
        if (!replayable) return out;
        try {
            auto bytes = read_snapshot(db, c, parts);
            out.index = embedded::parse_index(c.spec.index, c.spec.dim, {bytes.get(), parts.total});
        } catch (const std::bad_alloc&) {
            throw Error(ErrorCode::Corrupt,
                        "collection `" + c.spec.name + "`: index snapshot too large");
        } catch (const std::runtime_error& e) {
            if (dynamic_cast<const Error*>(&e)) throw;
            throw Error(ErrorCode::Corrupt,
                        "collection `" + c.spec.name + "`: index snapshot rejected: " + e.what());
        }
        return out;
    }

    void load_index(Db& db, Collection& c, const CollectionRecord& record,
                    ParsedSnapshot& snapshot) {
        c.index = make_index(c.spec.index, c.spec.dim);
        if (!c.index) return;
        if (snapshot.index || snapshot.error) {
            try {
                if (snapshot.error) std::rethrow_exception(snapshot.error);
                snapshot.index->attach(c.arena);
                c.index = std::move(snapshot.index);
                auto changes = read_changes(db, c, record.snapshot_generation);
                for (int64_t id : changes.tombs) c.index->remove(id);
                c.index->reserve(changes.rows.size());
                // The arena is already current, so every changed row is upserted from it.
                for (const auto& [id, slot] : changes.rows) c.index->upsert(id, slot, c.arena);
                return;
            } catch (const Error& e) {
                if (e.code() != ErrorCode::Corrupt) throw;
                c.snapshot_damaged = true;  // rebuilt below and rewritten by the next flush
            }
        }
        c.index = make_index(c.spec.index, c.spec.dim);
        c.index->build(c.arena);
        c.snapshot_generation = snapshot.present ? c.snapshot_generation : -1;
        if (!snapshot.present && c.arena.size() == 0) c.snapshot_generation = c.generation;
    }

    // Rows (with their vectors) and tombs newer than `since`.
    ChangeSet read_changes(Db& db, const Collection& c, int64_t since) {
        ChangeSet changes;
        const size_t dim = static_cast<size_t>(c.spec.dim);
        {
            Statement stmt(db, "SELECT id, slot FROM " + c.table("rows") + " WHERE generation > ?");
            stmt.bind(1, since);
            while (stmt.step()) {
                int64_t slot = stmt.column_int(1);
                if (slot < 0 || slot > std::numeric_limits<uint32_t>::max())
                    throw Error(ErrorCode::Corrupt, "collection `" + c.spec.name + "`: row id " +
                                                        std::to_string(stmt.column_int(0)) +
                                                        " has a bad slot");
                changes.rows.emplace_back(stmt.column_int(0), static_cast<uint32_t>(slot));
            }
        }
        // In slot order, so that a run of consecutive slots (a bulk insert) is one blob read
        // instead of one blob open per row.
        std::sort(changes.rows.begin(), changes.rows.end(),
                  [](const auto& a, const auto& b) { return a.second < b.second; });
        changes.vectors.resize(changes.rows.size() * dim);
        for (size_t i = 0; i < changes.rows.size();) {
            uint32_t first = changes.rows[i].second;
            size_t j = i + 1;
            while (j < changes.rows.size() && changes.rows[j].second == first + (j - i) &&
                   changes.rows[j].second / kChunkSlots == first / kChunkSlots)
                ++j;
            auto* out = reinterpret_cast<uint8_t*>(changes.vectors.data() + i * dim);
            db.blob_read(c.table("chunks"), "data", first / kChunkSlots,
                         static_cast<int64_t>((first % kChunkSlots) * dim * 4),
                         {out, (j - i) * dim * 4});
            i = j;
        }
        Statement tombs(db, "SELECT id FROM " + c.table("tombs") + " WHERE generation > ?");
        tombs.bind(1, since);
        while (tombs.step()) changes.tombs.push_back(tombs.column_int(0));
        return changes;
    }

    // Brings `c` up to the database's generation. False when a full reload is needed instead.
    // Caller holds write_mutex_.
    bool refresh(Collection& c) {
        ChangeSet changes;
        int64_t generation = 0;
        {
            auto db = lease();
            Transaction tx(*db, false);
            auto record = read_record(*db, c.spec.name);
            if (!record) throw not_found(c.spec.name);
            if (record->cid != c.cid || record->tomb_floor > c.generation) return false;
            if (record->generation == c.generation) return true;
            generation = record->generation;
            changes = read_changes(*db, c, c.generation);
            c.snapshot_generation = record->snapshot_generation;
        }
        return apply(c, changes, generation);
    }

    bool apply(Collection& c, const ChangeSet& changes, int64_t generation) {
        const size_t dim = static_cast<size_t>(c.spec.dim);
        {
            std::unique_lock state(state_mutex_);
            std::unordered_set<int64_t> rewritten;
            for (const auto& [id, slot] : changes.rows) rewritten.insert(id);
            for (int64_t id : changes.tombs) {
                c.arena.erase(id);
                if (c.index && !rewritten.count(id)) c.index->remove(id);
            }
            for (const auto& [id, slot] : changes.rows) c.arena.erase(id);
            for (size_t i = 0; i < changes.rows.size(); ++i) {
                auto [id, slot] = changes.rows[i];
                if (slot < c.arena.slot_count() && c.arena.used(slot))
                    return false;  // inconsistent: reload
                c.arena.put(id, slot, changes.vectors.data() + i * dim);
            }
            if (c.index) c.index->reserve(changes.rows.size());
            c.generation = generation;
            c.changes_since_snapshot +=
                static_cast<int64_t>(changes.rows.size() + changes.tombs.size());
            if (!c.index || !c.index->concurrent_upserts()) {
                if (c.index) {
                    bool was_ready = c.index->ready();
                    for (const auto& [id, slot] : changes.rows) c.index->upsert(id, slot, c.arena);
                    if (!was_ready && c.index->ready())
                        c.changes_since_snapshot = std::numeric_limits<int32_t>::max();
                }
                return true;
            }
        }
        // HNSW inserts are the slow part; hnswlib lets them run beside searches.
        std::shared_lock state(state_mutex_);
        std::atomic<size_t> next{0};
        fork_join(changes.rows.size() >= 2000 ? 2 : 1, [&](size_t) {
            for (size_t i = next++; i < changes.rows.size(); i = next++)
                c.index->upsert(changes.rows[i].first, changes.rows[i].second, c.arena);
        });
        return true;
    }

    // Replays the writer's own commit into memory; on any failure the collection is dropped
    // from memory and reloaded from the file on next use.
    void sync_after_write(const std::shared_ptr<Collection>& c) {
        bool ok = false;
        try {
            ok = refresh(*c);
        } catch (...) {
            std::unique_lock state(state_mutex_);
            collections_.erase(c->spec.name);
            throw;
        }
        if (!ok) {
            auto loaded = load(c->spec.name);
            std::unique_lock state(state_mutex_);
            collections_[c->spec.name] = loaded;
            return;
        }
        compact_if_needed(*c);
        int64_t threshold = std::max<int64_t>(50000, static_cast<int64_t>(c->arena.size()) / 4);
        if (c->index && c->index->ready() && c->changes_since_snapshot > threshold)
            save_snapshot(*c);
    }

    // Deleted HNSW nodes stay in the graph (hnswlib marks them), costing memory and search
    // time; past kCompactDeletedFraction the index is rebuilt from the live vectors. The new
    // index is built beside searches and swapped in under the exclusive lock. Caller holds
    // write_mutex_.
    void compact_if_needed(Collection& c) {
        if (!c.index || c.index->deleted_fraction() <= kCompactDeletedFraction) return;
        auto fresh = make_index(c.spec.index, c.spec.dim);
        {
            std::shared_lock state(state_mutex_);
            fresh->build(c.arena);
        }
        std::unique_lock state(state_mutex_);
        c.index = std::move(fresh);
        c.changes_since_snapshot =
            std::numeric_limits<int32_t>::max();  // the old snapshot is worth little now
    }

    static bool snapshot_stale(const Collection& c) {
        return c.generation != c.snapshot_generation || c.snapshot_damaged;
    }

    // Writes the index structure as of c.generation (FLAT has none: then only the tombs it
    // covers are pruned).
    void save_snapshot(Collection& c) {
        std::vector<uint8_t> bytes;
        if (c.index) {
            std::shared_lock state(state_mutex_);
            bytes = c.index->save();
        }
        Transaction tx(*writer_, true);
        writer_->exec("DELETE FROM " + c.table("snapshots"));
        Statement insert(*writer_,
                         "INSERT INTO " + c.table("snapshots") + "(part, data) VALUES (?, ?)");
        for (int64_t offset = 0, part = 0; offset < static_cast<int64_t>(bytes.size());
             offset += kSnapshotPartBytes, ++part) {
            size_t size = std::min<size_t>(static_cast<size_t>(kSnapshotPartBytes),
                                           bytes.size() - static_cast<size_t>(offset));
            insert.reset();
            insert.bind(1, part).bind_blob(2, {bytes.data() + offset, size}).run();
        }
        Statement tombs(*writer_, "DELETE FROM " + c.table("tombs") + " WHERE generation <= ?");
        tombs.bind(1, c.generation).run();
        Statement meta(*writer_,
                       "UPDATE collections SET snapshot_gen = ?, tomb_floor = ? WHERE cid = ?");
        meta.bind(1, c.generation).bind(2, c.generation).bind(3, c.cid).run();
        tx.commit();
        c.snapshot_generation = c.generation;
        c.changes_since_snapshot = 0;
        c.snapshot_damaged = false;
    }

    // --- writes ------------------------------------------------------------------------------
    void validate_rows(const Collection& c, std::span<const Row> rows) {
        const auto& name = c.spec.name;
        const size_t dim = static_cast<size_t>(c.spec.dim);
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row& r = rows[i];
            auto bad = [&](const std::string& why) {
                throw Error(ErrorCode::InvalidInput, row_context(name, i, r.id) + ": " + why);
            };
            if (r.vector.size() != dim)
                bad("field `vector` has " + std::to_string(r.vector.size()) +
                    " values but the collection's dimension is " + std::to_string(dim));
            double norm = 0;
            for (size_t j = 0; j < dim; ++j) {
                if (!std::isfinite(r.vector[j]))
                    bad("field `vector` value " + std::to_string(j) + " is " +
                        (std::isnan(r.vector[j]) ? "NaN" : "infinite"));
                norm += static_cast<double>(r.vector[j]) * r.vector[j];
            }
            if (c.spec.index.metric == Metric::Cosine && !(norm > 0))
                bad("field `vector` is all zeros, which COSINE cannot normalise");
            if (r.url.size() > kMaxUrlBytes)
                bad("field `url` has " + std::to_string(r.url.size()) + " bytes (limit " +
                    std::to_string(kMaxUrlBytes) + ")");
            if (r.added_at.size() > kMaxTimestampBytes)
                bad("field `added_at` is longer than 50 bytes");
            if (r.updated_at.size() > kMaxTimestampBytes)
                bad("field `updated_at` is longer than 50 bytes");
            if (!r.extra.is_object()) bad("dynamic fields must be a JSON object");
            for (const auto& [key, value] : r.extra.items())
                if (is_fixed_field(key) || key.empty() || key == "$meta")
                    bad("dynamic field `" + key + "` clashes with a schema field");
        }
    }

    void write_rows(const std::string& collection, std::span<const Row> rows, bool replace) {
        require_writable(std::string(replace ? "upsert into" : "insert into") + " collection `" +
                         collection + "`");
        std::lock_guard write(write_mutex_);
        auto c = current_locked(collection);
        validate_rows(*c, rows);
        if (rows.empty()) return;
        std::string now = utc_timestamp_now();
        const size_t dim = static_cast<size_t>(c->spec.dim);
        {
            Transaction tx(*writer_, true);
            int64_t generation = next_generation(*c);
            Statement find(*writer_,
                           "SELECT slot, added_at FROM " + c->table("rows") + " WHERE id = ?");
            Statement put(*writer_, "INSERT OR REPLACE INTO " + c->table("rows") +
                                        "(id, url, description, added_at, updated_at, extra, slot, "
                                        "generation) VALUES (?,?,?,?,?,?,?,?)");
            auto free_slots = c->arena.free_slots(rows.size());
            size_t next_free = 0;
            std::vector<std::pair<uint32_t, const float*>> writes;
            writes.reserve(rows.size());
            for (size_t i = 0; i < rows.size(); ++i) {
                const Row& r = rows[i];
                find.reset();
                find.bind(1, r.id);
                uint32_t slot = 0;
                std::string added_at = r.added_at.empty() ? now : r.added_at;
                if (find.step()) {
                    if (!replace)
                        throw Error(ErrorCode::AlreadyExists,
                                    row_context(collection, i, r.id) + ": id already exists");
                    slot = static_cast<uint32_t>(find.column_int(0));
                    added_at = find.column_text(1);
                } else {
                    slot = free_slots[next_free++];
                }
                put.reset();
                put.bind(1, r.id)
                    .bind(2, std::string_view(r.url))
                    .bind(3, std::string_view(r.description));
                put.bind(4, std::string_view(added_at))
                    .bind(5, std::string_view(r.updated_at.empty() ? now : r.updated_at));
                put.bind(6, std::string_view(r.extra.dump()))
                    .bind(7, static_cast<int64_t>(slot))
                    .bind(8, generation);
                put.run();
                writes.emplace_back(slot, r.vector.data());
            }
            write_vectors(*c, writes, dim);
            tx.commit();
        }
        sync_after_write(c);
    }

    int64_t next_generation(const Collection& c) {
        Statement bump(*writer_,
                       "UPDATE collections SET generation = generation + 1 WHERE cid = ? RETURNING "
                       "generation");
        bump.bind(1, c.cid);
        if (!bump.step()) throw not_found(c.spec.name);
        return bump.column_int(0);
    }

    // Writes vectors into their chunk blobs, growing a chunk (doubling, up to kChunkSlots) when a
    // slot lies past its end. Consecutive slots go out in one blob write; when one id comes twice
    // in a batch its slot repeats and the last vector wins, as the row does.
    void write_vectors(const Collection& c, std::vector<std::pair<uint32_t, const float*>>& writes,
                       size_t dim) {
        std::stable_sort(writes.begin(), writes.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<std::pair<uint32_t, const float*>> unique;
        for (const auto& w : writes) {
            if (!unique.empty() && unique.back().first == w.first)
                unique.back() = w;
            else
                unique.push_back(w);
        }
        const std::string chunks = c.table("chunks");
        std::vector<uint8_t> buffer;
        for (size_t i = 0; i < unique.size();) {
            int64_t chunk = unique[i].first / kChunkSlots;
            size_t j = i;
            while (j + 1 < unique.size() && unique[j + 1].first == unique[j].first + 1 &&
                   unique[j + 1].first / kChunkSlots == chunk)
                ++j;
            uint32_t first = unique[i].first;
            size_t count = j - i + 1;
            ensure_chunk(c, chunk, (first % kChunkSlots) + static_cast<int64_t>(count), dim);
            buffer.resize(count * dim * 4);
            for (size_t k = 0; k < count; ++k)
                std::memcpy(buffer.data() + k * dim * 4, unique[i + k].second, dim * 4);
            writer_->blob_write(chunks, "data", chunk,
                                static_cast<int64_t>((first % kChunkSlots) * dim * 4), buffer);
            i = j + 1;
        }
    }

    void ensure_chunk(const Collection& c, int64_t chunk, int64_t slots_needed, size_t dim) {
        const std::string chunks = c.table("chunks");
        const int64_t slot_bytes = static_cast<int64_t>(dim) * 4;
        Statement find(*writer_, "SELECT length(data) FROM " + chunks + " WHERE chunk = ?");
        find.bind(1, chunk);
        int64_t have = find.step() ? find.column_int(0) / slot_bytes : -1;
        if (have >= slots_needed) return;
        int64_t grow = std::max<int64_t>(have, 16);
        while (grow < slots_needed) grow *= 2;
        grow = std::min(grow, kChunkSlots);
        if (have < 0) {
            Statement insert(*writer_, "INSERT INTO " + chunks + "(chunk, data) VALUES (?, ?)");
            insert.bind(1, chunk).bind_zeroblob(2, grow * slot_bytes).run();
            return;
        }
        std::vector<uint8_t> old(static_cast<size_t>(have * slot_bytes));
        writer_->blob_read(chunks, "data", chunk, 0, old);
        Statement update(*writer_, "UPDATE " + chunks + " SET data = ? WHERE chunk = ?");
        update.bind_zeroblob(1, grow * slot_bytes).bind(2, chunk).run();
        if (!old.empty()) writer_->blob_write(chunks, "data", chunk, 0, old);
    }

    template <typename Select>
    int64_t remove_ids(const std::string& collection, Select select) {
        require_writable("remove from collection `" + collection + "`");
        std::lock_guard write(write_mutex_);
        auto c = current_locked(collection);
        int64_t removed = 0;
        {
            Transaction tx(*writer_, true);
            auto ids = select(*writer_, *c);
            if (ids.empty()) return 0;
            int64_t generation = next_generation(*c);
            Statement del(*writer_, "DELETE FROM " + c->table("rows") + " WHERE id = ?");
            Statement tomb(*writer_, "INSERT OR REPLACE INTO " + c->table("tombs") +
                                         "(id, generation) VALUES (?, ?)");
            for (int64_t id : ids) {
                del.reset();
                del.bind(1, id).run();
                if (writer_->changes() == 0) continue;
                ++removed;
                tomb.reset();
                tomb.bind(1, id).bind(2, generation).run();
            }
            if (removed == 0) return 0;  // rolls back the generation bump
            // Commit and unindex together, so a search never finds an id whose row is gone.
            std::unique_lock state(state_mutex_);
            tx.commit();
            for (int64_t id : ids) {
                c->arena.erase(id);
                if (c->index) c->index->remove(id);
            }
        }
        sync_after_write(c);
        return removed;
    }

    // --- reads -------------------------------------------------------------------------------
    Row read_row(Statement& stmt, const Projection& p, const std::string& collection) {
        Row row;
        row.id = stmt.column_int(0);
        if (p.url) row.url = stmt.column_text(1);
        if (p.description) row.description = stmt.column_text(2);
        if (p.added_at) row.added_at = stmt.column_text(3);
        if (p.updated_at) row.updated_at = stmt.column_text(4);
        if (p.all_extra || !p.extra_keys.empty()) {
            nlohmann::json extra;
            try {
                extra = nlohmann::json::parse(stmt.column_text(5));
            } catch (const std::exception& e) {
                throw Error(ErrorCode::Corrupt,
                            "collection `" + collection + "`: row id " + std::to_string(row.id) +
                                ": stored dynamic fields are damaged: " + e.what());
            }
            if (!extra.is_object())
                throw Error(ErrorCode::Corrupt, "collection `" + collection + "`: row id " +
                                                    std::to_string(row.id) +
                                                    ": dynamic fields are not an object");
            if (p.all_extra) {
                row.extra = std::move(extra);
            } else {
                for (const auto& key : p.extra_keys)
                    if (extra.contains(key)) row.extra[key] = extra[key];
            }
        }
        return row;
    }

    // `state_locked`: the caller already holds state_mutex_ (shared), which is not recursive.
    std::unordered_map<int64_t, Row> fetch_rows(const Collection& c,
                                                const std::vector<int64_t>& ids,
                                                const Projection& p, bool state_locked = false) {
        std::unordered_map<int64_t, Row> out;
        {
            auto db = lease();
            Transaction tx(*db, false);
            constexpr size_t kBatch = 256;
            std::string placeholders;
            for (size_t start = 0; start < ids.size(); start += kBatch) {
                size_t n = std::min(kBatch, ids.size() - start);
                placeholders.clear();
                for (size_t i = 0; i < n; ++i) placeholders += i ? ",?" : "?";
                Statement stmt(*db,
                               "SELECT id, url, description, added_at, updated_at, extra FROM " +
                                   c.table("rows") + " WHERE id IN (" + placeholders + ")");
                for (size_t i = 0; i < n; ++i) stmt.bind(static_cast<int>(i + 1), ids[start + i]);
                while (stmt.step()) {
                    Row row = read_row(stmt, p, c.spec.name);
                    out.emplace(row.id, std::move(row));
                }
            }
        }
        if (p.vector) {
            std::shared_lock state(state_mutex_, std::defer_lock);
            if (!state_locked) state.lock();
            for (auto& [id, row] : out) {
                int64_t slot = c.arena.slot_of(id);
                if (slot < 0) continue;
                const float* v = c.arena.vector_at(static_cast<uint32_t>(slot));
                row.vector.assign(v, v + c.spec.dim);
            }
        }
        return out;
    }

    void attach_vectors(const Collection& c, std::vector<Row>& rows) {
        std::shared_lock state(state_mutex_);
        for (auto& row : rows) {
            int64_t slot = c.arena.slot_of(row.id);
            if (slot < 0) continue;
            const float* v = c.arena.vector_at(static_cast<uint32_t>(slot));
            row.vector.assign(v, v + c.spec.dim);
        }
    }

    std::string path_;
    bool read_only_ = false;
    std::unique_ptr<FileLock> lock_;
    std::unique_ptr<Db> writer_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<Db>> pool_;
    std::mutex write_mutex_;
    std::shared_mutex state_mutex_;
    std::map<std::string, std::shared_ptr<Collection>> collections_;
    // Last, so that it stops (its jobs use the members above) before anything else goes.
    HugePageWorker huge_pages_{kHugePagesDelay};
};

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

}  // namespace

std::unique_ptr<Store> open_embedded_store(const std::string& path, const StoreOptions& options) {
    return std::make_unique<EmbeddedStore>(path, options);
}

}  // namespace clipdex::store::embedded
