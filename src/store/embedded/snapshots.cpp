// Index snapshots of the embedded store, the replay of writes newer than a snapshot, and the
// compaction of HNSW graphs.
//
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
#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <unordered_set>

#include "common/fork_join.h"
#include "store/embedded/embedded_store_impl.h"

namespace clipdex::store::embedded {

namespace {

constexpr int64_t kSnapshotPartBytes = 256LL << 20;
// Share of deleted nodes above which the HNSW graph is rebuilt without them.
constexpr double kCompactDeletedFraction = 0.3;

}  // namespace

void EmbeddedStore::flush(const std::string& collection) {
    auto c = current(collection);
    if (read_only_) return;
    std::lock_guard write(write_mutex_);
    if (snapshot_stale(*c)) save_snapshot(*c);
}

EmbeddedStore::SnapshotParts EmbeddedStore::snapshot_parts(Db& db, const Collection& c) {
    SnapshotParts out;
    Statement stmt(db, "SELECT part, length(data) FROM " + c.table("snapshots") + " ORDER BY part");
    while (stmt.step()) {
        int64_t part = stmt.column_int(0), bytes = stmt.column_int(1);
        if (bytes < 0 || bytes > kSnapshotPartBytes)
            throw Error(ErrorCode::Corrupt, "collection `" + c.spec.name + "` in " + path_ +
                                                ": index snapshot part " + std::to_string(part) +
                                                " has a bad size");
        out.parts.emplace_back(part, static_cast<size_t>(bytes));
        out.total += static_cast<size_t>(bytes);
    }
    return out;
}

// The parts are read straight into one buffer sized up front: a column read would first
// copy each into SQLite's own buffer, and appending would copy again as the buffer grew
// (at 1M vectors, 300 MB of fresh pages per open).
std::unique_ptr<uint8_t[]> EmbeddedStore::read_snapshot(Db& db, const Collection& c,
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

EmbeddedStore::ParsedSnapshot EmbeddedStore::parse_snapshot(Db& db, const Collection& c,
                                                            const CollectionRecord& record) {
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

void EmbeddedStore::load_index(Db& db, Collection& c, const CollectionRecord& record,
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
ChangeSet EmbeddedStore::read_changes(Db& db, const Collection& c, int64_t since) {
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
bool EmbeddedStore::refresh(Collection& c) {
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

bool EmbeddedStore::apply(Collection& c, const ChangeSet& changes, int64_t generation) {
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
void EmbeddedStore::sync_after_write(const std::shared_ptr<Collection>& c) {
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
    if (c->index && c->index->ready() && c->changes_since_snapshot > threshold) save_snapshot(*c);
}

// Deleted HNSW nodes stay in the graph (hnswlib marks them), costing memory and search
// time; past kCompactDeletedFraction the index is rebuilt from the live vectors. The new
// index is built beside searches and swapped in under the exclusive lock. Caller holds
// write_mutex_.
void EmbeddedStore::compact_if_needed(Collection& c) {
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

bool EmbeddedStore::snapshot_stale(const Collection& c) {
    return c.generation != c.snapshot_generation || c.snapshot_damaged;
}

// Writes the index structure as of c.generation (FLAT has none: then only the tombs it
// covers are pruned).
void EmbeddedStore::save_snapshot(Collection& c) {
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

}  // namespace clipdex::store::embedded
