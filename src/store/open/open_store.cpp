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

std::string embedded_path(const std::string& uri) {
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
