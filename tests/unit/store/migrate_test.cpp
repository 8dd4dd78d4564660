// migrate_collection between two embedded stores: bit-exact copies, resume after an
// interruption, spec and properties carried, conflicts refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <stdexcept>

#include "clipdex/store.h"
#include "store/migrate.h"

namespace fs = std::filesystem;
using namespace clipdex;
using namespace clipdex::store;

namespace {

struct MigrateDir {
    fs::path dir;
    MigrateDir() {
        static int counter = 0;
        dir = fs::temp_directory_path() / ("clipdex_migrate_test_" + std::to_string(::getpid()) +
                                           "_" + std::to_string(counter++));
        fs::create_directories(dir);
    }
    ~MigrateDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string db(const std::string& name) const { return (dir / name).string(); }
};

CollectionSpec make_spec(const std::string& name, int dim, Metric metric = Metric::Cosine) {
    CollectionSpec spec;
    spec.name = name;
    spec.dim = dim;
    spec.index.kind = IndexKind::IvfFlat;
    spec.index.metric = metric;
    spec.index.nlist = 8;
    spec.description = "gallery of 表情 🐱";
    spec.properties = {{"clipdex.model", "ViT-B-32::openai"}, {"clipdex.note", "ünïcode ✓"}};
    return spec;
}

// Rows with awkward content: unicode urls, sparse ids, odd floats, nested dynamic fields.
std::vector<Row> make_rows(int n, int dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-1, 1);
    std::vector<Row> rows;
    for (int i = 0; i < n; ++i) {
        Row row;
        row.id = int64_t{i} * 7919 - 1000;  // negative and sparse ids too
        row.url = "/照片/" + std::to_string(i) + " 🐱.svg";
        row.description = i % 3 == 0 ? "" : "caption \"" + std::to_string(i) + "\"";
        row.added_at = "2025-01-0" + std::to_string(1 + i % 9) + "T10:00:00.123Z";
        row.updated_at = "2026-02-0" + std::to_string(1 + i % 9) + "T11:00:00.456Z";
        for (int j = 0; j < dim; ++j) row.vector.push_back(uniform(rng));
        row.vector[0] = i % 4 == 0 ? -0.0f : std::numeric_limits<float>::denorm_min() * float(i);
        row.extra = {{"size", i * 10}, {"tag", i % 2 ? "odd" : "even"}, {"ratio", i / 3.0}};
        if (i % 5 == 0) row.extra["nested"] = {{"k", {1, 2, 3}}, {"名", "值"}};
        rows.push_back(std::move(row));
    }
    return rows;
}

std::vector<Row> all_rows(Store& store, const std::string& collection) {
    QueryRequest request;
    request.output_fields = {"*"};
    return store.query(collection, request);
}

void expect_same_rows(Store& a, const std::string& ca, Store& b, const std::string& cb) {
    const std::vector<Row> left = all_rows(a, ca);
    const std::vector<Row> right = all_rows(b, cb);
    ASSERT_EQ(left.size(), right.size());
    for (size_t i = 0; i < left.size(); ++i) {
        EXPECT_TRUE(rows_identical(left[i], right[i])) << "row " << left[i].id << " differs";
        ASSERT_EQ(left[i].vector.size(), right[i].vector.size());
        EXPECT_EQ(0, std::memcmp(left[i].vector.data(), right[i].vector.data(),
                                 left[i].vector.size() * 4));
    }
}

struct Fixture {
    MigrateDir dir;
    std::unique_ptr<Store> src = open_store(dir.db("src.db"));
    std::unique_ptr<Store> dst = open_store(dir.db("dst.db"));
    std::vector<Row> rows;

    explicit Fixture(int n, int dim = 8) {
        src->create_collection(make_spec("clipdex", dim));
        rows = make_rows(n, dim, 42);
        if (!rows.empty()) src->insert("clipdex", rows);
    }
};

MigrateOptions batches_of(int64_t n) {
    MigrateOptions options;
    options.batch_size = n;
    return options;
}

}  // namespace

TEST(Migrate, CopiesEveryRowBitExact) {
    Fixture f(250);
    const MigrateReport report = migrate_collection(*f.src, *f.dst, batches_of(64));
    EXPECT_TRUE(report.verified);
    EXPECT_TRUE(report.created);
    EXPECT_EQ(report.copied, 250);
    EXPECT_EQ(report.skipped, 0);
    EXPECT_EQ(report.source_rows, 250);
    EXPECT_EQ(report.destination_rows, 250);
    expect_same_rows(*f.src, "clipdex", *f.dst, "clipdex");
    // The source's own values, not only equal on both sides (a store may rewrite both).
    const std::vector<Row> copied = all_rows(*f.dst, "clipdex");
    ASSERT_EQ(copied.size(), f.rows.size());
    for (size_t i = 0; i < copied.size(); ++i)
        EXPECT_TRUE(rows_identical(copied[i], f.rows[i])) << i;
    EXPECT_TRUE(std::signbit(copied[0].vector[0]));
}

TEST(Migrate, CarriesSpecAndProperties) {
    Fixture f(10);
    migrate_collection(*f.src, *f.dst, {});
    const CollectionSpec spec = f.dst->describe_collection("clipdex").spec;
    EXPECT_EQ(spec.dim, 8);
    EXPECT_EQ(spec.index.kind, IndexKind::IvfFlat);
    EXPECT_EQ(spec.index.metric, Metric::Cosine);
    EXPECT_EQ(spec.index.nlist, 8);
    EXPECT_EQ(spec.description, "gallery of 表情 🐱");
    EXPECT_EQ(spec.properties.at("clipdex.model"), "ViT-B-32::openai");
    EXPECT_EQ(spec.properties.at("clipdex.note"), "ünïcode ✓");
}

TEST(Migrate, IndexOverrideAndRenamedDestination) {
    Fixture f(30);
    MigrateOptions options;
    options.to_collection = "copy_2";
    IndexSpec hnsw;
    hnsw.kind = IndexKind::Hnsw;
    hnsw.metric = Metric::Cosine;
    options.index = hnsw;
    const MigrateReport report = migrate_collection(*f.src, *f.dst, options);
    EXPECT_TRUE(report.verified);
    EXPECT_EQ(report.destination_collection, "copy_2");
    EXPECT_FALSE(f.dst->has_collection("clipdex"));
    EXPECT_EQ(f.dst->describe_collection("copy_2").spec.index.kind, IndexKind::Hnsw);
    expect_same_rows(*f.src, "clipdex", *f.dst, "copy_2");
}

TEST(Migrate, ResumesAfterInterruptionWithoutDuplicatesOrLoss) {
    Fixture f(500);
    MigrateOptions options = batches_of(50);
    options.progress = [](const MigrateProgress& p) {
        if (p.batches == 3) throw std::runtime_error("interrupted");
    };
    EXPECT_THROW(migrate_collection(*f.src, *f.dst, options), std::runtime_error);
    EXPECT_EQ(f.dst->count("clipdex"), 150);

    MigrateOptions again = batches_of(50);
    int64_t calls = 0;
    again.progress = [&](const MigrateProgress& p) {
        ++calls;
        EXPECT_EQ(p.total, 500);
    };
    const MigrateReport report = migrate_collection(*f.src, *f.dst, again);
    EXPECT_TRUE(report.verified);
    EXPECT_FALSE(report.created);
    EXPECT_EQ(report.skipped, 150);
    EXPECT_EQ(report.copied, 350);
    EXPECT_EQ(calls, 10);
    EXPECT_EQ(f.dst->count("clipdex"), 500);
    expect_same_rows(*f.src, "clipdex", *f.dst, "clipdex");

    const MigrateReport third = migrate_collection(*f.src, *f.dst, again);
    EXPECT_EQ(third.copied, 0);
    EXPECT_EQ(third.skipped, 500);
}

TEST(Migrate, RewritesRowsThatDifferKeepingSourceTimestamps) {
    Fixture f(20);
    migrate_collection(*f.src, *f.dst, {});
    Row changed = f.rows[5];
    changed.url = "/elsewhere.png";
    changed.added_at = "2020-01-01T00:00:00.000Z";
    changed.vector[1] += 1.0f;
    f.dst->upsert("clipdex", std::span<const Row>(&changed, 1));
    f.dst->remove("clipdex", std::vector<int64_t>{f.rows[7].id});

    const MigrateReport report = migrate_collection(*f.src, *f.dst, {});
    EXPECT_TRUE(report.verified);
    EXPECT_EQ(report.copied, 2);
    EXPECT_EQ(report.skipped, 18);
    expect_same_rows(*f.src, "clipdex", *f.dst, "clipdex");
}

TEST(Migrate, EmptyCollection) {
    Fixture f(0);
    int64_t calls = 0;
    MigrateOptions options;
    options.progress = [&](const MigrateProgress&) { ++calls; };
    const MigrateReport report = migrate_collection(*f.src, *f.dst, options);
    EXPECT_TRUE(report.verified);
    EXPECT_EQ(report.copied, 0);
    EXPECT_EQ(report.destination_rows, 0);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(f.dst->describe_collection("clipdex").spec.properties.at("clipdex.model"),
              "ViT-B-32::openai");
}

TEST(Migrate, DestinationWithOtherDimIsAConflict) {
    Fixture f(5);
    f.dst->create_collection(make_spec("clipdex", 16));
    try {
        migrate_collection(*f.src, *f.dst, {});
        FAIL() << "expected a conflict";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Conflict);
        EXPECT_NE(std::string(e.what()).find("dim 16"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("clipdex"), std::string::npos) << e.what();
    }
    EXPECT_EQ(f.dst->count("clipdex"), 0);
}

TEST(Migrate, DestinationWithOtherMetricIsAConflict) {
    Fixture f(5);
    f.dst->create_collection(make_spec("clipdex", 8, Metric::L2));
    try {
        migrate_collection(*f.src, *f.dst, {});
        FAIL() << "expected a conflict";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Conflict);
        EXPECT_NE(std::string(e.what()).find("L2"), std::string::npos) << e.what();
    }
}

TEST(Migrate, MissingSourceCollectionAndBadBatch) {
    Fixture f(1);
    MigrateOptions options;
    options.collection = "nope";
    try {
        migrate_collection(*f.src, *f.dst, options);
        FAIL() << "expected NotFound";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::NotFound);
    }
    try {
        migrate_collection(*f.src, *f.dst, batches_of(0));
        FAIL() << "expected InvalidInput";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    }
}

TEST(Migrate, ExistingDestinationRowsNotInSourceAreKept) {
    Fixture f(10);
    f.dst->create_collection(make_spec("clipdex", 8));
    std::vector<Row> other = make_rows(3, 8, 7);
    for (Row& row : other) row.id += 1'000'000;
    f.dst->insert("clipdex", other);
    const MigrateReport report = migrate_collection(*f.src, *f.dst, batches_of(3));
    EXPECT_TRUE(report.verified);
    EXPECT_FALSE(report.created);
    EXPECT_EQ(report.destination_rows, 13);
    EXPECT_EQ(report.missing, 0);
}
