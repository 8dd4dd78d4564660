// Crash-test writer for the embedded store: inserts batches into collection "crash" forever and
// prints "committed B" after each insert returns, "removed ID" after each delete returns. The
// test SIGKILLs it at random moments and checks that everything reported survived.
//
//   store_crash_writer PATH
//
// Rows: batch B holds ids B*50 .. B*50+49 with vectors random_vector(16, id). Every third batch
// also removes the first id of the batch before it; every tenth batch flushes (a snapshot), so
// kills land in inserts, deletes and snapshot writes alike.
#include <cstdio>
#include <exception>

#include "../unit/store/store_test_vectors.h"
#include "clipdex/store.h"

int main(int argc, char** argv) {
    using namespace clipdex::store;
    if (argc != 2) {
        std::fprintf(stderr, "usage: store_crash_writer PATH\n");
        return 2;
    }
    constexpr int64_t kBatch = 50;
    constexpr int kDim = 16;
    try {
        auto store = open_store(argv[1]);
        if (!store->has_collection("crash")) {
            CollectionSpec spec;
            spec.name = "crash";
            spec.dim = kDim;
            spec.index.kind = IndexKind::Hnsw;
            spec.index.m = 8;
            spec.index.ef_construction = 64;
            store->create_collection(spec);
        }
        int64_t next = 0;
        for (const auto& row : store->query("crash", QueryRequest{"", {"id"}, -1, 0}))
            next = std::max(next, row.id / kBatch + 1);
        for (int64_t b = next;; ++b) {
            std::vector<Row> rows;
            for (int64_t i = 0; i < kBatch; ++i) {
                Row r;
                r.id = b * kBatch + i;
                r.url = "/crash/" + std::to_string(r.id);
                r.vector = conformance::random_vector(kDim, static_cast<uint64_t>(r.id));
                rows.push_back(std::move(r));
            }
            store->insert("crash", rows);
            std::printf("committed %lld\n", static_cast<long long>(b));
            std::fflush(stdout);
            if (b % 3 == 2) {
                std::vector<int64_t> victim{(b - 1) * kBatch};
                if (store->remove("crash", victim) == 1) {
                    std::printf("removed %lld\n", static_cast<long long>(victim[0]));
                    std::fflush(stdout);
                }
            }
            if (b % 10 == 9) store->flush("crash");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "store_crash_writer: %s\n", e.what());
        return 1;
    }
}
