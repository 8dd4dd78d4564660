// The embedded store's catalog: collection specs and the tables that hold each collection.
//
// * Source of truth: SQLite in WAL mode with synchronous=FULL, 64 KiB pages. A write call is
//   one transaction, so a crash loses at most the call that had not returned. Tables, per
//   collection (numbered by `cid`, AUTOINCREMENT so a re-created name never reuses a number):
//     rows_N(id INTEGER PRIMARY KEY, url, description, added_at, updated_at, extra TEXT (JSON),
//            slot, generation)       -- the scalar fields, named as filter::to_sql expects
//     chunks_N(chunk, data BLOB)     -- the vectors, 1,024 slots per blob, float32 bit-exact
//     tombs_N(id, generation)        -- ids deleted since the last snapshot
//     snapshots_N(part, data BLOB)   -- the ANN index structure as of collections.snapshot_gen
//   plus `collections(cid, name, spec JSON, generation, snapshot_gen, tomb_floor)` and `meta`.
#include <cctype>
#include <exception>
#include <filesystem>

#include "store/embedded/embedded_store_impl.h"

namespace clipdex::store::embedded {

namespace {

constexpr int kMaxDim = 32768;

}  // namespace

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

std::optional<CollectionRecord> read_record(Db& db, const std::string& name) {
    Statement stmt(
        db,
        "SELECT cid, spec, generation, snapshot_gen, tomb_floor FROM collections WHERE name = ?");
    stmt.bind(1, std::string_view(name));
    if (!stmt.step()) return std::nullopt;
    return CollectionRecord{stmt.column_int(0), stmt.column_text(1), stmt.column_int(2),
                            stmt.column_int(3), stmt.column_int(4)};
}

std::vector<std::string> EmbeddedStore::list_collections() {
    auto db = lease();
    Statement stmt(*db, "SELECT name FROM collections ORDER BY name");
    std::vector<std::string> names;
    while (stmt.step()) names.push_back(stmt.column_text(0));
    return names;
}

bool EmbeddedStore::has_collection(const std::string& name) {
    auto db = lease();
    return read_record(*db, name).has_value();
}

void EmbeddedStore::create_collection(const CollectionSpec& spec) {
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

void EmbeddedStore::drop_collection(const std::string& name) {
    require_writable("drop collection `" + name + "`");
    std::lock_guard write(write_mutex_);
    Transaction tx(*writer_, true);
    auto record = read_record(*writer_, name);
    if (!record) throw not_found(name);
    std::string n = std::to_string(record->cid);
    writer_->exec("DROP TABLE IF EXISTS rows_" + n + "; DROP TABLE IF EXISTS chunks_" + n +
                  "; DROP TABLE IF EXISTS tombs_" + n + "; DROP TABLE IF EXISTS snapshots_" + n +
                  ";");
    Statement del(*writer_, "DELETE FROM collections WHERE cid = ?");
    del.bind(1, record->cid).run();
    tx.commit();
    std::unique_lock state(state_mutex_);
    collections_.erase(name);
}

CollectionInfo EmbeddedStore::describe_collection(const std::string& name) {
    auto db = lease();
    Transaction tx(*db, false);
    auto record = read_record(*db, name);
    if (!record) throw not_found(name);
    CollectionInfo info;
    info.spec = spec_from_json(name, record->spec_json);
    info.row_count = count_rows(*db, record->cid, "", name);
    return info;
}

void EmbeddedStore::set_properties(const std::string& name,
                                   const std::map<std::string, std::string>& properties) {
    require_writable("change the properties of collection `" + name + "`");
    std::lock_guard write(write_mutex_);
    Transaction tx(*writer_, true);
    auto record = read_record(*writer_, name);
    if (!record) throw not_found(name);
    // Only the properties change: the cached Collection's spec (dim, index) stays valid, and
    // describe_collection reads the spec from SQLite.
    CollectionSpec spec = spec_from_json(name, record->spec_json);
    for (const auto& [key, value] : properties) spec.properties[key] = value;
    Statement update(*writer_, "UPDATE collections SET spec = ? WHERE cid = ?");
    update.bind(1, std::string_view(spec_to_json(spec).dump())).bind(2, record->cid);
    update.run();
    tx.commit();
}

CollectionStats EmbeddedStore::stats(const std::string& name) {
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
                        std::to_string(c->generation - c->snapshot_generation) + " writes behind)";
    else
        s.index_state = "ready";
    if (c->index && c->index->ready()) s.index_state += " (" + c->index->describe() + ")";
    if (auto paging = paging_description(c->paging, c->paging_error); !paging.empty())
        s.index_state += "; " + paging;
    return s;
}

int64_t EmbeddedStore::count_rows(Db& db, int64_t cid, const std::string&, const std::string&) {
    Statement stmt(db, "SELECT count(*) FROM rows_" + std::to_string(cid));
    stmt.step();
    return stmt.column_int(0);
}

}  // namespace clipdex::store::embedded
