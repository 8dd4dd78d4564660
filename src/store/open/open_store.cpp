// open_store: the URI factory, the one module above both backends (include/clipdex/store.h
// declares it; the interface, names, filters and migrate below it know no backend).
#include "clipdex/store.h"
#include "common/ascii.h"
#include "store/embedded/embedded_store.h"
#include "store/embedded/writer_lock.h"
#include "store/milvus/milvus_store.h"

namespace clipdex::store {

namespace {

bool is_milvus(const std::string& uri) {
    return ascii_istarts_with(uri, "http://") || ascii_istarts_with(uri, "https://");
}

// "SCHEME://..." with a scheme other than the ones handled: a path never looks like this, and
// opening it as a file would create a folder named "grpc:" where the user meant a server.
std::string_view unknown_scheme(std::string_view uri) {
    const size_t sep = uri.find("://");
    if (sep == std::string_view::npos || sep == 0) return {};
    const std::string_view scheme = uri.substr(0, sep);
    for (size_t i = 0; i < scheme.size(); ++i) {
        const char c = scheme[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        if (!alpha && !(i > 0 && other)) return {};
    }
    return scheme;
}

std::string embedded_path(const std::string& uri) {
    if (const std::string_view scheme = unknown_scheme(uri);
        !scheme.empty() && !ascii_istarts_with(uri, "file://"))
        throw Error(ErrorCode::InvalidInput,
                    "store URI '" + uri + "' has an unknown scheme '" + std::string(scheme) +
                        "': give a database path (./clipdex.db) or http(s)://HOST:19530 for Milvus");
    std::string path = ascii_istarts_with(uri, "file:") ? uri.substr(5) : uri;
    if (path.empty())
        throw Error(ErrorCode::InvalidInput,
                    "store URI is empty: give a database path or an http(s):// Milvus address");
    return path;
}

}  // namespace

std::unique_ptr<Store> open_store(const std::string& uri, const StoreOptions& options) {
    if (is_milvus(uri)) return milvus::open_milvus_store(uri, options);
    return embedded::open_embedded_store(embedded_path(uri), options);
}

std::optional<WriterInfo> find_writer(const std::string& uri) {
    if (is_milvus(uri)) return std::nullopt;
    return embedded::find_writer(embedded_path(uri));
}

}  // namespace clipdex::store
