// The row ids of files (src/engine/file_ids.h): 53-bit home ids, the next id on a collision,
// ids reserved within a run, rows under the old 63-bit ids found and moved, rows under ids of
// no rule found by their url.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../error_of.h"
#include "clipdex/store.h"
#include "engine/file_ids.h"

namespace fs = std::filesystem;

namespace clipdex {
namespace {

using engine::FileIds;
using engine::FileSlot;
using engine::home_file_id;
using engine::kMaxFileId;
using engine::legacy_file_id;
using engine::next_file_id;

int64_t home_42(const std::string&) {
    return 42;
}
int64_t home_last(const std::string&) {
    return kMaxFileId;
}

class FileIdsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("clipdex-file-ids-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        store_ = store::open_store((dir_ / "ids.db").string());
        store::CollectionSpec spec;
        spec.name = "c";
        spec.dim = 4;
        spec.index.kind = store::IndexKind::Flat;
        store_->create_collection(spec);
    }
    void TearDown() override {
        store_.reset();
        fs::remove_all(dir_);
    }

    void put(int64_t id, const std::string& url, const std::string& description = "",
             const std::string& added_at = "") {
        store::Row row;
        row.id = id;
        row.url = url;
        row.description = description;
        row.added_at = added_at;
        row.vector = {1, static_cast<float>(id % 7), 0.5f, -2};
        row.extra = {{"source", "file"}, {"file_size", 99}};
        store_->upsert("c", {&row, 1});
    }

    std::vector<FileSlot> resolve(FileIds& ids, std::vector<std::string> paths) {
        return ids.resolve(paths);
    }

    std::vector<int64_t> stored_ids() {
        std::vector<int64_t> out;
        for (const auto& row : store_->query("c", {})) out.push_back(row.id);
        return out;
    }

    fs::path dir_;
    std::unique_ptr<store::Store> store_;
};

TEST(FileIdRule, HomeIdsFitIn53BitsAndOldIdsAreThe63BitHash) {
    // Values computed outside clipdex: FNV-1a 64 of the path; home = (h ^ h >> 53) & (2^53 - 1),
    // old = h & (2^63 - 1).
    EXPECT_EQ(home_file_id("/photos/cat.png"), 6625274556467394);
    EXPECT_EQ(legacy_file_id("/photos/cat.png"), 2051259505382672417);
    EXPECT_EQ(home_file_id("/a"), 6305732280244499);
    EXPECT_EQ(legacy_file_id("/a"), 564752086074186029);
    for (int i = 0; i < 10000; ++i) {
        const std::string path = "/pictures/" + std::to_string(i) + " 猫.jpg";
        const int64_t id = home_file_id(path);
        EXPECT_GE(id, 1);
        EXPECT_LE(id, kMaxFileId);
        EXPECT_EQ(id, home_file_id(path));
    }
    EXPECT_EQ(kMaxFileId, 9007199254740991);  // Number.MAX_SAFE_INTEGER
}

TEST(FileIdRule, NextIdWrapsToOne) {
    EXPECT_EQ(next_file_id(5), 6);
    EXPECT_EQ(next_file_id(kMaxFileId), 1);
}

TEST_F(FileIdsTest, NewFilesGetTheirHomeIds) {
    FileIds ids(*store_, "c", {"url"});
    const auto slots = resolve(ids, {"/a.png", "/b.png"});
    ASSERT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots[0].id, home_file_id("/a.png"));
    EXPECT_EQ(slots[1].id, home_file_id("/b.png"));
    EXPECT_FALSE(slots[0].row);
    EXPECT_FALSE(slots[1].row);
}

TEST_F(FileIdsTest, FindsAFileRowUnderItsHomeId) {
    put(home_file_id("/a.png"), "/a.png", "a cat");
    FileIds ids(*store_, "c", {"url", "description"});
    const auto slots = resolve(ids, {"/a.png"});
    EXPECT_EQ(slots[0].id, home_file_id("/a.png"));
    ASSERT_TRUE(slots[0].row);
    EXPECT_EQ(slots[0].row->id, slots[0].id);
    EXPECT_EQ(slots[0].row->description, "a cat");
}

TEST_F(FileIdsTest, AnotherRowOnTheHomeIdSendsTheFileToTheNextId) {
    const int64_t home = home_file_id("/a.png");
    put(home, "https://example.com/other.png");
    {
        FileIds ids(*store_, "c", {"url"});
        const auto slots = resolve(ids, {"/a.png"});
        EXPECT_EQ(slots[0].id, home + 1);
        EXPECT_FALSE(slots[0].row);
    }
    put(home + 1, "/a.png");
    FileIds ids(*store_, "c", {"url"});
    const auto slots = resolve(ids, {"/a.png"});
    EXPECT_EQ(slots[0].id, home + 1);
    ASSERT_TRUE(slots[0].row);
    EXPECT_EQ(slots[0].row->url, "/a.png");
}

TEST_F(FileIdsTest, NewFilesOfOneRunNeverShareAnId) {
    FileIds ids(*store_, "c", {"url"}, home_42);
    const auto first = resolve(ids, {"/a.png", "/b.png"});
    EXPECT_EQ(first[0].id, 42);
    EXPECT_EQ(first[1].id, 43);
    // Later calls of the same run know the ids given out, and give a path the same id again.
    const auto second = resolve(ids, {"/c.png", "/a.png", "/b.png"});
    EXPECT_EQ(second[0].id, 44);
    EXPECT_EQ(second[1].id, 42);
    EXPECT_EQ(second[2].id, 43);
}

TEST_F(FileIdsTest, ProbingWrapsAfterTheLast53BitId) {
    put(kMaxFileId, "/taken.png");
    FileIds ids(*store_, "c", {"url"}, home_last);
    EXPECT_EQ(resolve(ids, {"/a.png"})[0].id, 1);
}

TEST_F(FileIdsTest, AFullChainIsAConflictNamingTheFile) {
    for (int64_t id = 42; id < 42 + engine::kMaxFileIdProbes; ++id)
        put(id, "/other-" + std::to_string(id) + ".png");
    FileIds ids(*store_, "c", {"url"}, home_42);
    const Error error = error_of([&] { resolve(ids, {"/a.png"}); });
    EXPECT_EQ(error.code(), ErrorCode::Conflict);
    EXPECT_NE(std::string(error.what()).find("'/a.png'"), std::string::npos) << error.what();
    // A file whose row is in the full chain is still found.
    FileIds again(*store_, "c", {"url"}, home_42);
    EXPECT_EQ(resolve(again, {"/other-50.png"})[0].id, 50);
}

TEST_F(FileIdsTest, ARowUnderItsOldIdIsFoundAndMovesWhole) {
    const std::string path = "/photos/cat.png";
    const int64_t old_id = legacy_file_id(path);
    ASSERT_GT(old_id, kMaxFileId);
    put(old_id, path, "my cat", "2025-01-02T03:04:05.678Z");
    const store::Row before = store_->get("c", std::vector<int64_t>{old_id}, {"*"}).at(0);

    FileIds ids(*store_, "c", {"url", "description"});
    const auto slots = resolve(ids, {path});
    EXPECT_EQ(slots[0].id, home_file_id(path));
    ASSERT_TRUE(slots[0].row);
    EXPECT_EQ(slots[0].row->id, old_id);
    EXPECT_EQ(slots[0].row->description, "my cat");

    const std::pair<int64_t, int64_t> move{old_id, slots[0].id};
    ids.move_rows({&move, 1});
    EXPECT_EQ(stored_ids(), std::vector<int64_t>{home_file_id(path)});
    const store::Row after = store_->get("c", std::vector<int64_t>{slots[0].id}, {"*"}).at(0);
    EXPECT_EQ(after.url, path);
    EXPECT_EQ(after.description, "my cat");
    EXPECT_EQ(after.added_at, "2025-01-02T03:04:05.678Z");
    EXPECT_EQ(after.vector, before.vector);
    EXPECT_EQ(after.extra, before.extra);
    // Next time it is found under its new id.
    FileIds next(*store_, "c", {"url"});
    const auto found = resolve(next, {path});
    ASSERT_TRUE(found[0].row);
    EXPECT_EQ(found[0].row->id, home_file_id(path));
}

TEST_F(FileIdsTest, AnOldRowWhoseNewIdIsTakenMovesToTheNextFreeId) {
    const std::string path = "/photos/cat.png";
    put(legacy_file_id(path), path);
    put(home_file_id(path), "/photos/dog.png");
    FileIds ids(*store_, "c", {"url"});
    const auto slots = resolve(ids, {path});
    EXPECT_EQ(slots[0].id, home_file_id(path) + 1);
    ASSERT_TRUE(slots[0].row);
    EXPECT_EQ(slots[0].row->id, legacy_file_id(path));
}

TEST_F(FileIdsTest, ARowUnderAUsersIdIsFoundByUrlAndKeepsItsId) {
    put(7, "/a.png", "added with --id 7");
    put(home_file_id("/b.png"), "/b.png");
    FileIds ids(*store_, "c", {"url", "description"});
    const auto slots = resolve(ids, {"/a.png", "/b.png", "/c.png"});
    EXPECT_EQ(slots[0].id, 7);
    ASSERT_TRUE(slots[0].row);
    EXPECT_EQ(slots[0].row->description, "added with --id 7");
    EXPECT_EQ(slots[1].id, home_file_id("/b.png"));
    EXPECT_TRUE(slots[1].row);
    EXPECT_EQ(slots[2].id, home_file_id("/c.png"));
    EXPECT_FALSE(slots[2].row);
}

TEST_F(FileIdsTest, AChainBrokenByARemovedRowIsMendedByUrl) {
    // /b.png went to 43 because /a.png held 42; /a.png's row was removed since.
    put(43, "/b.png");
    FileIds ids(*store_, "c", {"url"}, home_42);
    const auto slots = resolve(ids, {"/b.png", "/c.png"});
    EXPECT_EQ(slots[0].id, 43);
    EXPECT_TRUE(slots[0].row);
    EXPECT_EQ(slots[1].id, 42);
    EXPECT_FALSE(slots[1].row);
}

}  // namespace
}  // namespace clipdex
