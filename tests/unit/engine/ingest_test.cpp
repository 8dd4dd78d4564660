// The ingest pipeline (src/engine/ingest.h) and the partial updates it makes: a touched file or
// a description given later changes the row's fields without writing its vector again; bytes
// are read once, so a row's hash and vector always come from the same content; rows from
// files, URLs and uploads keep the dynamic fields they always had.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "../hub/loopback_server.h"
#include "engine_fixture.h"
#include "clipdex/engine.h"
#include "common/hash.h"
#include "engine/engine_state.h"
#include "engine/file_ids.h"
#include "engine/file_record.h"
#include "engine/file_scan.h"
#include "engine/ingest.h"

namespace fs = std::filesystem;

namespace clipdex {
namespace {

using engine_test::kModel;
using engine_test::kTwemoji;
using engine_test::read_bytes;


// A store that counts what reaches it: rows written with vectors, partial updates, queries.
class CountingStore final : public store::Store {
  public:
    explicit CountingStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
    std::atomic<int64_t> rows_written{0}, rows_patched{0}, queries{0};
    std::atomic<bool> fail_upserts{false};

    std::string uri() const override { return inner_->uri(); }
    std::string backend_name() const override { return inner_->backend_name(); }
    std::vector<std::string> list_collections() override { return inner_->list_collections(); }
    bool has_collection(const std::string& n) override { return inner_->has_collection(n); }
    void create_collection(const store::CollectionSpec& s) override {
        inner_->create_collection(s);
    }
    void drop_collection(const std::string& n) override { inner_->drop_collection(n); }
    store::CollectionInfo describe_collection(const std::string& n) override {
        return inner_->describe_collection(n);
    }
    void set_properties(const std::string& n,
                        const std::map<std::string, std::string>& p) override {
        inner_->set_properties(n, p);
    }
    store::CollectionStats stats(const std::string& n) override { return inner_->stats(n); }
    void insert(const std::string& c, std::span<const store::Row> rows) override {
        rows_written += static_cast<int64_t>(rows.size());
        inner_->insert(c, rows);
    }
    void upsert(const std::string& c, std::span<const store::Row> rows) override {
        if (fail_upserts) throw Error(ErrorCode::Io, "upsert into `" + c + "`: disk full");
        rows_written += static_cast<int64_t>(rows.size());
        inner_->upsert(c, rows);
    }
    int64_t update(const std::string& c, std::span<const store::RowPatch> patches) override {
        rows_patched += static_cast<int64_t>(patches.size());
        return inner_->update(c, patches);
    }
    int64_t remove(const std::string& c, std::span<const int64_t> ids) override {
        return inner_->remove(c, ids);
    }
    int64_t remove_where(const std::string& c, const std::string& f) override {
        return inner_->remove_where(c, f);
    }
    std::vector<store::Row> get(const std::string& c, std::span<const int64_t> ids,
                                const store::FieldList& fields) override {
        return inner_->get(c, ids, fields);
    }
    std::vector<store::Row> query(const std::string& c, const store::QueryRequest& r) override {
        ++queries;
        return inner_->query(c, r);
    }
    int64_t count(const std::string& c, const std::string& f) override {
        return inner_->count(c, f);
    }
    std::vector<std::vector<store::Hit>> search(const std::string& c, std::span<const float> q,
                                                const store::SearchRequest& r) override {
        return inner_->search(c, q, r);
    }
    void flush(const std::string& c) override { inner_->flush(c); }

  private:
    std::unique_ptr<store::Store> inner_;
};

class IngestTest : public engine_test::TempFolderTest {
  protected:
    IngestTest() : TempFolderTest("ingest") {}
    void SetUp() override {
        TempFolderTest::SetUp();
        if (HasFatalFailure()) return;
        fs::create_directories(dir_ / "images");
        options_.db_uri = (dir_ / "ingest.db").string();
        options_.model = kModel.string();
        options_.threads = 2;
        options_.allow_private_urls = true;  // the test's HTTP server is on loopback
        encoder_ = make_local_encoder(options_.model, options_.threads);
        store_ = std::make_shared<CountingStore>(store::open_store(options_.db_uri));
        engine_ = engine::State::open(options_, encoder_, store_);
    }
    void TearDown() override {
        engine_.reset();
        TempFolderTest::TearDown();
    }

    // Copies the first `count` drawings into the test's folder.
    std::vector<fs::path> copy_drawings(size_t count) {
        std::vector<fs::path> all;
        for (const auto& entry : fs::directory_iterator(kTwemoji)) all.push_back(entry.path());
        std::sort(all.begin(), all.end());
        std::vector<fs::path> out;
        for (size_t i = 0; i < count && i < all.size(); ++i) {
            out.push_back(dir_ / "images" / all[i].filename());
            fs::copy_file(all[i], out.back());
        }
        return out;
    }

    std::map<int64_t, store::Row> rows() {
        std::map<int64_t, store::Row> out;
        for (auto& row : engine_->get_all_data(true)) out[row.id] = row;
        return out;
    }

    EngineOptions options_;
    std::shared_ptr<Encoder> encoder_;
    std::shared_ptr<CountingStore> store_;
    std::unique_ptr<Engine> engine_;
};

TEST_F(IngestTest, TouchedFilesAreUpdatedWithoutWritingTheirVectors) {
    const auto files = copy_drawings(6);
    IndexReport first = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(first.counts.added, 6u);
    EXPECT_EQ(store_->rows_written, 6);
    const auto before = rows();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a later updated_at
    for (const auto& file : files)
        fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(10));

    store_->rows_written = 0;
    const IndexReport touched = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(touched.counts.unchanged, 6u);
    EXPECT_EQ(touched.counts.added + touched.counts.updated + touched.counts.failed, 0u);
    EXPECT_EQ(store_->rows_written, 0) << "a touched file's vector was written again";
    EXPECT_EQ(store_->rows_patched, 6);
    const auto after = rows();
    ASSERT_EQ(after.size(), 6u);
    for (const auto& [id, row] : after) {
        const store::Row& old = before.at(id);
        EXPECT_EQ(row.vector, old.vector);
        EXPECT_EQ(row.added_at, old.added_at);
        EXPECT_NE(row.updated_at, old.updated_at);
        EXPECT_EQ(row.extra.at("sha256"), old.extra.at("sha256"));
        EXPECT_EQ(row.extra.at("mtime_ns").get<int64_t>(),
                  old.extra.at("mtime_ns").get<int64_t>() + 10'000'000'000);
    }
    // The new mtime is what the next run compares with: nothing to do then.
    store_->rows_patched = 0;
    const IndexReport again = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(again.counts.unchanged, 6u);
    EXPECT_EQ(store_->rows_written + store_->rows_patched, 0);
}

// Files found under their ids (file_ids.h) cost one read by id per batch: the scan of the
// collection's urls that finds rows under ids of no rule is never made for them.
TEST_F(IngestTest, FilesFoundByIdNeedNoScan) {
    copy_drawings(40);
    engine_->index_directory(dir_ / "images");
    store_->queries = 0;
    const IndexReport again = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(again.counts.unchanged, 40u);
    EXPECT_EQ(store_->queries, 0);
}

TEST_F(IngestTest, DescriptionGivenLaterIsAPartialUpdate) {
    const auto files = copy_drawings(3);
    engine_->index_directory(dir_ / "images");
    store_->rows_written = 0;
    const Descriptions descriptions{{files[1].filename().string(), "a described drawing"}};
    const IndexReport report = engine_->index_directory(dir_ / "images", descriptions);
    EXPECT_EQ(report.counts.updated, 1u);
    EXPECT_EQ(report.counts.unchanged, 2u);
    EXPECT_EQ(store_->rows_written, 0);
    EXPECT_EQ(store_->rows_patched, 1);
    const auto rows =
        store_->query(options_.collection, {"description like \"%described%\"", {"*"}, -1, 0});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].url, files[1].string());
    EXPECT_EQ(rows[0].vector.size(), static_cast<size_t>(encoder_->dim()));
}

// A source whose content changes between two reads (a file being rewritten): the row's hash
// and its vector must describe the same content, which only one read can promise.
TEST_F(IngestTest, BytesAreReadOnceSoHashAndVectorAgree) {
    const auto first = read_bytes(kTwemoji / "2764.svg");    // red heart
    const auto second = read_bytes(kTwemoji / "1f40d.svg");  // snake
    ASSERT_FALSE(first.empty());
    ASSERT_FALSE(second.empty());
    engine::State state;
    state.options = options_;
    state.encoder = encoder_;
    state.store = store_;
    state.limits.svg_min_size = encoder_->image_size();
    std::atomic<int> reads{0};
    engine::IngestOptions ingest;
    ingest.threads = 2;
    std::vector<engine::IngestOutcome> outcomes;
    {
        engine::IngestPipeline pipeline(state, ingest, [&](const engine::IngestOutcome& outcome) {
            outcomes.push_back(outcome);
        });
        engine::IngestItem item;
        item.id = 7;
        item.name = "changing.svg";
        item.read = [&] { return reads++ == 0 ? first : second; };
        pipeline.submit(std::move(item));
        pipeline.finish();
    }
    EXPECT_EQ(reads, 1);
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0].status, engine::IngestOutcome::Status::Written);
    engine_->add_image(8, first, "heart.svg");
    engine_->add_image(9, second, "snake.svg");
    const auto all = rows();
    const store::Row& row = all.at(7);
    EXPECT_EQ(row.extra.at("sha256"), sha256_hex(first));
    EXPECT_EQ(row.extra.at("byte_size"), first.size());
    auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
        double sum = 0;
        for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
        return sum;
    };
    EXPECT_GT(dot(row.vector, all.at(8).vector), 0.9999);
    EXPECT_LT(dot(row.vector, all.at(9).vector), 0.99);
}

// A list of URLs goes on past a failed store write: the batch's items fail once each, and the
// items of the same batch that needed only a partial update still succeed.
TEST_F(IngestTest, FailedBatchWriteFailsOnlyItsItems) {
    const auto heart = read_bytes(kTwemoji / "2764.svg");
    engine_->add_image(1, heart, "heart.svg");
    engine::State state;
    state.options = options_;
    state.encoder = encoder_;
    state.store = store_;
    state.limits.svg_min_size = encoder_->image_size();
    engine::IngestOptions ingest;
    ingest.threads = 2;
    ingest.batch_size = 4;
    ingest.batch_errors_are_failures = true;
    std::map<int64_t, std::vector<engine::IngestOutcome::Status>> seen;
    store_->fail_upserts = true;
    {
        engine::IngestPipeline pipeline(state, ingest, [&](const engine::IngestOutcome& outcome) {
            seen[outcome.id].push_back(outcome.status);
        });
        for (int64_t id = 1; id <= 4; ++id) {
            engine::IngestItem item;
            item.id = id;
            item.name = "heart-" + std::to_string(id) + ".svg";
            item.read = [&] { return heart; };
            if (id == 1) item.known_sha256 = sha256_hex(heart);  // row 1 holds these bytes
            pipeline.submit(std::move(item));
        }
        pipeline.finish();
    }
    store_->fail_upserts = false;
    using Status = engine::IngestOutcome::Status;
    EXPECT_EQ(seen[1], std::vector<Status>{Status::SameContent});
    for (int64_t id = 2; id <= 4; ++id) EXPECT_EQ(seen[id], std::vector<Status>{Status::Failed});
    EXPECT_EQ(store_->count(options_.collection, ""), 1);
}

TEST_F(IngestTest, RowsFromFilesUrlsAndBytesKeepTheirFields) {
    const auto files = copy_drawings(1);
    engine_->index_directory(dir_ / "images");
    const auto bytes = read_bytes(kTwemoji / "2764.svg");
    engine_->add_image(11, bytes, "upload.svg", "uploaded");
    hub::test::LoopbackServer server;
    server.route("/heart.svg", [&](const hub::test::Request&) {
        return hub::test::http_response(200, std::string(bytes.begin(), bytes.end()),
                                        "image/svg+xml");
    });
    server.start();
    engine_->add_image_by_url(12, server.url("/heart.svg"), "fetched");
    server.stop();

    auto keys = [](const nlohmann::json& extra) {
        std::vector<std::string> out;
        for (const auto& [key, value] : extra.items()) out.push_back(key);
        return out;
    };
    const auto all = rows();
    ASSERT_EQ(all.size(), 3u);
    const store::Row& file_row = all.at(engine::home_file_id(files[0].string()));
    EXPECT_EQ(keys(file_row.extra), (std::vector<std::string>{"file_size", "height", "mtime_ns",
                                                              "sha256", "source", "width"}));
    EXPECT_EQ(file_row.extra.at("source"), "file");
    EXPECT_EQ(file_row.extra.at("file_size"), fs::file_size(files[0]));
    EXPECT_EQ(file_row.extra.at("sha256"), sha256_hex(read_bytes(files[0])));
    const std::vector<std::string> byte_keys{"byte_size", "height", "sha256", "source", "width"};
    for (int64_t id : {11, 12}) {
        const store::Row& row = all.at(id);
        EXPECT_EQ(keys(row.extra), byte_keys);
        EXPECT_EQ(row.extra.at("source"), id == 11 ? "bytes" : "url");
        EXPECT_EQ(row.extra.at("byte_size"), bytes.size());
        EXPECT_EQ(row.extra.at("sha256"), sha256_hex(bytes));
        EXPECT_EQ(row.extra.at("width").get<int>(), file_row.extra.at("width").get<int>());
        EXPECT_GT(row.extra.at("width").get<int>(), 0);
    }
    EXPECT_EQ(all.at(11).description, "uploaded");
    EXPECT_EQ(all.at(12).url, server.url("/heart.svg"));
}

TEST(FileRecord, RoundTripsAndReadsOldRows) {
    engine::FileRecord file;
    file.source = engine::SourceKind::File;
    file.size = 123;
    file.mtime_ns = 1'700'000'000'123'456'789;
    file.sha256 = "ab";
    file.width = 72;
    file.height = 36;
    const engine::FileRecord back = engine::FileRecord::from_json(file.to_json());
    EXPECT_EQ(back.size, 123u);
    EXPECT_EQ(back.mtime_ns, file.mtime_ns);
    EXPECT_EQ(back.sha256, "ab");
    EXPECT_EQ(back.width, 72);
    EXPECT_EQ(back.height, 36);
    const auto url = engine::FileRecord::from_json(
        nlohmann::json{{"source", "url"}, {"byte_size", 9}, {"sha256", "cd"}});
    EXPECT_EQ(url.source, engine::SourceKind::Url);
    EXPECT_EQ(url.size, 9u);
    EXPECT_EQ(url.to_json().count("file_size"), 0u);
    // Mistyped or missing fields read as zero: such a row just looks changed.
    const auto odd = engine::FileRecord::from_json(nlohmann::json{{"file_size", "big"}});
    EXPECT_EQ(odd.size, 0u);
    EXPECT_EQ(odd.source, engine::SourceKind::File);
    EXPECT_EQ(engine::FileRecord::from_json(nlohmann::json::array()).sha256, "");
}

}  // namespace
}  // namespace clipdex
