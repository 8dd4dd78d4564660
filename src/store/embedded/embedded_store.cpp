// The embedded store: one SQLite file holds every collection (embedded_store_impl.h maps the
// files that implement it). This file opens and closes it: the writer's lock, the pool of
// connections and the checks that the file is a clipdex database.
//
// * Processes: a writer holds an exclusive flock on PATH.lock with its owner line in it
//   (writer_lock.h; a second writer gets Error(Conflict) naming the first); read-only stores
//   take no lock and read through WAL snapshots.
#include "store/embedded/embedded_store.h"

#include <exception>
#include <filesystem>

#include "store/embedded/embedded_store_impl.h"
#include "store/embedded/writer_lock.h"

namespace clipdex::store::embedded {

namespace {

constexpr int kPageSize = 65536;
constexpr const char* kFormat = "clipdex-embedded";
constexpr const char* kFormatVersion = "1";

}  // namespace

EmbeddedStore::EmbeddedStore(std::string path, const StoreOptions& options)
    : path_(std::move(path)), read_only_(options.read_only) {
    if (read_only_) {
        if (!std::filesystem::exists(path_))
            throw Error(ErrorCode::NotFound,
                        "database " + path_ + " does not exist (nothing was written to it yet)");
        auto db = std::make_unique<Db>(path_, SQLITE_OPEN_READONLY);
        check_format(*db);
        pool_.push_back(std::move(db));
        return;
    }
    lock_ = std::make_unique<WriterLock>(path_, options.writer);
    writer_ = std::make_unique<Db>(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    initialise(*writer_);
}

EmbeddedStore::~EmbeddedStore() {
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

// --- connections ---------------------------------------------------------------------------------

EmbeddedStore::Lease EmbeddedStore::lease() {
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

void EmbeddedStore::initialise(Db& db) {
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

void EmbeddedStore::check_format(Db& db) {
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
        throw Error(ErrorCode::Corrupt,
                    "embedded store " + path_ + " is not a clipdex database (no format marker)");
    if (version != kFormatVersion)
        throw Error(ErrorCode::Unsupported, "embedded store " + path_ + " has format version " +
                                                version + "; this build reads version " +
                                                kFormatVersion);
}

void EmbeddedStore::require_writable(const std::string& what) const {
    if (read_only_)
        throw Error(ErrorCode::Unsupported,
                    "embedded store " + path_ + " is open read-only: cannot " + what);
}

Error EmbeddedStore::not_found(const std::string& name) const {
    return Error(ErrorCode::NotFound, "collection `" + name + "` does not exist in " + path_);
}

std::unique_ptr<Store> open_embedded_store(const std::string& path, const StoreOptions& options) {
    return std::make_unique<EmbeddedStore>(path, options);
}

}  // namespace clipdex::store::embedded
