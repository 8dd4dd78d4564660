// open_store: the URI factory, the one module above both backends (include/clipdex/store.h
// declares it; the interface, names, filters and migrate below it know no backend).
#include "clipdex/store.h"
#include "common/ascii.h"
#include "store/embedded/embedded_store.h"
#include "store/milvus/milvus_store.h"

namespace clipdex::store {

std::unique_ptr<Store> open_store(const std::string& uri, const StoreOptions& options) {
    if (ascii_istarts_with(uri, "http://") || ascii_istarts_with(uri, "https://"))
        return milvus::open_milvus_store(uri, options);
    std::string path = ascii_istarts_with(uri, "file:") ? uri.substr(5) : uri;
    if (path.empty())
        throw Error(ErrorCode::InvalidInput,
                    "store URI is empty: give a database path or an http(s):// Milvus address");
    return embedded::open_embedded_store(path, options);
}

}  // namespace clipdex::store
