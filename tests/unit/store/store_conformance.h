// The store conformance suite: every operation of clipdex::store::Store, checked the same way
// against any backend.
//
// Use it from exactly one .cpp per test binary:
//
//   #include "store_conformance.h"
//   using namespace clipdex::store::conformance;
//   INSTANTIATE_TEST_SUITE_P(Milvus, StoreConformance, ::testing::Values(ConformanceParam{
//       "milvus_lite", [] { return ConformanceTarget{open_store("http://127.0.0.1:19530"),
//                                                    unique_collection_name("conf")}; }}),
//       [](const auto& info) { return info.param.name; });
//
// The factory returns a store and a collection name that does not exist yet; each test creates
// that collection (with the index it needs) and drops it at the end. Tests use small dims and
// row counts so they run against remote servers in seconds. Writes are followed by
// flush() where a backend with eventual visibility (Milvus) would need it; the contract says a
// write is visible to the next call, so the embedded store passes without it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "clipdex/store.h"
#include "store_test_vectors.h"

namespace clipdex::store::conformance {

struct ConformanceTarget {
    std::unique_ptr<Store> store;
    std::string collection;
};

struct ConformanceParam {
    std::string name;  // shows in the test names: letters, digits, '_'
    std::function<ConformanceTarget()> factory;
};

inline std::string unique_collection_name(const std::string& prefix) {
    static std::atomic<int> counter{0};
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    return prefix + "_" + std::to_string(now % 1000000007) + "_" + std::to_string(counter++);
}

inline Row make_row(int64_t id, int dim, uint64_t seed) {
    Row r;
    r.id = id;
    r.url = "/images/" + std::to_string(id) + ".jpg";
    r.description = "row " + std::to_string(id);
    r.vector = random_vector(dim, seed);
    r.extra = {{"size", id * 10}, {"tag", id % 2 == 0 ? "even" : "odd"}};
    return r;
}

inline std::vector<Row> make_rows(int64_t first, int64_t count, int dim) {
    std::vector<Row> rows;
    for (int64_t i = 0; i < count; ++i)
        rows.push_back(make_row(first + i, dim, static_cast<uint64_t>(first + i)));
    return rows;
}

inline bool better(float a, float b, Metric metric) {
    return metric == Metric::L2 ? a <= b : a >= b;
}

#define CLIPDEX_EXPECT_ERROR(statement, error_code)                                \
    do {                                                                           \
        try {                                                                      \
            statement;                                                             \
            ADD_FAILURE() << "expected " << ::clipdex::error_code_name(error_code) \
                          << " from " #statement;                                  \
        } catch (const ::clipdex::Error& e) {                                      \
            EXPECT_EQ(::clipdex::error_code_name(e.code()),                        \
                      ::clipdex::error_code_name(error_code))                      \
                << e.what();                                                       \
        }                                                                          \
    } while (0)

class StoreConformance : public ::testing::TestWithParam<ConformanceParam> {
  protected:
    void SetUp() override {
        target_ = GetParam().factory();
        store_ = target_.store.get();
        name_ = target_.collection;
    }
    void TearDown() override {
        try {
            if (store_ && store_->has_collection(name_)) store_->drop_collection(name_);
        } catch (const std::exception&) {
        }
    }

    void create(int dim, IndexKind kind = IndexKind::Flat, Metric metric = Metric::Cosine) {
        CollectionSpec spec;
        spec.name = name_;
        spec.dim = dim;
        spec.index.kind = kind;
        spec.index.metric = metric;
        spec.index.nlist = 8;
        spec.index.m = 8;
        spec.index.ef_construction = 64;
        spec.description = "conformance";
        spec.properties = {{"clipdex.model", "test"}};
        store_->create_collection(spec);
    }

    void insert(const std::vector<Row>& rows) {
        store_->insert(name_, rows);
        store_->flush(name_);
    }

    ConformanceTarget target_;
    Store* store_ = nullptr;
    std::string name_;
};

TEST_P(StoreConformance, CreateDescribeListDrop) {
    create(8, IndexKind::Hnsw, Metric::L2);
    EXPECT_TRUE(store_->has_collection(name_));
    auto names = store_->list_collections();
    EXPECT_NE(std::find(names.begin(), names.end(), name_), names.end());
    auto info = store_->describe_collection(name_);
    EXPECT_EQ(info.spec.name, name_);
    EXPECT_EQ(info.spec.dim, 8);
    EXPECT_EQ(info.spec.index.kind, IndexKind::Hnsw);
    EXPECT_EQ(info.spec.index.metric, Metric::L2);
    EXPECT_EQ(info.row_count, 0);
    CLIPDEX_EXPECT_ERROR(create(8), ErrorCode::AlreadyExists);
    store_->drop_collection(name_);
    EXPECT_FALSE(store_->has_collection(name_));
    CLIPDEX_EXPECT_ERROR(store_->drop_collection(name_), ErrorCode::NotFound);
}

TEST_P(StoreConformance, SetPropertiesMergesIntoTheRecordedOnes) {
    create(8);
    insert(make_rows(1, 3, 8));
    const auto before = store_->describe_collection(name_).spec.properties;
    try {
        store_->set_properties(name_, {{"clipdex.model", "other"}, {"clipdex.extra", "x y"}});
    } catch (const Error& e) {
        // A Milvus server without AlterCollection (Milvus Lite 2.5): refused as such, nothing
        // changed, and the engine keeps the record it has.
        ASSERT_EQ(e.code(), ErrorCode::Unsupported) << e.what();
        EXPECT_NE(std::string(e.what()).find("AlterCollection"), std::string::npos) << e.what();
        EXPECT_EQ(store_->describe_collection(name_).spec.properties, before);
        return;
    }
    auto info = store_->describe_collection(name_);
    EXPECT_EQ(info.spec.properties.at("clipdex.model"), "other");
    EXPECT_EQ(info.spec.properties.at("clipdex.extra"), "x y");
    EXPECT_EQ(info.spec.dim, 8);
    EXPECT_EQ(info.row_count, 3);
    store_->set_properties(name_, {{"clipdex.extra", "z"}});
    info = store_->describe_collection(name_);
    EXPECT_EQ(info.spec.properties.at("clipdex.model"), "other");  // not named: kept
    EXPECT_EQ(info.spec.properties.at("clipdex.extra"), "z");
    const std::vector<float> query = make_row(2, 8, 2).vector;
    EXPECT_EQ(store_->search(name_, query, {}).at(0).at(0).row.id, 2);  // rows and index intact
    CLIPDEX_EXPECT_ERROR(store_->set_properties("absent_" + name_, {{"a", "b"}}),
                         ErrorCode::NotFound);
}

TEST_P(StoreConformance, InvalidNamesAndSpecsRejected) {
    for (std::string bad : {"", "1abc", "a-b", "with space", "naïve"}) {
        CollectionSpec spec;
        spec.name = bad;
        spec.dim = 4;
        CLIPDEX_EXPECT_ERROR(store_->create_collection(spec), ErrorCode::InvalidInput);
    }
    CollectionSpec spec;
    spec.name = name_;
    spec.dim = 0;
    CLIPDEX_EXPECT_ERROR(store_->create_collection(spec), ErrorCode::InvalidInput);
}

TEST_P(StoreConformance, UnknownCollectionIsNotFound) {
    std::vector<Row> rows = make_rows(1, 1, 4);
    std::vector<float> q(4, 1.0f);
    std::vector<int64_t> ids{1};
    CLIPDEX_EXPECT_ERROR(store_->insert(name_, rows), ErrorCode::NotFound);
    CLIPDEX_EXPECT_ERROR(store_->search(name_, q, {}), ErrorCode::NotFound);
    CLIPDEX_EXPECT_ERROR(store_->get(name_, ids), ErrorCode::NotFound);
    CLIPDEX_EXPECT_ERROR(store_->count(name_), ErrorCode::NotFound);
    CLIPDEX_EXPECT_ERROR(store_->describe_collection(name_), ErrorCode::NotFound);
}

TEST_P(StoreConformance, InsertGetRoundTripIsBitExact) {
    create(16);
    auto rows = make_rows(1, 20, 16);
    rows[3].vector[0] = 1e-30f;  // a denormal-adjacent value must survive untouched
    rows[3].url = "/照片/猫 cat 🐱.png";
    insert(rows);
    EXPECT_EQ(store_->count(name_), 20);
    std::vector<int64_t> ids{5, 4, 999, 1};
    auto got = store_->get(name_, ids, {"*"});
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].id, 5);
    EXPECT_EQ(got[1].id, 4);
    EXPECT_EQ(got[2].id, 1);
    EXPECT_EQ(got[1].url, "/照片/猫 cat 🐱.png");
    EXPECT_EQ(got[1].vector, rows[3].vector);
    EXPECT_EQ(got[2].vector, rows[0].vector);
    EXPECT_EQ(got[2].description, "row 1");
    EXPECT_EQ(got[2].extra["size"], 10);
    EXPECT_FALSE(got[2].added_at.empty());
    EXPECT_FALSE(got[2].updated_at.empty());
    auto scalars = store_->get(name_, ids);
    ASSERT_EQ(scalars.size(), 3u);
    EXPECT_TRUE(scalars[0].vector.empty());
    EXPECT_EQ(scalars[0].extra["tag"], "odd");
    auto only_url = store_->get(name_, ids, {"url"});
    ASSERT_EQ(only_url.size(), 3u);
    EXPECT_EQ(only_url[0].url, "/images/5.jpg");
    EXPECT_TRUE(only_url[0].description.empty());
    EXPECT_TRUE(only_url[0].vector.empty());
}

TEST_P(StoreConformance, DuplicateInsertIsRefusedAtomically) {
    create(4);
    insert(make_rows(1, 3, 4));
    auto again = make_rows(10, 2, 4);
    again.push_back(make_row(2, 4, 77));
    CLIPDEX_EXPECT_ERROR(store_->insert(name_, again), ErrorCode::AlreadyExists);
    EXPECT_EQ(store_->count(name_), 3);
    std::vector<int64_t> ten{10};
    EXPECT_TRUE(store_->get(name_, ten).empty());
}

TEST_P(StoreConformance, UpsertReplacesAndKeepsAddedAt) {
    create(4);
    auto rows = make_rows(1, 2, 4);
    rows[0].added_at = "2020-01-01T00:00:00.000Z";
    insert(rows);
    Row changed = make_row(1, 4, 500);
    changed.url = "/new.jpg";
    changed.added_at = "2030-01-01T00:00:00.000Z";
    std::vector<Row> batch{changed, make_row(3, 4, 3)};
    store_->upsert(name_, batch);
    store_->flush(name_);
    EXPECT_EQ(store_->count(name_), 3);
    std::vector<int64_t> one{1};
    auto got = store_->get(name_, one, {"*"});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].url, "/new.jpg");
    EXPECT_EQ(got[0].vector, changed.vector);
    EXPECT_EQ(got[0].added_at, "2020-01-01T00:00:00.000Z");
    // the search sees the new vector, not the old one
    SearchRequest req;
    req.k = 1;
    auto hits = store_->search(name_, changed.vector, req);
    ASSERT_EQ(hits.size(), 1u);
    ASSERT_EQ(hits[0].size(), 1u);
    EXPECT_EQ(hits[0][0].row.id, 1);
}

TEST_P(StoreConformance, UpdateChangesOnlyTheNamedFields) {
    create(4, IndexKind::Hnsw);
    auto rows = make_rows(1, 3, 4);
    rows[0].added_at = "2020-01-01T00:00:00.000Z";
    rows[0].updated_at = "2020-01-01T00:00:00.000Z";
    insert(rows);
    std::vector<RowPatch> patches(3);
    patches[0].id = 1;
    patches[0].description = "a new description";
    patches[0].extra = {{"tag", "changed"}, {"mtime_ns", 42}};
    patches[1].id = 2;
    patches[1].url = "/moved/2.jpg";
    patches[2].id = 99;  // absent: skipped
    patches[2].description = "nobody";
    EXPECT_EQ(store_->update(name_, patches), 2);
    store_->flush(name_);
    EXPECT_EQ(store_->count(name_), 3);
    std::vector<int64_t> ids{1, 2, 3};
    auto got = store_->get(name_, ids, {"*"});
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].description, "a new description");
    EXPECT_EQ(got[0].url, rows[0].url);
    EXPECT_EQ(got[0].extra, (nlohmann::json{{"tag", "changed"}, {"size", 10}, {"mtime_ns", 42}}));
    EXPECT_EQ(got[0].added_at, "2020-01-01T00:00:00.000Z");
    EXPECT_NE(got[0].updated_at, "2020-01-01T00:00:00.000Z");
    EXPECT_EQ(got[1].url, "/moved/2.jpg");
    EXPECT_EQ(got[1].description, rows[1].description);
    EXPECT_EQ(got[1].extra, rows[1].extra);
    EXPECT_EQ(got[2].url, rows[2].url);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i].vector, rows[i].vector) << i;
    // filters see the new values; searches still find every row by its own vector
    EXPECT_EQ(store_->count(name_, "tag == \"changed\""), 1);
    EXPECT_EQ(store_->count(name_, "url like \"/moved/%\""), 1);
    EXPECT_EQ(store_->count(name_, "mtime_ns == 42"), 1);
    SearchRequest req;
    req.k = 1;
    req.filter = "tag == \"changed\"";
    for (size_t i = 0; i < 3; ++i) {
        auto hits = store_->search(name_, rows[i].vector, req);
        ASSERT_EQ(hits.size(), 1u);
        ASSERT_EQ(hits[0].size(), 1u);
        EXPECT_EQ(hits[0][0].row.id, 1);
    }
    req.filter.clear();
    auto hits = store_->search(name_, rows[1].vector, req);
    ASSERT_EQ(hits[0].size(), 1u);
    EXPECT_EQ(hits[0][0].row.id, 2);
    EXPECT_EQ(hits[0][0].row.url, "/moved/2.jpg");
}

TEST_P(StoreConformance, UpdateRejectsBadPatchesAtomically) {
    create(4);
    insert(make_rows(1, 2, 4));
    std::vector<RowPatch> patches(2);
    patches[0].id = 1;
    patches[0].description = "fine";
    patches[1].id = 2;
    patches[1].url = std::string(kMaxUrlBytes + 1, 'u');
    CLIPDEX_EXPECT_ERROR(store_->update(name_, patches), ErrorCode::InvalidInput);
    patches[1].url.reset();
    patches[1].extra = {{"url", "clash"}};
    CLIPDEX_EXPECT_ERROR(store_->update(name_, patches), ErrorCode::InvalidInput);
    std::vector<int64_t> one{1};
    EXPECT_EQ(store_->get(name_, one)[0].description, "row 1");
    std::vector<RowPatch> none;
    EXPECT_EQ(store_->update(name_, none), 0);
    CLIPDEX_EXPECT_ERROR(store_->update("no_such_collection", patches), ErrorCode::NotFound);
}

TEST_P(StoreConformance, BadRowsAreRejectedWithContext) {
    create(4);
    auto rows = make_rows(1, 3, 4);
    rows[1].vector.pop_back();
    try {
        store_->insert(name_, rows);
        ADD_FAILURE() << "bad dim accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
        EXPECT_NE(std::string(e.what()).find(name_), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("id 2"), std::string::npos) << e.what();
    }
    rows = make_rows(1, 1, 4);
    rows[0].vector[2] = std::nanf("");
    CLIPDEX_EXPECT_ERROR(store_->insert(name_, rows), ErrorCode::InvalidInput);
    rows = make_rows(1, 1, 4);
    rows[0].url = std::string(kMaxUrlBytes + 1, 'x');
    CLIPDEX_EXPECT_ERROR(store_->insert(name_, rows), ErrorCode::InvalidInput);
    rows[0].url = std::string(kMaxUrlBytes, 'x');
    store_->insert(name_, rows);
    EXPECT_EQ(store_->count(name_), 1);
    std::vector<float> nan_query(4, std::nanf(""));
    CLIPDEX_EXPECT_ERROR(store_->search(name_, nan_query, {}), ErrorCode::InvalidInput);
    std::vector<float> short_query(3, 1.0f);
    CLIPDEX_EXPECT_ERROR(store_->search(name_, short_query, {}), ErrorCode::InvalidInput);
}

TEST_P(StoreConformance, RemoveAndRemoveWhere) {
    create(8, IndexKind::Hnsw);
    auto rows = make_rows(1, 50, 8);
    insert(rows);
    std::vector<int64_t> ids{1, 2, 3, 1000};
    EXPECT_EQ(store_->remove(name_, ids), 3);
    EXPECT_EQ(store_->count(name_), 47);
    EXPECT_EQ(store_->remove_where(name_, "id >= 40"), 11);
    store_->flush(name_);
    EXPECT_EQ(store_->count(name_), 36);
    SearchRequest req;
    req.k = 50;
    auto hits = store_->search(name_, rows[0].vector, req);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].size(), 36u);
    for (const auto& h : hits[0]) EXPECT_TRUE(h.row.id > 3 && h.row.id < 40) << h.row.id;
}

TEST_P(StoreConformance, QueryOrderLimitOffsetFilter) {
    create(4);
    insert(make_rows(1, 30, 4));
    QueryRequest all;
    auto rows = store_->query(name_, all);
    ASSERT_EQ(rows.size(), 30u);
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].id, static_cast<int64_t>(i + 1));
    QueryRequest page;
    page.limit = 5;
    page.offset = 10;
    rows = store_->query(name_, page);
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].id, 11);
    QueryRequest filtered;
    filtered.filter = "tag == \"even\" and size > 100";
    filtered.output_fields = {"url", "size"};
    rows = store_->query(name_, filtered);
    ASSERT_EQ(rows.size(), 10u);  // ids 12, 14, ..., 30
    EXPECT_EQ(rows[0].id, 12);
    EXPECT_EQ(rows[0].extra["size"], 120);
    EXPECT_FALSE(rows[0].extra.contains("tag"));
    EXPECT_EQ(store_->count(name_, "tag == \"odd\""), 15);
    EXPECT_EQ(store_->count(name_, "url like \"%/1_.jpg\""), 10);
    CLIPDEX_EXPECT_ERROR(store_->count(name_, "id in [1,"), ErrorCode::InvalidInput);
}

TEST_P(StoreConformance, SearchRanksByEveryMetric) {
    for (Metric metric : {Metric::Cosine, Metric::InnerProduct, Metric::L2}) {
        SCOPED_TRACE(std::string(metric_name(metric)));
        create(12, IndexKind::Flat, metric);
        auto rows = make_rows(1, 100, 12);
        insert(rows);
        SearchRequest req;
        req.k = 10;
        auto query = rows[41].vector;
        auto hits = store_->search(name_, query, req);
        ASSERT_EQ(hits.size(), 1u);
        ASSERT_EQ(hits[0].size(), 10u);
        if (metric != Metric::InnerProduct) {
            EXPECT_EQ(hits[0][0].row.id, 42);
        }
        for (size_t i = 1; i < hits[0].size(); ++i)
            EXPECT_TRUE(better(hits[0][i - 1].score, hits[0][i].score, metric));
        if (metric == Metric::Cosine) {
            EXPECT_NEAR(hits[0][0].score, 1.0f, 1e-4);
        }
        if (metric == Metric::L2) {
            EXPECT_NEAR(hits[0][0].score, 0.0f, 1e-4);
        }
        store_->drop_collection(name_);
    }
}

TEST_P(StoreConformance, BatchSearchEqualsSingleSearches) {
    create(8, IndexKind::Hnsw);
    auto rows = make_rows(1, 200, 8);
    insert(rows);
    SearchRequest req;
    req.k = 5;
    req.params.ef = 200;
    std::vector<float> batch;
    for (int i : {3, 50, 120})
        batch.insert(batch.end(), rows[static_cast<size_t>(i)].vector.begin(),
                     rows[static_cast<size_t>(i)].vector.end());
    auto together = store_->search(name_, batch, req);
    ASSERT_EQ(together.size(), 3u);
    for (size_t q = 0; q < 3; ++q) {
        std::vector<float> one(batch.begin() + static_cast<ptrdiff_t>(q * 8),
                               batch.begin() + static_cast<ptrdiff_t>((q + 1) * 8));
        auto single = store_->search(name_, one, req);
        ASSERT_EQ(single[0].size(), together[q].size());
        for (size_t i = 0; i < single[0].size(); ++i)
            EXPECT_EQ(single[0][i].row.id, together[q][i].row.id);
    }
}

TEST_P(StoreConformance, FilteredSearchNeverStarves) {
    for (IndexKind kind : {IndexKind::Flat, IndexKind::Hnsw, IndexKind::IvfFlat}) {
        SCOPED_TRACE(std::string(index_kind_name(kind)));
        create(8, kind);
        auto rows = make_rows(1, 3000, 8);
        insert(rows);
        SearchRequest req;
        req.k = 10;
        req.output_fields = {"tag"};
        // selective: 12 rows match, far from the query
        req.filter = "id in [2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000, 5]";
        auto hits = store_->search(name_, rows[100].vector, req);
        ASSERT_EQ(hits[0].size(), 10u);
        for (const auto& h : hits[0]) EXPECT_TRUE(h.row.id >= 2990 || h.row.id == 5) << h.row.id;
        // broad: half the rows
        req.filter = "tag == \"even\"";
        hits = store_->search(name_, rows[100].vector, req);
        ASSERT_EQ(hits[0].size(), 10u);
        for (const auto& h : hits[0]) EXPECT_EQ(h.row.extra["tag"], "even");
        // nothing matches
        req.filter = "id < 0";
        hits = store_->search(name_, rows[100].vector, req);
        EXPECT_TRUE(hits[0].empty());
        store_->drop_collection(name_);
    }
}

TEST_P(StoreConformance, SearchReturnsRequestedFields) {
    create(4);
    auto rows = make_rows(1, 5, 4);
    insert(rows);
    SearchRequest req;
    req.k = 2;
    req.output_fields = {"vector", "url"};
    auto hits = store_->search(name_, rows[2].vector, req);
    ASSERT_EQ(hits[0].size(), 2u);
    EXPECT_EQ(hits[0][0].row.id, 3);
    EXPECT_EQ(hits[0][0].row.vector, rows[2].vector);
    EXPECT_EQ(hits[0][0].row.url, rows[2].url);
    EXPECT_TRUE(hits[0][0].row.description.empty());
    req.k = 0;
    CLIPDEX_EXPECT_ERROR(store_->search(name_, rows[2].vector, req), ErrorCode::InvalidInput);
}

}  // namespace clipdex::store::conformance
