// open_store, the URI factory: paths and file: open the embedded store, an unknown scheme is
// refused before anything is created.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "../../error_of.h"
#include "clipdex/store.h"

namespace clipdex::store {
namespace {

namespace fs = std::filesystem;

TEST(OpenStore, UnknownSchemesAreRefusedWithTheSchemeNamed) {
    const fs::path cwd = fs::current_path();
    for (const std::string uri : {"grpc://localhost:19530", "tcp://host:19530", "s3://bucket/x.db"}) {
        std::string message;
        EXPECT_EQ(code_of([&] { open_store(uri); }, &message), ErrorCode::InvalidInput) << uri;
        EXPECT_NE(message.find(uri.substr(0, uri.find(':'))), std::string::npos) << message;
        EXPECT_NE(message.find("http(s)://HOST:19530"), std::string::npos) << message;
        EXPECT_FALSE(fs::exists(cwd / uri.substr(0, uri.find(':') + 1))) << uri;
    }
}

TEST(OpenStore, PathsAndFileUrisOpenTheEmbeddedStore) {
    const fs::path dir = fs::temp_directory_path() / ("clipdex-open-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    EXPECT_EQ(open_store((dir / "a.db").string())->backend_name(), "embedded");
    EXPECT_EQ(open_store("file://" + (dir / "b.db").string())->backend_name(), "embedded");
    EXPECT_EQ(code_of([] { open_store(""); }), ErrorCode::InvalidInput);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace clipdex::store
