// The names of metrics and index kinds as collection specs, URIs and Milvus spell them. A module
// of its own below both backends: the Milvus client needs them and cannot link the store library
// (which links the Milvus client to open http:// URIs).
#include <algorithm>
#include <cctype>
#include <string>

#include "clipdex/store.h"
#include "common/ascii.h"

namespace clipdex::store {

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
