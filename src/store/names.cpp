// The small helpers every backend shares: the names of metrics and index kinds as collection
// specs, URIs and Milvus spell them, and the timestamps rows carry.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "clipdex/store.h"
#include "common/ascii.h"

namespace clipdex::store {

std::string utc_timestamp_now() {
    auto now = std::chrono::system_clock::now();
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(millis / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[96];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis % 1000));
    return text;
}

std::string_view metric_name(Metric metric) {
    switch (metric) {
        case Metric::Cosine:
            return "COSINE";
        case Metric::InnerProduct:
            return "IP";
        case Metric::L2:
            return "L2";
    }
    return "COSINE";
}

Metric parse_metric(std::string_view name) {
    std::string u = ascii_upper(name);
    if (u == "COSINE") return Metric::Cosine;
    if (u == "IP") return Metric::InnerProduct;
    if (u == "L2") return Metric::L2;
    throw Error(ErrorCode::InvalidInput,
                "unknown metric `" + std::string(name) + "` (expected COSINE, IP or L2)");
}

std::string_view index_kind_name(IndexKind kind) {
    switch (kind) {
        case IndexKind::Flat:
            return "FLAT";
        case IndexKind::IvfFlat:
            return "IVF_FLAT";
        case IndexKind::Hnsw:
            return "HNSW";
        case IndexKind::AutoIndex:
            return "AUTOINDEX";
    }
    return "HNSW";
}

IndexKind parse_index_kind(std::string_view name) {
    std::string u = ascii_upper(name);
    if (u == "FLAT") return IndexKind::Flat;
    if (u == "IVF_FLAT") return IndexKind::IvfFlat;
    if (u == "HNSW") return IndexKind::Hnsw;
    if (u == "AUTOINDEX") return IndexKind::AutoIndex;
    throw Error(ErrorCode::InvalidInput, "unknown index type `" + std::string(name) +
                                             "` (expected FLAT, IVF_FLAT, HNSW or AUTOINDEX)");
}

}  // namespace clipdex::store
