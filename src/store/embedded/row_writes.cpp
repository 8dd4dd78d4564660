// Writes to the embedded store: rows in SQL, vectors in their chunk blobs.
//
// * Vectors are stored once: in the chunk blobs, each row naming its slot. Freed slots are
//   reused by later inserts; an upsert rewrites its row's slot in place. Writes go through
//   sqlite3_blob_write into the chunk, so only the touched pages reach the WAL.
// * update() changes the row's SQL only (url, description, dynamic fields, updated_at): its
//   slot, vector and generation stay, so the arena, the ANN index and replay never see it.
//   SQLite is the source of truth for row fields (reads and filters run on it), so the change is
//   durable and visible to every process once its transaction commits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "store/embedded/embedded_store_impl.h"

namespace clipdex::store::embedded {

namespace {

bool is_fixed_field(const std::string& key) {
    return key == kFieldId || key == kFieldUrl || key == kFieldDescription || key == kFieldVector ||
           key == kFieldAddedAt || key == kFieldUpdatedAt;
}

std::string row_context(const std::string& collection, size_t index, int64_t id) {
    return "collection `" + collection + "`: row " + std::to_string(index) + " (id " +
           std::to_string(id) + ")";
}

}  // namespace

void EmbeddedStore::validate_rows(const Collection& c, std::span<const Row> rows) {
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
        if (r.added_at.size() > kMaxTimestampBytes) bad("field `added_at` is longer than 50 bytes");
        if (r.updated_at.size() > kMaxTimestampBytes)
            bad("field `updated_at` is longer than 50 bytes");
        if (!r.extra.is_object()) bad("dynamic fields must be a JSON object");
        for (const auto& [key, value] : r.extra.items())
            if (is_fixed_field(key) || key.empty() || key == "$meta")
                bad("dynamic field `" + key + "` clashes with a schema field");
    }
}

void EmbeddedStore::write_rows(const std::string& collection, std::span<const Row> rows,
                               bool replace) {
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

int64_t EmbeddedStore::update(const std::string& collection, std::span<const RowPatch> patches) {
    require_writable("update collection `" + collection + "`");
    std::lock_guard write(write_mutex_);
    auto c = current_locked(collection);
    for (size_t i = 0; i < patches.size(); ++i) {
        const RowPatch& p = patches[i];
        auto bad = [&](const std::string& why) {
            throw Error(ErrorCode::InvalidInput, row_context(collection, i, p.id) + ": " + why);
        };
        if (p.url && p.url->size() > kMaxUrlBytes)
            bad("field `url` has " + std::to_string(p.url->size()) + " bytes (limit " +
                std::to_string(kMaxUrlBytes) + ")");
        if (p.description && p.description->size() > kMaxDescriptionBytes)
            bad("field `description` has " + std::to_string(p.description->size()) +
                " bytes (limit " + std::to_string(kMaxDescriptionBytes) + ")");
        if (!p.extra.is_object()) bad("dynamic fields must be a JSON object");
        for (const auto& [key, value] : p.extra.items())
            if (is_fixed_field(key) || key.empty() || key == "$meta")
                bad("dynamic field `" + key + "` clashes with a schema field");
    }
    if (patches.empty()) return 0;
    const std::string now = utc_timestamp_now();
    int64_t changed = 0;
    Transaction tx(*writer_, true);
    Statement find(*writer_,
                   "SELECT url, description, extra FROM " + c->table("rows") + " WHERE id = ?");
    Statement put(*writer_, "UPDATE " + c->table("rows") +
                                " SET url = ?, description = ?, extra = ?, updated_at = ? "
                                "WHERE id = ?");
    for (const RowPatch& p : patches) {
        find.reset();
        find.bind(1, p.id);
        if (!find.step()) continue;
        std::string url = p.url ? *p.url : find.column_text(0);
        std::string description = p.description ? *p.description : find.column_text(1);
        nlohmann::json extra;
        try {
            extra = nlohmann::json::parse(find.column_text(2));
        } catch (const std::exception& e) {
            throw Error(ErrorCode::Corrupt, "collection `" + collection + "`: row id " +
                                                std::to_string(p.id) +
                                                ": stored dynamic fields are damaged: " + e.what());
        }
        for (const auto& [key, value] : p.extra.items()) extra[key] = value;
        put.reset();
        put.bind(1, std::string_view(url)).bind(2, std::string_view(description));
        put.bind(3, std::string_view(extra.dump())).bind(4, std::string_view(now)).bind(5, p.id);
        put.run();
        ++changed;
    }
    tx.commit();
    return changed;
}

int64_t EmbeddedStore::next_generation(const Collection& c) {
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
void EmbeddedStore::write_vectors(const Collection& c,
                                  std::vector<std::pair<uint32_t, const float*>>& writes,
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

void EmbeddedStore::ensure_chunk(const Collection& c, int64_t chunk, int64_t slots_needed,
                                 size_t dim) {
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
int64_t EmbeddedStore::remove_ids(const std::string& collection, Select select) {
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

void EmbeddedStore::insert(const std::string& collection, std::span<const Row> rows) {
    write_rows(collection, rows, false);
}

void EmbeddedStore::upsert(const std::string& collection, std::span<const Row> rows) {
    write_rows(collection, rows, true);
}

int64_t EmbeddedStore::remove(const std::string& collection, std::span<const int64_t> ids) {
    return remove_ids(collection, [&](Db&, const Collection&) {
        return std::vector<int64_t>(ids.begin(), ids.end());
    });
}

int64_t EmbeddedStore::remove_where(const std::string& collection, const std::string& filter_text) {
    auto expr = parse_filter(collection, filter_text);
    return remove_ids(collection,
                      [&](Db& db, const Collection& c) { return matching_ids(db, c.cid, expr); });
}

}  // namespace clipdex::store::embedded
