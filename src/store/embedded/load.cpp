// Loading a collection of the embedded store into memory: the arena of vectors from its chunk
// blobs, then the index (snapshots.cpp), and later its move to huge pages.
//
// * Opening reads a few large blobs (2 MiB at dim 512) instead of one row per vector.
// * Memory: the arena holds every vector once; the HNSW graph names arena slots. Opens fill
//   4 KiB pages (fast on any host); from 2 s after an open, a background worker moves large
//   collections to 2 MiB pages piece by piece (huge_pages.h), which stats reports.
#include <algorithm>
#include <exception>
#include <thread>

#include "common/fork_join.h"
#include "store/embedded/embedded_store_impl.h"

namespace clipdex::store::embedded {

// The collection, loaded and current. Writers are always current after their own writes;
// read-only stores replay whatever other processes committed since.
std::shared_ptr<Collection> EmbeddedStore::current(const std::string& name) {
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
std::shared_ptr<Collection> EmbeddedStore::shell(const std::string& name) {
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

std::shared_ptr<Collection> EmbeddedStore::current_locked(const std::string& name) {
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

std::shared_ptr<Collection> EmbeddedStore::load(const std::string& name) {
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
std::vector<std::span<const uint8_t>> EmbeddedStore::bulk_memory(const Collection& c) {
    std::vector<std::span<const uint8_t>> out{c.arena.storage()};
    if (c.index) out.push_back(c.index->bulk_memory());
    return out;
}

// Queues a large collection for huge_pages_, which collapses its memory piece by piece,
// each piece under the shared lock (the arena cannot move meanwhile; a writer waits for one
// piece at most).
void EmbeddedStore::move_to_huge_pages_later(const std::shared_ptr<Collection>& c) {
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

void EmbeddedStore::translate_load_error(const std::string& name) {
    try {
        throw;
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::Corrupt,
                    "collection `" + name + "` in " + path_ + ": vector storage too large to load");
    }
}

void EmbeddedStore::load_arena(Db& db, Collection& c) {
    const size_t dim = static_cast<size_t>(c.spec.dim);
    const int64_t chunk_bytes = kChunkSlots * static_cast<int64_t>(dim) * 4;
    std::vector<int64_t> capacity;  // slots available per chunk
    {
        Statement stmt(db,
                       "SELECT chunk, length(data) FROM " + c.table("chunks") + " ORDER BY chunk");
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
            throw Error(ErrorCode::Corrupt, "collection `" + c.spec.name + "` in " + path_ +
                                                ": row id " + std::to_string(id) +
                                                " points at vector slot " + std::to_string(slot) +
                                                " which is missing or shared");
        c.arena.adopt(id, static_cast<uint32_t>(slot), false);
    }
}

// Blob reads copy the pages straight into the arena (a column read would first assemble
// each 2 MiB chunk in a buffer of its own); COSINE's 1/|v| is computed per chunk while it is
// still in cache. A writer reads on every core, each thread in a read transaction of its
// own (no other process can commit in between); a read-only store keeps its one transaction.
void EmbeddedStore::read_chunks(Db& db, Collection& c, const std::vector<int64_t>& capacity) {
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

}  // namespace clipdex::store::embedded
