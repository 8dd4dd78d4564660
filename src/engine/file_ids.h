// The row ids clipdex gives files: the one place that knows the rule.
//
//   home id    a hash of the file's absolute, lexically normal path, folded to 53 bits:
//              1 <= id <= 2^53 - 1 (JavaScript's Number.MAX_SAFE_INTEGER), so HTTP clients in
//              any language read it exactly.
//   collision  when the home id holds another row (another file's, or a row a user put there),
//              the next id is tried (id + 1, after 2^53 - 1 comes 1), at most kMaxFileIdProbes
//              times; ids handed out in one FileIds' life are reserved, so two new files of one
//              run never share one.
//   old ids    collections indexed before December 2026 hold files under a 63-bit hash of the
//              path (legacy_file_id). Looking a file up tries the home id and its probes, then
//              the old id, then the file's path as a row url (a row found so keeps its id: it may
//              be one a user chose with `add --id`). A row found under its old id is moved to its
//              new id (vector and added_at kept, nothing encoded again) when its file is indexed.
//
// Ids given by users (add --id, HTTP add) are never changed by this rule.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "clipdex/store.h"

namespace clipdex::engine {

inline constexpr int64_t kMaxFileId = (int64_t{1} << 53) - 1;
inline constexpr int kMaxFileIdProbes = 64;

// The 53-bit home id of an absolute, lexically normal path: in [1, kMaxFileId].
int64_t home_file_id(const std::string& absolute_path);
// The id clipdex gave the path before December 2026: a 63-bit FNV-1a hash (never 0).
int64_t legacy_file_id(const std::string& absolute_path);
// The probe after `id`: id + 1, and 1 after kMaxFileId.
int64_t next_file_id(int64_t id);

struct FileSlot {
    int64_t id = 0;  // the id the file's row has (or gets, for a file not stored yet)
    // The file's stored row, when there is one. row->id != id: a row under its old id, which
    // move_rows puts under `id`.
    std::optional<store::Row> row;
};

// Finds the rows of files in one collection and hands out ids for the new ones.
class FileIds {
  public:
    using HomeFn = int64_t (*)(const std::string&);

    // `fields`: the output fields the slots' rows carry ("url" is always added). `home` is the
    // home id rule; tests give their own to make collisions.
    FileIds(store::Store& store, std::string collection, store::FieldList fields,
            HomeFn home = home_file_id);

    // One slot per path (absolute and lexically normal), in order. Throws Conflict naming the
    // path when kMaxFileIdProbes ids in a row are taken by other rows.
    std::vector<FileSlot> resolve(std::span<const std::string> paths);

    // Puts each (from, to) row under `to`: the whole row (vector, description, added_at,
    // dynamic fields) is written there, then `from` is removed.
    void move_rows(std::span<const std::pair<int64_t, int64_t>> moves);

  private:
    struct Pending;
    std::vector<store::Row> get(std::span<const int64_t> ids);
    bool has_collection();
    void probe(std::vector<Pending>& pending, std::vector<FileSlot>& slots);
    void find_legacy(std::vector<Pending>& pending, std::vector<FileSlot>& slots);
    void find_by_url(std::vector<Pending>& pending, std::vector<FileSlot>& slots);
    const std::unordered_map<std::string, int64_t>& rows_by_url();
    void claim(const std::string& path, int64_t id);

    store::Store& store_;
    std::string collection_;
    store::FieldList fields_;
    HomeFn home_;
    std::unordered_map<int64_t, std::string> claimed_;   // ids handed out: id -> path
    std::unordered_map<std::string, int64_t> assigned_;  // path -> id
    // Rows of files (url an absolute path) whose id is neither their url's home id nor its old
    // id (ids users chose, probed ids): url -> id. Read once, when a file is first not found by
    // id: a scan of the collection's urls, which a run of files all found by id never pays.
    std::optional<std::unordered_map<std::string, int64_t>> by_url_;
    bool collection_seen_ = false;  // a yes is remembered; a no is asked again
};

}  // namespace clipdex::engine
