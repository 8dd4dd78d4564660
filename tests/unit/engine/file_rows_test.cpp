// One row per file through the engine: add_image_file finds the file's row by its path (adding
// a file twice, or adding then indexing it, makes no second row), a given id moves the row, a
// description given once stays when the content changes, and rows of collections indexed with
// the old 63-bit ids move to their 53-bit ids when indexed again, without encoding.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "../error_of.h"
#include "clipdex/engine.h"
#include "engine/engine_state.h"
#include "engine/file_ids.h"
#include "engine_fixture.h"

namespace fs = std::filesystem;

namespace clipdex {
namespace {

using engine::home_file_id;
using engine::kMaxFileId;
using engine::legacy_file_id;
using engine_test::kModel;
using engine_test::kTwemoji;

class FileRowsTest : public engine_test::TempFolderTest {
  protected:
    FileRowsTest() : TempFolderTest("file-rows") {}
    void SetUp() override {
        TempFolderTest::SetUp();
        if (HasFatalFailure()) return;
        fs::create_directories(dir_ / "images");
        options_.db_uri = (dir_ / "rows.db").string();
        options_.model = kModel.string();
        options_.threads = 2;
        store_ = store::open_store(options_.db_uri);
        engine_ = engine::State::open(options_, make_local_encoder(options_.model, 2), store_);
    }
    void TearDown() override {
        engine_.reset();
        store_.reset();
        TempFolderTest::TearDown();
    }

    fs::path copy(const std::string& drawing, const std::string& as = "") {
        const fs::path to = dir_ / "images" / (as.empty() ? drawing : as);
        fs::copy_file(kTwemoji / drawing, to, fs::copy_options::overwrite_existing);
        return to;
    }

    std::map<int64_t, store::Row> rows() {
        std::map<int64_t, store::Row> out;
        for (auto& row : engine_->get_all_data(true)) out[row.id] = row;
        return out;
    }

    EngineOptions options_;
    std::shared_ptr<store::Store> store_;
    std::unique_ptr<Engine> engine_;
};

TEST_F(FileRowsTest, AddingAFileTwiceOrThenIndexingItMakesOneRow) {
    const fs::path heart = copy("2764.svg");
    const int64_t id = engine_->add_image_file(heart);
    EXPECT_EQ(id, home_file_id(heart.string()));
    EXPECT_EQ(engine_->add_image_file(heart), id);
    const IndexReport report = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(report.counts.unchanged, 1u);
    EXPECT_EQ(report.counts.added + report.counts.updated, 0u);
    const auto all = rows();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all.begin()->first, id);
    EXPECT_EQ(all.begin()->second.url, heart.string());
    EXPECT_EQ(all.begin()->second.extra.at("source"), "file");
}

TEST_F(FileRowsTest, AGivenIdMovesTheFilesRowAndIndexingKeepsIt) {
    const fs::path heart = copy("2764.svg");
    copy("1f436.svg");
    engine_->index_directory(dir_ / "images");
    const store::Row before = rows().at(home_file_id(heart.string()));
    EXPECT_EQ(engine_->add_image_file(heart, 5), 5);
    auto all = rows();
    ASSERT_EQ(all.size(), 2u);
    ASSERT_TRUE(all.count(5));
    EXPECT_FALSE(all.count(home_file_id(heart.string())));
    EXPECT_EQ(all.at(5).url, heart.string());
    EXPECT_EQ(all.at(5).vector, before.vector);
    EXPECT_EQ(all.at(5).added_at, before.added_at);
    // The user's id stays: indexing finds the row by its path.
    const IndexReport report = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(report.counts.unchanged, 2u);
    all = rows();
    EXPECT_EQ(all.size(), 2u);
    EXPECT_TRUE(all.count(5));
}

TEST_F(FileRowsTest, ADescriptionGivenOnceStaysWhenTheContentChanges) {
    const fs::path file = copy("2764.svg", "mine.svg");
    const int64_t id = engine_->add_image_file(file, std::nullopt, "my heart");
    const std::vector<float> heart = rows().at(id).vector;
    copy("1f436.svg", "mine.svg");  // another drawing under the same name
    const IndexReport report = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(report.counts.updated, 1u);
    auto row = rows().at(id);
    EXPECT_EQ(row.description, "my heart");
    EXPECT_NE(row.vector, heart);
    copy("2764.svg", "mine.svg");
    EXPECT_EQ(engine_->add_image_file(file), id);
    row = rows().at(id);
    EXPECT_EQ(row.description, "my heart");
    EXPECT_EQ(row.vector, heart);
    EXPECT_EQ(engine_->add_image_file(file, std::nullopt, "still mine"), id);
    EXPECT_EQ(rows().at(id).description, "still mine");
    EXPECT_EQ(rows().size(), 1u);
}

TEST_F(FileRowsTest, RowsUnderOldIdsMoveToTheirNewIdsWhenIndexed) {
    const std::vector<fs::path> files = {copy("2764.svg"), copy("1f436.svg"), copy("1f697.svg")};
    engine_->index_directory(dir_ / "images", {{"1f436.svg", "a dog"}});
    // Make it a collection of before December 2026: every row under its path's 63-bit id.
    std::vector<store::Row> old = store_->query(options_.collection, {"", {"*"}, -1, 0});
    std::vector<int64_t> new_ids;
    for (store::Row& row : old) {
        new_ids.push_back(row.id);
        row.id = legacy_file_id(row.url);
    }
    store_->remove(options_.collection, new_ids);
    store_->upsert(options_.collection, old);
    for (const auto& [id, row] : rows()) EXPECT_GT(id, kMaxFileId);
    // One file touched as well: found under its old id, moved, then its mtime refreshed.
    fs::last_write_time(files[2], fs::last_write_time(files[2]) + std::chrono::seconds(5));

    const IndexReport report = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(report.counts.added + report.counts.updated + report.counts.failed, 0u);
    EXPECT_EQ(report.counts.unchanged, 3u);  // moved; the touched one's mtime refreshed
    const auto all = rows();
    ASSERT_EQ(all.size(), 3u);
    for (const store::Row& was : old) {
        const int64_t id = home_file_id(was.url);
        ASSERT_TRUE(all.count(id)) << was.url;
        EXPECT_EQ(all.at(id).vector, was.vector);
        EXPECT_EQ(all.at(id).added_at, was.added_at);
        EXPECT_EQ(all.at(id).description, was.description);
    }
    EXPECT_EQ(all.at(home_file_id(files[1].string())).description, "a dog");
    const IndexReport again = engine_->index_directory(dir_ / "images");
    EXPECT_EQ(again.counts.unchanged, 3u);
}

TEST_F(FileRowsTest, MissingFilesAndFoldersAreRefusedByName) {
    std::string message;
    EXPECT_EQ(code_of([&] { engine_->add_image_file(dir_ / "none.png"); }, &message),
              ErrorCode::NotFound);
    EXPECT_NE(message.find("none.png"), std::string::npos) << message;
    EXPECT_EQ(code_of([&] { engine_->add_image_file(dir_ / "images"); }, &message),
              ErrorCode::InvalidInput);
    const fs::path broken = dir_ / "images" / "broken.png";
    std::ofstream(broken) << "not a png";
    EXPECT_EQ(code_of([&] { engine_->add_image_file(broken); }, &message),
              ErrorCode::InvalidInput);  // not an image at all
    EXPECT_NE(message.find("broken.png"), std::string::npos) << message;
    EXPECT_TRUE(rows().empty());
}

}  // namespace
}  // namespace clipdex
