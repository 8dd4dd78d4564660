#include "engine/file_record.h"

namespace clipdex::engine {

namespace {

constexpr const char* kSourceField = "source";
constexpr const char* kByteSizeField = "byte_size";
constexpr const char* kWidthField = "width";
constexpr const char* kHeightField = "height";

template <class T>
T read_or(const nlohmann::json& extra, const char* key, T fallback) {
    auto it = extra.find(key);
    if (it == extra.end()) return fallback;
    if constexpr (std::is_same_v<T, std::string>) {
        return it->is_string() ? it->template get<std::string>() : fallback;
    } else {
        return it->is_number_integer() ? it->template get<T>() : fallback;
    }
}

}  // namespace

const char* source_name(SourceKind source) {
    switch (source) {
        case SourceKind::File:
            return "file";
        case SourceKind::Url:
            return "url";
        case SourceKind::Bytes:
            return "bytes";
    }
    return "bytes";
}

nlohmann::json FileRecord::to_json() const {
    nlohmann::json out = {{kSourceField, source_name(source)}};
    if (source == SourceKind::File) {
        out[kFileSizeField] = size;
        out[kMtimeField] = mtime_ns;
    } else {
        out[kByteSizeField] = size;
    }
    out[kSha256Field] = sha256;
    out[kWidthField] = width;
    out[kHeightField] = height;
    return out;
}

FileRecord FileRecord::from_json(const nlohmann::json& extra) {
    FileRecord out;
    if (!extra.is_object()) return out;
    const std::string source = read_or(extra, kSourceField, std::string("file"));
    out.source = source == "url"     ? SourceKind::Url
                 : source == "bytes" ? SourceKind::Bytes
                                     : SourceKind::File;
    out.size = read_or(extra, out.source == SourceKind::File ? kFileSizeField : kByteSizeField,
                       uint64_t{0});
    out.mtime_ns = read_or(extra, kMtimeField, int64_t{0});
    out.sha256 = read_or(extra, kSha256Field, std::string());
    out.width = read_or(extra, kWidthField, 0);
    out.height = read_or(extra, kHeightField, 0);
    return out;
}

}  // namespace clipdex::engine
