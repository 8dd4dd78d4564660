// What the engine knows about an image it stored, kept in the row's dynamic fields. One typed
// struct with one place that names the fields, so that nothing reads `extra` by hand.
//   files:         source "file", file_size, mtime_ns, sha256, width, height
//   URLs, uploads: source "url" / "bytes", byte_size, sha256, width, height
// The names are those rows have always had: existing databases keep working.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace clipdex::engine {

enum class SourceKind { File, Url, Bytes };

// "file" / "url" / "bytes".
const char* source_name(SourceKind source);

struct FileRecord {
    SourceKind source = SourceKind::File;
    uint64_t size = 0;     // bytes read: "file_size" for files, "byte_size" otherwise
    int64_t mtime_ns = 0;  // files only: last write time, nanoseconds since the Unix epoch
    std::string sha256;    // of the bytes, lowercase hex
    int width = 0;         // as decoded
    int height = 0;

    nlohmann::json to_json() const;
    // From a row's dynamic fields; a missing or mistyped field reads as zero / empty, so a row
    // written by something else just looks changed.
    static FileRecord from_json(const nlohmann::json& extra);
};

// The dynamic field names a file's change check reads (for Store::get's output fields).
inline constexpr const char* kFileSizeField = "file_size";
inline constexpr const char* kMtimeField = "mtime_ns";
inline constexpr const char* kSha256Field = "sha256";

}  // namespace clipdex::engine
