// The store conformance suite, unchanged, against a live Milvus server named by the environment:
//   CLIPDEX_MILVUS_URI=http://127.0.0.1:19530 [CLIPDEX_MILVUS_TOKEN=…] test_milvus
// Without CLIPDEX_MILVUS_URI every case is skipped; tests/integration starts real servers and
// runs this binary against each of them.
#include <cstdlib>

// The shared suite's EXPECT_* inside unbraced if/else trips -Wdangling-else under -Werror.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-else"
#include "../store_conformance.h"
#pragma GCC diagnostic pop
#include "store/milvus/milvus_store.h"

using namespace clipdex::store::conformance;

namespace {

void skip_without_server() {
    GTEST_SKIP() << "CLIPDEX_MILVUS_URI is not set: no Milvus server to test against";
}

ConformanceTarget connect_to_server() {
    const char* uri = std::getenv("CLIPDEX_MILVUS_URI");
    if (uri == nullptr || *uri == '\0') {
        skip_without_server();
        return {};
    }
    clipdex::store::StoreOptions options;
    if (const char* token = std::getenv("CLIPDEX_MILVUS_TOKEN")) options.token = token;
    return {clipdex::store::milvus::open_milvus_store(uri, options),
            unique_collection_name("conf")};
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Milvus, StoreConformance,
                         ::testing::Values(ConformanceParam{"milvus", connect_to_server}),
                         [](const auto& info) { return info.param.name; });
