#include "engine/file_ids.h"

#include <algorithm>
#include <unordered_set>

#include "common/hash.h"

namespace clipdex::engine {

int64_t home_file_id(const std::string& absolute_path) {
    const uint64_t hash = fnv1a64(absolute_path);
    // The high bits folded onto the low ones, so every bit of the hash counts.
    const auto id = static_cast<int64_t>((hash ^ (hash >> 53)) & static_cast<uint64_t>(kMaxFileId));
    return id == 0 ? 1 : id;
}

int64_t legacy_file_id(const std::string& absolute_path) {
    const uint64_t hash = fnv1a64(absolute_path) & 0x7fffffffffffffffull;
    return hash == 0 ? 1 : static_cast<int64_t>(hash);
}

int64_t next_file_id(int64_t id) {
    return id >= kMaxFileId || id < 1 ? 1 : id + 1;
}

struct FileIds::Pending {
    size_t index = 0;  // into the paths and slots
    std::string path;
    int64_t candidate = 0;
    int probes = 0;
    bool full = false;  // kMaxFileIdProbes ids of its chain are taken
};

FileIds::FileIds(store::Store& store, std::string collection, store::FieldList fields, HomeFn home)
    : store_(store), collection_(std::move(collection)), fields_(std::move(fields)), home_(home) {
    if (!fields_.empty() && std::find(fields_.begin(), fields_.end(), "*") == fields_.end() &&
        std::find(fields_.begin(), fields_.end(), store::kFieldUrl) == fields_.end())
        fields_.push_back(store::kFieldUrl);
}

std::vector<store::Row> FileIds::get(std::span<const int64_t> ids) {
    if (ids.empty() || !has_collection()) return {};
    return store_.get(collection_, ids, fields_);
}

// No collection yet (the engine makes it with the first write): no rows, every id free.
bool FileIds::has_collection() {
    if (!collection_seen_) collection_seen_ = store_.has_collection(collection_);
    return collection_seen_;
}

void FileIds::claim(const std::string& path, int64_t id) {
    claimed_[id] = path;
    assigned_[path] = id;
}

std::vector<FileSlot> FileIds::resolve(std::span<const std::string> paths) {
    std::vector<FileSlot> slots(paths.size());
    std::vector<Pending> pending;
    pending.reserve(paths.size());
    for (size_t i = 0; i < paths.size(); ++i) {
        const auto known = assigned_.find(paths[i]);
        pending.push_back(
            {i, paths[i], known != assigned_.end() ? known->second : home_(paths[i]), 0, false});
    }
    probe(pending, slots);  // leaves the files with no row under their probed ids
    find_legacy(pending, slots);
    find_by_url(pending, slots);
    // The rest are new, and so are the old rows found under their old ids: each takes the first
    // id of its chain that no row holds and no other file of this object's life was given. The
    // probe left them at an id the store has no row under.
    bool store_checked = true;
    while (!pending.empty()) {
        std::unordered_set<int64_t> stored;
        if (!store_checked) {
            std::vector<int64_t> ids;
            for (const Pending& p : pending) ids.push_back(p.candidate);
            for (const store::Row& row : get(ids)) stored.insert(row.id);
        }
        store_checked = false;
        std::vector<Pending> next;
        for (Pending& p : pending) {
            const auto taken = claimed_.find(p.candidate);
            const bool ours = taken != claimed_.end() && taken->second == p.path;  // named twice
            if (!p.full && (ours || (!stored.count(p.candidate) && taken == claimed_.end()))) {
                claim(p.path, p.candidate);
                slots[p.index].id = p.candidate;
                continue;
            }
            if (p.full || ++p.probes >= kMaxFileIdProbes)
                throw Error(ErrorCode::Conflict, "file '" + p.path + "': ids " +
                                                     std::to_string(home_(p.path)) + " and the " +
                                                     std::to_string(kMaxFileIdProbes - 1) +
                                                     " after it are all taken by other rows");
            p.candidate = next_file_id(p.candidate);
            next.push_back(std::move(p));
        }
        pending = std::move(next);
    }
    return slots;
}

// Walks each file's chain from its home id: a row with the file's path ends it (found), an id
// that no row holds ends it (not found there: left in `pending` at that id), any other row or an
// id given to another file moves on to the next id.
void FileIds::probe(std::vector<Pending>& pending, std::vector<FileSlot>& slots) {
    std::vector<Pending> walking = std::move(pending);
    pending.clear();
    while (!walking.empty()) {
        std::vector<int64_t> ids;
        for (const Pending& p : walking) ids.push_back(p.candidate);
        std::unordered_map<int64_t, store::Row> rows;
        for (store::Row& row : get(ids)) rows.emplace(row.id, std::move(row));
        std::vector<Pending> next;
        for (Pending& p : walking) {
            const auto row = rows.find(p.candidate);
            const auto taken = claimed_.find(p.candidate);
            const bool ours_now = taken != claimed_.end() && taken->second == p.path;
            const bool free_now = taken == claimed_.end();
            const bool stored_here = row != rows.end() && row->second.url == p.path;
            if (ours_now || (free_now && stored_here)) {
                slots[p.index].id = p.candidate;
                if (stored_here) slots[p.index].row = row->second;
                claim(p.path, p.candidate);
            } else if (free_now && row == rows.end()) {
                pending.push_back(std::move(p));
            } else if (++p.probes >= kMaxFileIdProbes) {
                p.full = true;  // placing it fails, unless it is found by url
                pending.push_back(std::move(p));
            } else {
                p.candidate = next_file_id(p.candidate);
                next.push_back(std::move(p));
            }
        }
        walking = std::move(next);
    }
}

// Rows of a collection indexed before the 53-bit ids: under the path's 63-bit id.
void FileIds::find_legacy(std::vector<Pending>& pending, std::vector<FileSlot>& slots) {
    if (pending.empty()) return;
    std::vector<int64_t> ids;
    for (const Pending& p : pending) ids.push_back(legacy_file_id(p.path));
    std::unordered_map<int64_t, store::Row> rows;
    for (store::Row& row : get(ids)) rows.emplace(row.id, std::move(row));
    for (const Pending& p : pending) {
        const auto row = rows.find(legacy_file_id(p.path));
        if (row != rows.end() && row->second.url == p.path && !slots[p.index].row)
            slots[p.index].row = row->second;  // still placed: it moves to its new id
    }
}

// Rows under ids of no rule (a user's `add --id N --file`, a chain a removed row broke): by url.
void FileIds::find_by_url(std::vector<Pending>& pending, std::vector<FileSlot>& slots) {
    auto unknown = [&](const Pending& p) { return !slots[p.index].row.has_value(); };
    if (std::none_of(pending.begin(), pending.end(), unknown)) return;
    const auto& by_url = rows_by_url();
    std::vector<int64_t> ids;
    for (const Pending& p : pending)
        if (const auto it = by_url.find(p.path); unknown(p) && it != by_url.end())
            ids.push_back(it->second);
    std::unordered_map<int64_t, store::Row> rows;
    for (store::Row& row : get(ids)) rows.emplace(row.id, std::move(row));
    std::vector<Pending> rest;
    for (Pending& p : pending) {
        const auto id = by_url.find(p.path);
        const auto row = !unknown(p) || id == by_url.end() ? rows.end() : rows.find(id->second);
        if (row == rows.end() || row->second.url != p.path || claimed_.count(row->first)) {
            rest.push_back(std::move(p));
            continue;
        }
        slots[p.index].id = row->first;
        slots[p.index].row = row->second;
        claim(p.path, row->first);
    }
    pending = std::move(rest);
}

const std::unordered_map<std::string, int64_t>& FileIds::rows_by_url() {
    if (!by_url_) {
        by_url_.emplace();
        // Files' urls are absolute paths; rows added by URL or upload are no file's.
        store::QueryRequest request;
        request.filter = "url like \"/%\"";
        request.output_fields = {store::kFieldUrl};
        if (!has_collection()) return *by_url_;
        for (const store::Row& row : store_.query(collection_, request))
            if (row.id != home_(row.url) && row.id != legacy_file_id(row.url))
                by_url_->emplace(row.url, row.id);
    }
    return *by_url_;
}

void FileIds::move_rows(std::span<const std::pair<int64_t, int64_t>> moves) {
    if (moves.empty()) return;
    std::unordered_map<int64_t, int64_t> to;
    std::vector<int64_t> from;
    for (const auto& [old_id, new_id] : moves) {
        to[old_id] = new_id;
        from.push_back(old_id);
    }
    std::vector<store::Row> rows = store_.get(collection_, from, {"*"});
    for (store::Row& row : rows) {
        row.id = to.at(row.id);
        row.updated_at.clear();  // the store sets it: the row changed (its id)
    }
    // Written first, removed second: an interruption leaves a copy, never a loss.
    store_.upsert(collection_, rows);
    store_.remove(collection_, from);
}

}  // namespace clipdex::engine
