// Backend selection by URI and the small helpers every backend shares.
#include "clipdex/store.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "store/embedded/embedded_store.h"
#if __has_include("store/milvus/milvus_store.h")
#include "common/ascii.h"
#include "store/milvus/milvus_store.h"
#define CLIPDEX_HAS_MILVUS 1
#endif

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

std::unique_ptr<Store> open_store(const std::string& uri, const StoreOptions& options) {
    if (ascii_istarts_with(uri, "http://") || ascii_istarts_with(uri, "https://")) {
#ifdef CLIPDEX_HAS_MILVUS
        return milvus::open_milvus_store(uri, options);
#else
        throw Error(ErrorCode::Unsupported,
                    "store `" + uri + "`: this build has no Milvus backend");
#endif
    }
    std::string path = ascii_istarts_with(uri, "file:") ? uri.substr(5) : uri;
    if (path.empty())
        throw Error(ErrorCode::InvalidInput,
                    "store URI is empty: give a database path or an http(s):// Milvus address");
    return embedded::open_embedded_store(path, options);
}

}  // namespace clipdex::store
