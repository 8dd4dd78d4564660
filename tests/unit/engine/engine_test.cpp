// The engine with the emoji model of ../shared and Twemoji drawings from npm: one engine shared
// by threads that index, add, search and read at the same time; rows and answers stay coherent.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "../error_of.h"
#include "../hub/loopback_server.h"
#include "engine_fixture.h"
#include "clipdex/engine.h"
#include "clipdex/error.h"

namespace fs = std::filesystem;

namespace clipdex {
namespace {

using engine_test::kModel;
using engine_test::kTwemoji;
using engine_test::read_bytes;


class EngineTest : public engine_test::TempFolderTest {
  protected:
    EngineTest() : TempFolderTest("engine") {}

    std::unique_ptr<Engine> open_engine(const fs::path& model = kModel) {
        EngineOptions options;
        options.db_uri = (dir_ / "engine.db").string();
        options.model = model.string();
        options.threads = 2;
        options.allow_private_urls = true;  // the test's HTTP server is on loopback
        return Engine::open(options);
    }

    // The first `count` Twemoji drawings in name order, plus the red heart.
    std::vector<fs::path> drawings(size_t count) const {
        std::vector<fs::path> all;
        for (const auto& entry : fs::directory_iterator(kTwemoji)) all.push_back(entry.path());
        std::sort(all.begin(), all.end());
        all.resize(std::min(count, all.size()));
        all.push_back(kTwemoji / "2764.svg");
        return all;
    }

};

TEST_F(EngineTest, SearchesAndAddsRunWhileIndexing) {
    auto engine = open_engine();
    const std::vector<fs::path> files = drawings(240);
    std::atomic<bool> indexing{true};
    std::atomic<int> searches{0}, failures{0};

    std::thread indexer([&] {
        IndexOptions options;
        options.batch_size = 16;
        const IndexReport report = engine->index_images(files, {}, options);
        EXPECT_EQ(report.counts.added, files.size());
        EXPECT_TRUE(report.failures.empty());
        indexing = false;
    });
    auto searcher = [&](const std::string& text) {
        while (indexing) {
            try {
                const auto hits = engine->search(text, 5);
                EXPECT_LE(hits.size(), 5u);
                for (size_t i = 1; i < hits.size(); ++i)
                    EXPECT_GE(hits[i - 1].score, hits[i].score);
                const auto stats = engine->get_database_stats();
                EXPECT_LE(stats.total_records, static_cast<int64_t>(files.size()) + 8);
                ++searches;
            } catch (const std::exception& e) {
                ADD_FAILURE() << "search during indexing failed: " << e.what();
                ++failures;
                return;
            }
        }
    };
    std::thread english(searcher, "red heart");
    std::thread chinese(searcher, "红色的心");
    std::thread adder([&] {
        const auto bytes = read_bytes(kTwemoji / "1f436.svg");
        for (int64_t id = 1; id <= 8; ++id)
            engine->add_image(id, bytes, "dog-" + std::to_string(id) + ".svg");
    });
    indexer.join();
    adder.join();
    english.join();
    chinese.join();

    EXPECT_EQ(failures.load(), 0);
    EXPECT_GT(searches.load(), 0);
    EXPECT_EQ(engine->get_database_stats().total_records, static_cast<int64_t>(files.size()) + 8);
    const auto hits = engine->search("red heart", 5);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(fs::path(hits.front().url).filename(), "2764.svg");
}

TEST_F(EngineTest, ManyUrlsAreFetchedTogetherAndFailuresStayPerImage) {
    // The drawings over loopback HTTP (tests/unit/hub's server, compiled into this test too).
    hub::test::LoopbackServer files;
    files.route("/", [](const hub::test::Request& request) {
        std::ifstream in(kTwemoji / fs::path(request.path).filename(), std::ios::binary);
        if (!in) return hub::test::http_response(404, "no such file");
        const std::string content((std::istreambuf_iterator<char>(in)), {});
        return hub::test::http_response(200, content, "image/svg+xml");
    });
    files.route("/text.svg", [](const hub::test::Request&) {
        return hub::test::http_response(200, "not an image at all", "image/svg+xml");
    });
    files.start();
    const int port = files.port();
    const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/";

    std::vector<UrlImage> images;
    const std::vector<fs::path> drawings_list = drawings(40);
    for (size_t i = 0; i < drawings_list.size(); ++i)
        images.push_back(
            {static_cast<int64_t>(i + 1), base + drawings_list[i].filename().string(), ""});
    images.insert(images.begin() + 3, UrlImage{1001, base + "no-such-file.svg", ""});
    images.insert(images.begin() + 7, UrlImage{1002, base + "text.svg", ""});

    auto engine = open_engine();
    const std::vector<UrlAddResult> results = engine->add_images_by_url(images);
    files.stop();

    ASSERT_EQ(results.size(), images.size());
    EXPECT_FALSE(results[3].ok);
    EXPECT_EQ(results[3].code, "not_found");
    EXPECT_NE(results[3].error.find("no-such-file.svg"), std::string::npos) << results[3].error;
    EXPECT_FALSE(results[7].ok);
    EXPECT_FALSE(results[7].code.empty());
    size_t ok = 0;
    for (const auto& result : results) ok += result.ok ? 1 : 0;
    EXPECT_EQ(ok, drawings_list.size());
    EXPECT_EQ(engine->get_database_stats().total_records,
              static_cast<int64_t>(drawings_list.size()));
    const auto hits = engine->search("red heart", 1);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits.front().url, base + "2764.svg");
    EXPECT_EQ(hits.front().extra.value("source", ""), "url");
}

TEST_F(EngineTest, ImageSearchFindsTheSameDrawingFirst) {
    auto engine = open_engine();
    engine->index_images(drawings(60));
    const auto hits = engine->search_by_image_file(kTwemoji / "2764.svg", 3);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(fs::path(hits.front().url).filename(), "2764.svg");
    EXPECT_NEAR(hits.front().score, 1.0f, 1e-4f);
}

TEST_F(EngineTest, VectorSearchMatchesTextSearchAndRefusesWrongVectors) {
    auto engine = open_engine();
    engine->index_images(drawings(20));
    EmbedderOptions options;
    options.model = kModel.string();
    const std::string text = "red heart";
    const std::vector<float> query = Embedder::open(options)->encode_texts({&text, 1});
    const auto by_vector = engine->search_by_vector(query, 3);
    const auto by_text = engine->search(text, 3);
    ASSERT_EQ(by_vector.size(), by_text.size());
    for (size_t i = 0; i < by_text.size(); ++i) {
        EXPECT_EQ(by_vector[i].id, by_text[i].id);
        EXPECT_EQ(by_vector[i].score, by_text[i].score);
    }
    std::string message;
    const std::vector<float> short_vector(7, 0.5f);
    EXPECT_EQ(code_of([&] { engine->search_by_vector(short_vector, 3); }, &message),
              ErrorCode::InvalidInput);
    EXPECT_NE(message.find("has 7 floats"), std::string::npos) << message;
    const std::vector<float> zero(query.size(), 0.0f);
    EXPECT_EQ(code_of([&] { engine->search_by_vector(zero, 3); }), ErrorCode::InvalidInput);
}

TEST_F(EngineTest, RemovedRowsLeaveSearchResultsAtOnce) {
    auto engine = open_engine();
    engine->index_images(drawings(30));
    const auto before = engine->search("red heart", 1);
    ASSERT_EQ(before.size(), 1u);
    EXPECT_TRUE(engine->remove_by_id(before.front().id));
    EXPECT_FALSE(engine->remove_by_id(before.front().id));
    for (const auto& hit : engine->search("red heart", 31)) EXPECT_NE(hit.id, before.front().id);
}

// A read-only engine (the CLI's read commands beside a running server) reads what a writer in
// the same or another process committed, and never creates the database or the collection.
TEST_F(EngineTest, ReadOnlyEnginesReadBesideAWriterAndCreateNothing) {
    EngineOptions options;
    options.db_uri = (dir_ / "engine.db").string();
    options.model = kModel.string();
    options.threads = 2;
    options.store.read_only = true;
    EXPECT_EQ(code_of([&] { Engine::open(options); }), ErrorCode::NotFound);
    EXPECT_FALSE(fs::exists(options.db_uri));
    auto writer = open_engine();
    writer->index_images(drawings(10));
    auto reader = Engine::open(options);
    const auto hits = reader->search("red heart", 1);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(fs::path(hits.front().url).filename(), "2764.svg");
    EXPECT_TRUE(writer->remove_by_id(hits.front().id));
    EXPECT_EQ(reader->get_database_stats().total_records, 10);
    options.collection = "elsewhere";
    std::string message;
    EXPECT_EQ(code_of([&] { Engine::open(options); }, &message), ErrorCode::NotFound);
    EXPECT_NE(message.find("collection 'elsewhere' does not exist"), std::string::npos) << message;
    EXPECT_EQ(code_of([&] { Engine::open(options); }), ErrorCode::NotFound);
}

TEST_F(EngineTest, OversizedQueryTextsAreRefusedBeforeTokenizing) {
    // A 20 MB query used to hold a worker for 19 s and came back echoed in the answer.
    auto engine = open_engine();
    const std::string huge(20u << 20, 'a');
    const auto start = std::chrono::steady_clock::now();
    try {
        engine->search(huge, 5);
        FAIL() << "a 20 MiB query text must be refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge);
        EXPECT_NE(std::string(e.what()).find("query text of 20971520 bytes exceeds the limit of "
                                             "65536 bytes"),
                  std::string::npos)
            << e.what();
    }
    const std::string batch[] = {"a cat", huge};
    EXPECT_THROW(engine->search_batch(batch, 5), Error);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    EXPECT_NO_THROW(engine->search(std::string(64 << 10, 'a'), 1));  // at the limit: answered
}

TEST_F(EngineTest, OversizedDescriptionsAreRefusedBeforeFetchingOrDecoding) {
    // Stored, a 60 MB description came back in every /data page that listed its row.
    auto engine = open_engine();
    const auto bytes = read_bytes(kTwemoji / "2764.svg");
    try {
        engine->add_image(7, bytes, "heart.svg", std::string(65536, 'd'));
        FAIL() << "a description over 65535 bytes must be refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge);
        EXPECT_STREQ(e.what(), "description of image 7 is 65536 bytes, over the limit of 65535");
    }
    try {  // refused before the fetch: port 9 would answer "connection refused" (Unavailable)
        engine->add_image_by_url(8, "http://127.0.0.1:9/x.svg", std::string(70000, 'd'));
        FAIL() << "refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge) << e.what();
    }
    engine->add_image(9, bytes, "heart.svg", std::string(65535, 'd'));
    EXPECT_EQ(engine->get_all_data(false, 10, 0).size(), 1u);
}

TEST_F(EngineTest, BadFilesAreReportedWithTheirPathAndSkipped) {
    auto engine = open_engine();
    const fs::path fake = dir_ / "not an image 图.jpg";
    std::ofstream(fake) << "plain text";
    const std::vector<fs::path> files = {fake, kTwemoji / "2764.svg"};
    const IndexReport report = engine->index_images(files);
    EXPECT_EQ(report.counts.added, 1u);
    EXPECT_EQ(report.counts.failed, 1u);
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_EQ(fs::path(report.failures.front().path).filename(), fake.filename());
    EXPECT_FALSE(report.failures.front().reason.empty());
}

TEST_F(EngineTest, AnotherModelIsRefusedOnTheSameCollection) {
    open_engine()->close();
    const fs::path renamed = dir_ / "other-model";
    fs::copy(kModel, renamed, fs::copy_options::recursive);
    try {
        open_engine(renamed);
        FAIL() << "opening the collection with another model must be refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("emoji-clip-tiny"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace clipdex
