// The embedded store: the conformance suite plus what only a file-backed store has
// (persistence, snapshots, processes, crashes, damaged files).
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../store_conformance.h"

namespace fs = std::filesystem;
using namespace clipdex;
using namespace clipdex::store;
using namespace clipdex::store::conformance;

namespace {

// A fresh directory per call under the system temp dir; removed at process exit is not needed
// for correctness, so tests clean up what they can.
fs::path temp_dir(const std::string& tag) {
    auto base = fs::temp_directory_path() / ("clipdex_store_test_" + std::to_string(::getpid()));
    static int counter = 0;
    auto dir = base / (tag + "_" + std::to_string(counter++));
    fs::create_directories(dir);
    return dir;
}

struct TempDb {
    fs::path dir = temp_dir("db");
    std::string path = (dir / "clipdex.db").string();
    ~TempDb() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

CollectionSpec spec_of(const std::string& name, int dim, IndexKind kind,
                       Metric metric = Metric::Cosine) {
    CollectionSpec spec;
    spec.name = name;
    spec.dim = dim;
    spec.index.kind = kind;
    spec.index.metric = metric;
    spec.index.nlist = 16;
    spec.index.m = 16;
    spec.index.ef_construction = 100;
    return spec;
}

std::vector<int64_t> top_ids(const std::vector<Hit>& hits) {
    std::vector<int64_t> ids;
    for (const auto& h : hits) ids.push_back(h.row.id);
    return ids;
}

}  // namespace

// --- conformance -------------------------------------------------------------------------------
INSTANTIATE_TEST_SUITE_P(
    Embedded, StoreConformance,
    ::testing::Values(ConformanceParam{
        "embedded",
        [] {
            static TempDb db;  // one file for the whole suite, like a real user's
            static std::mutex m;
            std::lock_guard lock(m);
            return ConformanceTarget{open_store(db.path), unique_collection_name("conf")};
        }}),
    [](const auto& info) { return info.param.name; });

// --- helpers -----------------------------------------------------------------------------------
TEST(StoreNames, MetricAndIndexNamesRoundTrip) {
    for (Metric m : {Metric::Cosine, Metric::InnerProduct, Metric::L2})
        EXPECT_EQ(parse_metric(metric_name(m)), m);
    for (IndexKind k : {IndexKind::Flat, IndexKind::IvfFlat, IndexKind::Hnsw, IndexKind::AutoIndex})
        EXPECT_EQ(parse_index_kind(index_kind_name(k)), k);
    EXPECT_EQ(parse_metric("cosine"), Metric::Cosine);
    EXPECT_EQ(parse_index_kind("ivf_flat"), IndexKind::IvfFlat);
    CLIPDEX_EXPECT_ERROR(parse_metric("HAMMING"), ErrorCode::InvalidInput);
    CLIPDEX_EXPECT_ERROR(parse_index_kind("DISKANN"), ErrorCode::InvalidInput);
    auto ts = utc_timestamp_now();
    ASSERT_EQ(ts.size(), 24u) << ts;
    EXPECT_EQ(ts[10], 'T');
    EXPECT_EQ(ts.back(), 'Z');
}

TEST(StoreOpen, UriForms) {
    TempDb db;
    {
        auto s = open_store("file:" + db.path);
        EXPECT_EQ(s->backend_name(), "embedded");
    }
    EXPECT_TRUE(fs::exists(db.path));
    CLIPDEX_EXPECT_ERROR(open_store(""), ErrorCode::InvalidInput);
    StoreOptions ro;
    ro.read_only = true;
    CLIPDEX_EXPECT_ERROR(open_store((db.dir / "missing.db").string(), ro), ErrorCode::NotFound);
}

TEST(StoreOpen, RejectsFilesThatAreNotClipdexDatabases) {
    TempDb db;
    {
        std::ofstream(db.path)
            << "this is not a database, just text that is long enough to look like a header.....";
    }
    CLIPDEX_EXPECT_ERROR(open_store(db.path), ErrorCode::Corrupt);
    TempDb other;
    {
        sqlite3* raw = nullptr;
        sqlite3_open(other.path.c_str(), &raw);
        sqlite3_exec(raw, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", nullptr, nullptr,
                     nullptr);
        sqlite3_close(raw);
    }
    CLIPDEX_EXPECT_ERROR(open_store(other.path), ErrorCode::Corrupt);
}

// --- persistence and snapshots -----------------------------------------------------------------
TEST(EmbeddedStore, ReopenKeepsRowsVectorsAndResults) {
    TempDb db;
    std::vector<Row> rows = make_rows(1, 500, 32);
    std::vector<std::vector<int64_t>> before;
    for (IndexKind kind : {IndexKind::Flat, IndexKind::IvfFlat, IndexKind::Hnsw}) {
        auto store = open_store(db.path);
        std::string name = "c_" + std::string(index_kind_name(kind));
        store->create_collection(spec_of(name, 32, kind));
        store->insert(name, rows);
        SearchRequest req;
        req.k = 10;
        before.push_back(top_ids(store->search(name, rows[7].vector, req)[0]));
    }
    auto store = open_store(db.path);
    size_t i = 0;
    for (IndexKind kind : {IndexKind::Flat, IndexKind::IvfFlat, IndexKind::Hnsw}) {
        std::string name = "c_" + std::string(index_kind_name(kind));
        EXPECT_EQ(store->count(name), 500);
        auto got = store->query(name, QueryRequest{"", {"vector"}, -1, 0});
        ASSERT_EQ(got.size(), 500u);
        for (size_t r = 0; r < got.size(); ++r)
            ASSERT_EQ(got[r].vector, rows[r].vector) << name << " row " << r;
        SearchRequest req;
        req.k = 10;
        EXPECT_EQ(top_ids(store->search(name, rows[7].vector, req)[0]), before[i++]) << name;
        EXPECT_EQ(store->stats(name).index_state.substr(0, 5), "ready")
            << store->stats(name).index_state;
    }
}

// Enough rows for the open to read the vector chunks on several threads (64 chunks and more),
// and a scan large enough that one query is split over threads (16 MiB of vectors per thread).
TEST(EmbeddedStore, LargeReopenReadsEveryVectorAndSplitScansAgree) {
    TempDb db;
    constexpr int kDim = 128;
    constexpr int64_t kRows = 70000;
    std::vector<Row> rows = make_rows(1, kRows, kDim);
    {
        auto store = open_store(db.path);
        store->create_collection(spec_of("big", kDim, IndexKind::Flat));
        for (int64_t first = 0; first < kRows; first += 50000)
            store->insert("big", std::span<const Row>(rows).subspan(
                                     static_cast<size_t>(first),
                                     static_cast<size_t>(std::min<int64_t>(50000, kRows - first))));
    }
    SearchRequest req;
    req.k = 10;
    req.output_fields = {"id"};
    {
        // The 36 MB arena is queued for huge pages 2 s after the load; a store closed before
        // then (a command that searches once) must not wait for the move.
        auto quick = open_store(db.path);
        quick->search("big", rows[0].vector, req);
        EXPECT_NE(quick->stats("big").index_state.find("moving to 2 MiB pages"), std::string::npos)
            << quick->stats("big").index_state;
        auto t = std::chrono::steady_clock::now();
        quick.reset();
        EXPECT_LT(std::chrono::steady_clock::now() - t, std::chrono::milliseconds(1000));
    }
    auto store = open_store(db.path);
    ASSERT_EQ(store->count("big"), kRows);
    // One query (scan split over threads) must answer as the same query inside a batch of 16
    // (one thread per query): same ids in the same order. Checked on 4 KiB pages, then again
    // once the memory has moved to 2 MiB pages (or the kernel refused them) with the same
    // vectors and answers.
    std::vector<float> batch;
    for (int q = 0; q < 16; ++q)
        batch.insert(batch.end(), rows[static_cast<size_t>(q) * 4111].vector.begin(),
                     rows[static_cast<size_t>(q) * 4111].vector.end());
    auto before = store->search("big", batch, req);
    auto check = [&] {
        auto got = store->query("big", QueryRequest{"id >= 0", {"vector"}, -1, 0});
        ASSERT_EQ(got.size(), static_cast<size_t>(kRows));
        for (size_t r = 0; r < got.size(); r += 97) ASSERT_EQ(got[r].vector, rows[r].vector) << r;
        auto many = store->search("big", batch, req);
        for (int q = 0; q < 16; ++q) {
            auto one = store->search("big", rows[static_cast<size_t>(q) * 4111].vector, req);
            EXPECT_EQ(top_ids(one[0]), top_ids(many[static_cast<size_t>(q)])) << "query " << q;
            EXPECT_EQ(top_ids(many[static_cast<size_t>(q)]),
                      top_ids(before[static_cast<size_t>(q)]));
        }
    };
    check();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string state;
    while ((state = store->stats("big").index_state).find("moving") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(state.find("memory in 2 MiB pages") != std::string::npos ||
                state.find("the kernel refused 2 MiB pages") != std::string::npos)
        << state;
    check();
}

// Copies the database while a writer holds it open (as a crash would leave it) after writes that
// came after the last snapshot; the copy must open with an index that agrees with the rows.
TEST(EmbeddedStore, StaleSnapshotIsReplayedNotRebuilt) {
    for (IndexKind kind : {IndexKind::Hnsw, IndexKind::IvfFlat}) {
        SCOPED_TRACE(std::string(index_kind_name(kind)));
        TempDb db, copy;
        auto store = open_store(db.path);
        store->create_collection(spec_of("c", 16, kind));
        auto rows = make_rows(1, 1000, 16);
        store->insert("c", rows);
        store->flush("c");  // snapshot at this generation
        std::vector<int64_t> gone{1, 2, 3, 500};
        store->remove("c", gone);
        auto more = make_rows(2000, 50, 16);
        store->insert("c", more);
        Row moved = make_row(10, 16, 4242);
        store->upsert("c", std::vector<Row>{moved});
        for (const char* suffix : {"", "-wal"})
            if (fs::exists(db.path + suffix)) fs::copy_file(db.path + suffix, copy.path + suffix);
        auto reopened = open_store(copy.path);
        EXPECT_EQ(reopened->count("c"), 1046);
        SearchRequest req;
        req.k = 1;
        req.params = {64, 200};
        for (int64_t id : gone) {
            auto hits = reopened->search("c", rows[static_cast<size_t>(id - 1)].vector, req);
            ASSERT_EQ(hits[0].size(), 1u);
            EXPECT_NE(hits[0][0].row.id, id);
        }
        EXPECT_EQ(reopened->search("c", more[20].vector, req)[0][0].row.id, 2020);
        EXPECT_EQ(reopened->search("c", moved.vector, req)[0][0].row.id, 10);
    }
}

// A partial update is row SQL only: the snapshot stays current (no generation bump, nothing to
// replay), the vectors stay, and the new fields are durable and seen by another connection.
TEST(EmbeddedStore, UpdateLeavesIndexAndSnapshotAlone) {
    TempDb db, copy;
    auto store = open_store(db.path);
    store->create_collection(spec_of("c", 16, IndexKind::Hnsw));
    auto rows = make_rows(1, 200, 16);
    store->insert("c", rows);
    store->flush("c");
    const std::string state = store->stats("c").index_state;
    std::vector<RowPatch> patches(200);
    for (size_t i = 0; i < patches.size(); ++i) {
        patches[i].id = rows[i].id;
        patches[i].extra = {{"mtime_ns", int64_t(i)}};
    }
    patches[5].description = "patched";
    EXPECT_EQ(store->update("c", patches), 200);
    EXPECT_EQ(store->stats("c").index_state, state);
    for (const char* suffix : {"", "-wal"})
        if (fs::exists(db.path + suffix)) fs::copy_file(db.path + suffix, copy.path + suffix);
    StoreOptions ro;
    ro.read_only = true;
    for (auto* path : {&db.path, &copy.path}) {
        auto other = open_store(*path, ro);
        EXPECT_EQ(other->count("c", "mtime_ns >= 0"), 200);
        EXPECT_EQ(other->count("c", "description == \"patched\""), 1);
        EXPECT_EQ(other->stats("c").index_state, state);
        auto got = other->query("c", QueryRequest{"", {"*"}, -1, 0});
        ASSERT_EQ(got.size(), 200u);
        for (size_t r = 0; r < got.size(); ++r) ASSERT_EQ(got[r].vector, rows[r].vector) << r;
        SearchRequest req;
        req.k = 1;
        EXPECT_EQ(other->search("c", rows[5].vector, req)[0][0].row.description, "patched");
    }
}

TEST(EmbeddedStore, DamagedSnapshotMeansRebuildNotFailure) {
    TempDb db;
    auto rows = make_rows(1, 300, 8);
    {
        auto store = open_store(db.path);
        store->create_collection(spec_of("c", 8, IndexKind::Hnsw));
        store->insert("c", rows);
    }
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(db.path.c_str(), &raw), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw, "UPDATE snapshots_1 SET data = randomblob(length(data))",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(raw);
    }
    auto store = open_store(db.path);
    SearchRequest req;
    req.k = 1;
    EXPECT_EQ(store->search("c", rows[33].vector, req)[0][0].row.id, 34);
}

TEST(EmbeddedStore, SlotsOfDeletedRowsAreReused) {
    TempDb db;
    auto store = open_store(db.path);
    store->create_collection(spec_of("c", 64, IndexKind::Flat));
    store->insert("c", make_rows(1, 2048, 64));
    // each round frees the 1,000 rows the previous round inserted, then inserts 1,000 new ids
    for (int round = 0; round < 5; ++round) {
        std::vector<int64_t> victims;
        for (int64_t i = 1; i <= 1000; ++i) victims.push_back(round == 0 ? i : round * 100000 + i);
        EXPECT_EQ(store->remove("c", victims), 1000);
        store->insert("c", make_rows((round + 1) * 100000 + 1, 1000, 64));
    }
    EXPECT_EQ(store->count("c"), 2048);
    // 2,048 live rows fit the 2 chunks of 1,024 slots the first fill made
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(
            raw, "SELECT count(*), max(slot) FROM chunks_1, (SELECT max(slot) AS slot FROM rows_1)",
            -1, &stmt, nullptr),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
    EXPECT_EQ(sqlite3_column_int(stmt, 1), 2047);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
}

// --- index quality ------------------------------------------------------------------------------
TEST(EmbeddedStore, IvfWithAllProbesAndHnswWithLargeEfMatchFlat) {
    for (Metric metric : {Metric::Cosine, Metric::InnerProduct, Metric::L2}) {
        SCOPED_TRACE(std::string(metric_name(metric)));
        TempDb db;
        auto store = open_store(db.path);
        const int dim = 24;
        auto rows = make_rows(1, 3000, dim);
        for (IndexKind kind : {IndexKind::Flat, IndexKind::IvfFlat, IndexKind::Hnsw}) {
            store->create_collection(
                spec_of(std::string(index_kind_name(kind)), dim, kind, metric));
            store->insert(std::string(index_kind_name(kind)), rows);
        }
        SearchRequest req;
        req.k = 10;
        req.params.nprobe = 16;  // == nlist
        req.params.ef = 400;
        size_t hnsw_agree = 0, total = 0;
        for (uint64_t q = 0; q < 50; ++q) {
            auto query = random_vector(dim, 100000 + q);
            auto flat = store->search("FLAT", query, req)[0];
            auto ivf = store->search("IVF_FLAT", query, req)[0];
            auto hnsw = store->search("HNSW", query, req)[0];
            ASSERT_EQ(flat.size(), 10u);
            ASSERT_EQ(ivf.size(), 10u);
            EXPECT_EQ(top_ids(ivf), top_ids(flat));
            for (size_t i = 0; i < 10; ++i) EXPECT_NEAR(ivf[i].score, flat[i].score, 1e-4);
            auto f = top_ids(flat);
            std::set<int64_t> truth(f.begin(), f.end());
            std::map<int64_t, float> flat_score;
            for (const auto& hit : flat) flat_score[hit.row.id] = hit.score;
            for (const auto& h : hnsw) {
                hnsw_agree += truth.count(h.row.id);
                // the graph reads the arena's raw vectors (COSINE scales by the stored 1/|v|)
                if (truth.count(h.row.id)) {
                    EXPECT_NEAR(h.score, flat_score[h.row.id], 1e-5);
                }
            }
            total += 10;
        }
        EXPECT_GE(static_cast<double>(hnsw_agree) / static_cast<double>(total), 0.99);
    }
}

// Many queries take other paths than one: FLAT scores them with a blocked GEMM, HNSW splits them
// over threads. The answers must be those of one-query searches.
TEST(EmbeddedStore, ManyQueriesAnswerAsSingleQueries) {
    TempDb db;
    auto store = open_store(db.path);
    const int dim = 20;
    auto rows = make_rows(1, 2500, dim);  // more than one 1,024-vector tile
    for (Metric metric : {Metric::Cosine, Metric::InnerProduct, Metric::L2}) {
        for (IndexKind kind : {IndexKind::Flat, IndexKind::Hnsw}) {
            std::string name =
                std::string(index_kind_name(kind)) + "_" + std::string(metric_name(metric));
            SCOPED_TRACE(name);
            store->create_collection(spec_of(name, dim, kind, metric));
            store->insert(name, rows);
            std::vector<float> batch;
            const size_t nq = 40;
            for (uint64_t q = 0; q < nq; ++q) {
                auto v = random_vector(dim, 9000 + q);
                batch.insert(batch.end(), v.begin(), v.end());
            }
            SearchRequest req;
            req.k = 7;
            req.params.ef = 100;
            auto together = store->search(name, batch, req);
            ASSERT_EQ(together.size(), nq);
            for (size_t q = 0; q < nq; ++q) {
                std::span<const float> one(batch.data() + q * dim, dim);
                auto single = store->search(name, one, req)[0];
                ASSERT_EQ(together[q].size(), single.size());
                for (size_t i = 0; i < single.size(); ++i) {
                    EXPECT_EQ(together[q][i].row.id, single[i].row.id)
                        << "query " << q << " rank " << i;
                    EXPECT_NEAR(together[q][i].score, single[i].score, 1e-5);
                    EXPECT_FALSE(together[q][i].row.url.empty());  // rows fetched by default
                }
            }
        }
    }
}

// hnswlib only marks deleted nodes; once most of the graph is deleted the store rebuilds it, and
// searches stay as good as before.
// HNSW nodes name arena slots instead of holding vectors. A deleted row's node stays in the graph
// (marked) while its slot is freed and reused by a new row: the new row must be found, the
// deleted one never returned, in memory and after a reopen that replays the change.
TEST(EmbeddedStore, HnswDeletedNodesDoNotShadowRowsThatReuseTheirSlots) {
    TempDb db;
    const int dim = 16;
    auto rows = make_rows(1, 1500, dim);
    auto fresh = make_rows(10001, 200, dim);
    SearchRequest req;
    req.k = 1;
    req.params.ef = 64;
    auto check = [&](Store& store) {
        for (const auto& row : fresh) {
            auto hits = store.search("h", row.vector, req)[0];
            ASSERT_EQ(hits.size(), 1u);
            EXPECT_EQ(hits[0].row.id, row.id);
        }
        for (int64_t id = 1; id <= 200; ++id) {
            auto hits = store.search("h", rows[static_cast<size_t>(id - 1)].vector, req)[0];
            ASSERT_EQ(hits.size(), 1u);
            EXPECT_GT(hits[0].row.id, 200);
        }
    };
    {
        auto store = open_store(db.path);
        store->create_collection(spec_of("h", dim, IndexKind::Hnsw));
        store->insert("h", rows);
        store->flush("h");
        std::vector<int64_t> gone;
        for (int64_t id = 1; id <= 200; ++id) gone.push_back(id);
        store->remove("h", gone);   // 13%: the nodes stay, marked deleted
        store->insert("h", fresh);  // into the 200 freed slots
        EXPECT_NE(store->stats("h").index_state.find("1700 nodes, 200 deleted"), std::string::npos)
            << store->stats("h").index_state;
        check(*store);
    }
    auto reopened = open_store(db.path);
    check(*reopened);
}

TEST(EmbeddedStore, HnswWithManyDeletionsIsCompacted) {
    TempDb db;
    auto store = open_store(db.path);
    const int dim = 16;
    store->create_collection(spec_of("h", dim, IndexKind::Hnsw));
    store->create_collection(spec_of("f", dim, IndexKind::Flat));
    auto rows = make_rows(1, 2000, dim);
    store->insert("h", rows);
    store->insert("f", rows);
    std::vector<int64_t> gone;
    for (int64_t id = 1; id <= 500; ++id) gone.push_back(id);
    store->remove("h", gone);  // 25%: below the threshold, nodes stay marked
    EXPECT_NE(store->stats("h").index_state.find("2000 nodes, 500 deleted"), std::string::npos)
        << store->stats("h").index_state;
    for (int64_t id = 501; id <= 1200; ++id) gone.push_back(id);
    store->remove("h", gone);  // 60%: rebuilt from the 800 live rows
    store->remove("f", gone);
    EXPECT_NE(store->stats("h").index_state.find("800 nodes, 0 deleted"), std::string::npos)
        << store->stats("h").index_state;
    SearchRequest req;
    req.k = 10;
    req.params.ef = 200;
    size_t agree = 0;
    for (uint64_t q = 0; q < 20; ++q) {
        auto query = random_vector(dim, 500 + q);
        auto flat = top_ids(store->search("f", query, req)[0]);
        auto hnsw = top_ids(store->search("h", query, req)[0]);
        ASSERT_EQ(hnsw.size(), 10u);
        std::set<int64_t> truth(flat.begin(), flat.end());
        for (int64_t id : hnsw) {
            EXPECT_GT(id, 1200);
            agree += truth.count(id);
        }
    }
    EXPECT_GE(agree, 190u);
    store.reset();
    auto reopened = open_store(db.path);  // the compacted graph is what the snapshot holds
    EXPECT_NE(reopened->stats("h").index_state.find("800 nodes, 0 deleted"), std::string::npos)
        << reopened->stats("h").index_state;
}

// --- concurrency and processes -------------------------------------------------------------------
TEST(EmbeddedStore, ConcurrentSearchesDuringWrites) {
    TempDb db;
    auto store = open_store(db.path);
    store->create_collection(spec_of("c", 16, IndexKind::Hnsw));
    store->insert("c", make_rows(1, 500, 16));
    std::atomic<bool> stop{false};
    std::atomic<int> searches{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&, t] {
            SearchRequest req;
            req.k = 5;
            req.filter = t == 0 ? "tag == \"even\"" : "";
            while (!stop) {
                auto hits = store->search(
                    "c", random_vector(16, static_cast<uint64_t>(searches.load())), req);
                EXPECT_EQ(hits[0].size(), 5u);
                ++searches;
            }
        });
    for (int b = 0; b < 20; ++b) {
        store->insert("c", make_rows(1000 + b * 100, 100, 16));
        std::vector<int64_t> ids{1000 + b * 100};
        store->remove("c", ids);
    }
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_GT(searches.load(), 0);
    EXPECT_EQ(store->count("c"), 500 + 20 * 99);
}

TEST(EmbeddedStore, SecondWriterIsRefusedReadersAreNot) {
    TempDb db;
    auto writer = open_store(db.path);
    writer->create_collection(spec_of("c", 4, IndexKind::Hnsw));
    writer->insert("c", make_rows(1, 10, 4));
    // same process, second handle
    try {
        open_store(db.path);
        ADD_FAILURE() << "second writer accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Conflict);
        EXPECT_NE(std::string(e.what()).find(db.path), std::string::npos) << e.what();
    }
    // another process
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 1;
        try {
            open_store(db.path);
            code = 2;
        } catch (const Error& e) {
            code = e.code() == ErrorCode::Conflict ? 0 : 3;
        } catch (...) {
            code = 4;
        }
        _exit(code);
    }
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child could open a second writer (2) or failed otherwise";

    // a reader in another process sees committed rows
    child = fork();
    if (child == 0) {
        int code = 1;
        try {
            StoreOptions ro;
            ro.read_only = true;
            auto reader = open_store(db.path, ro);
            code = reader->count("c") == 10 ? 0 : 5;
            SearchRequest req;
            req.k = 3;
            if (code == 0 && reader->search("c", random_vector(4, 3), req)[0].size() != 3) code = 6;
        } catch (...) {
            code = 7;
        }
        _exit(code);
    }
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);

    // an in-process reader follows the writer
    StoreOptions ro;
    ro.read_only = true;
    auto reader = open_store(db.path, ro);
    SearchRequest req;
    req.k = 20;
    EXPECT_EQ(reader->search("c", random_vector(4, 1), req)[0].size(), 10u);
    writer->insert("c", make_rows(100, 5, 4));
    std::vector<int64_t> gone{1};
    writer->remove("c", gone);
    EXPECT_EQ(reader->search("c", random_vector(4, 1), req)[0].size(), 14u);
    CLIPDEX_EXPECT_ERROR(reader->insert("c", make_rows(200, 1, 4)), ErrorCode::Unsupported);
    writer.reset();
    auto next = open_store(db.path);  // the lock is released with the writer
    EXPECT_EQ(next->count("c"), 14);
}

// --- crash safety -----------------------------------------------------------------------------
namespace {

std::string crash_writer_path() {
    return std::string(CLIPDEX_BINARY_DIR) + "/tests/store_crash_writer";
}

// Runs the crash writer, reads its report lines for about `millis`, then SIGKILLs it.
std::vector<std::string> run_and_kill(const std::string& db_path, int millis) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        std::string exe = crash_writer_path();
        execl(exe.c_str(), exe.c_str(), db_path.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    std::thread killer([child, millis] {
        std::this_thread::sleep_for(std::chrono::milliseconds(millis));
        kill(child, SIGKILL);
    });
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<size_t>(n));
    close(fds[0]);
    killer.join();
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "writer ended on its own: " << text;
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

}  // namespace

TEST(EmbeddedStoreCrash, KilledWriterLosesOnlyUncommittedBatches) {
    ASSERT_TRUE(fs::exists(crash_writer_path())) << crash_writer_path();
    TempDb db;
    constexpr int64_t kBatch = 50;  // must match tests/tools/store_crash_writer.cpp
    constexpr int kDim = 16;
    std::set<int64_t> committed_batches, removed_ids;
    std::mt19937 rng(7);
    for (int round = 0; round < 5; ++round) {
        auto lines = run_and_kill(db.path, 300 + static_cast<int>(rng() % 700));
        for (const auto& line : lines) {
            std::istringstream in(line);
            std::string what;
            int64_t value = 0;
            in >> what >> value;
            if (what == "committed") committed_batches.insert(value);
            if (what == "removed") removed_ids.insert(value);
        }
    }
    ASSERT_GT(committed_batches.size(), 3u) << "the writer made no progress";
    auto store = open_store(db.path);
    auto rows = store->query("crash", QueryRequest{"", {"vector"}, -1, 0});
    std::map<int64_t, std::set<int64_t>> by_batch;
    for (const auto& row : rows) {
        by_batch[row.id / kBatch].insert(row.id);
        auto expected = random_vector(kDim, static_cast<uint64_t>(row.id));
        ASSERT_EQ(row.vector, expected) << "row " << row.id << " vector damaged";
    }
    for (int64_t b : committed_batches) {
        ASSERT_TRUE(by_batch.count(b)) << "committed batch " << b << " lost";
        for (int64_t i = 0; i < kBatch; ++i) {
            int64_t id = b * kBatch + i;
            if (removed_ids.count(id)) {
                EXPECT_FALSE(by_batch[b].count(id)) << "removed id " << id << " came back";
            } else if (i != 0) {
                EXPECT_TRUE(by_batch[b].count(id)) << "committed id " << id << " lost";
            }
        }
    }
    for (const auto& [b, ids] :
         by_batch)  // atomic batches: all rows but the removable first one, or none
        EXPECT_GE(static_cast<int64_t>(ids.size()), kBatch - 1)
            << "batch " << b << " partially present";
    // the index agrees with the rows: every row finds itself, no removed row is found
    SearchRequest req;
    req.k = 1;
    req.params.ef = 200;
    size_t checked = 0;
    for (size_t i = 0; i < rows.size(); i += 7, ++checked) {
        auto hits = store->search("crash", rows[i].vector, req);
        ASSERT_EQ(hits[0].size(), 1u);
        EXPECT_EQ(hits[0][0].row.id, rows[i].id);
    }
    for (int64_t id : removed_ids) {
        auto hits = store->search("crash", random_vector(kDim, static_cast<uint64_t>(id)), req);
        ASSERT_EQ(hits[0].size(), 1u);
        EXPECT_NE(hits[0][0].row.id, id);
    }
    EXPECT_GT(checked, 0u);
    EXPECT_EQ(store->count("crash"), static_cast<int64_t>(rows.size()));
}
