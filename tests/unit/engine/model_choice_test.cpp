// The rules of engine/model_choice.h: which model loads, when a collection's record matches the
// loaded model, and the mismatch advice. No model is loaded: folders are empty directories.
#include "engine/model_choice.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../error_of.h"
#include "common/shell_words.h"

namespace clipdex::engine {
namespace {

namespace fs = std::filesystem;

const CollectionPlace kPlace{"photos", "/data/x.db"};
const std::string kFp = "sha256:0123456789abcdef01234567";
const std::string kOtherFp = "sha256:fedcba9876543210fedcba98";

class ModelChoiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("clipdex-model-choice-" + std::to_string(::getpid()) +
                                            "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "emoji-clip-tiny");
        fs::create_directories(dir_ / "copy of model");
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string folder(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

TEST_F(ModelChoiceTest, RecordRoundTripsThroughProperties) {
    std::map<std::string, std::string> properties{{"clipdex.dim", "128"}};
    ModelRecord{"ViT-B-32::openai", kFp}.write_to(properties);
    const ModelRecord back = ModelRecord::from_properties(properties);
    EXPECT_EQ(back.model, "ViT-B-32::openai");
    EXPECT_EQ(back.fingerprint, kFp);
    EXPECT_EQ(properties.at("clipdex.dim"), "128");
    EXPECT_TRUE(ModelRecord::from_properties({}).empty());
    EXPECT_TRUE(ModelRecord::from_properties({{"clipdex.model", "dir:x"}}).legacy_folder());
}

TEST_F(ModelChoiceTest, FoldersAreKnownByTheirAbsolutePathNamesAsWritten) {
    const fs::path cwd = fs::current_path();
    fs::current_path(dir_);
    const ModelRecord relative = identity_of("emoji-clip-tiny/", kFp);
    fs::current_path(cwd);
    EXPECT_EQ(relative.model, folder("emoji-clip-tiny"));
    EXPECT_EQ(relative.fingerprint, kFp);
    EXPECT_EQ(identity_of("ViT-B-16::openai", kFp).model, "ViT-B-16::openai");
}

TEST_F(ModelChoiceTest, RequestedElseRecordedElseDefault) {
    const std::string def = "ViT-B-32::openai";
    EXPECT_EQ(model_to_load("ViT-L-14::openai", ModelRecord{folder("emoji-clip-tiny"), kFp}, def,
                            kPlace),
              "ViT-L-14::openai");
    EXPECT_EQ(model_to_load("", ModelRecord{folder("emoji-clip-tiny"), kFp}, def, kPlace),
              folder("emoji-clip-tiny"));
    EXPECT_EQ(model_to_load("", ModelRecord{"hf-hub:org/repo", kFp}, def, kPlace),
              "hf-hub:org/repo");
    EXPECT_EQ(model_to_load("", std::nullopt, def, kPlace), def);       // no collection yet
    EXPECT_EQ(model_to_load("", ModelRecord{}, def, kPlace), def);      // made outside clipdex
    EXPECT_EQ(model_in_use("", ModelRecord{"ViT-B-16::openai", ""}, def), "ViT-B-16::openai");
    EXPECT_EQ(model_in_use("x", ModelRecord{"ViT-B-16::openai", ""}, def), "x");
    EXPECT_EQ(model_in_use("", std::nullopt, def), def);
}

TEST_F(ModelChoiceTest, ARecordThatCannotBeLoadedSaysWhatToGive) {
    const auto legacy = error_of([&] {
        model_to_load("", ModelRecord{"dir:emoji-clip-tiny", ""}, "d", kPlace);
    });
    EXPECT_EQ(legacy.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(legacy.what()).find("'photos' in /data/x.db"), std::string::npos) << std::string(legacy.what());
    EXPECT_NE(std::string(legacy.what()).find("--model /path/to/emoji-clip-tiny"), std::string::npos)
        << std::string(legacy.what());
    const auto gone = error_of([&] {
        model_to_load("", ModelRecord{folder("moved-away"), kFp}, "d", kPlace);
    });
    EXPECT_EQ(gone.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(gone.what()).find(folder("moved-away")), std::string::npos) << std::string(gone.what());
    EXPECT_NE(std::string(gone.what()).find(kFp), std::string::npos) << std::string(gone.what());
}

TEST_F(ModelChoiceTest, TheSameWeightsMatchFromAnyFolder) {
    const ModelRecord recorded{folder("emoji-clip-tiny"), kFp};
    EXPECT_EQ(compare(recorded, {folder("emoji-clip-tiny"), kFp}), Match::Same);
    // A copy elsewhere, the original still there: the same model, the record kept.
    EXPECT_EQ(compare(recorded, {folder("copy of model"), kFp}), Match::Same);
    // The original gone (moved): the record follows the folder.
    EXPECT_EQ(compare({folder("moved-away"), kFp}, {folder("copy of model"), kFp}),
              Match::SameUpgrade);
    // A registry model found by fingerprint in a folder keeps its registry name.
    EXPECT_EQ(compare({"ViT-B-32::openai", kFp}, {folder("copy of model"), kFp}), Match::Same);
    EXPECT_EQ(compare(recorded, {folder("emoji-clip-tiny"), kOtherFp}), Match::Different);
    EXPECT_EQ(compare(recorded, {"ViT-B-32::openai", kOtherFp}), Match::Different);
}

TEST_F(ModelChoiceTest, OlderRecordsMatchAsBeforeAndAreUpgraded) {
    EXPECT_EQ(compare({"dir:emoji-clip-tiny", ""}, {folder("emoji-clip-tiny"), kFp}),
              Match::SameUpgrade);
    EXPECT_EQ(compare({"dir:emoji-clip-tiny", ""}, {folder("copy of model"), kFp}),
              Match::Different);
    EXPECT_EQ(compare({"dir:emoji-clip-tiny", ""}, {"emoji-clip-tiny", kFp}), Match::Different);
    EXPECT_EQ(compare({"ViT-B-32::openai", ""}, {"vit-b-32::OpenAI", kFp}), Match::SameUpgrade);
    EXPECT_EQ(compare({"ViT-B-32::openai", ""}, {"ViT-B-16::openai", kFp}), Match::Different);
    EXPECT_EQ(compare({}, {"ViT-B-16::openai", kFp}), Match::Same);  // no record: any model
}

TEST_F(ModelChoiceTest, MismatchAdviceNamesTheCollectionsModelAsAShellWord) {
    const ModelRecord recorded{folder("copy of model"), kFp};
    const ModelRecord loaded{"ViT-B-32::openai", kOtherFp};
    const auto e = error_of([&] { throw mismatch_error(recorded, loaded, kPlace); });
    EXPECT_EQ(e.code(), ErrorCode::Conflict);
    EXPECT_NE(std::string(e.what()).find("--model '" + folder("copy of model") + "'"), std::string::npos)
        << std::string(e.what());
    EXPECT_NE(std::string(e.what()).find("leave --model out"), std::string::npos) << std::string(e.what());
    EXPECT_NE(std::string(e.what()).find(kFp), std::string::npos) << std::string(e.what());
    EXPECT_NE(std::string(e.what()).find(kOtherFp), std::string::npos) << std::string(e.what());
    EXPECT_NE(std::string(e.what()).find("--collection photos_vit_b_32__openai"), std::string::npos)
        << std::string(e.what());
    const auto registry =
        error_of([&] { throw mismatch_error({"ViT-B-16::openai", kFp}, loaded, kPlace); });
    EXPECT_NE(std::string(registry.what()).find("--model ViT-B-16::openai;"), std::string::npos)
        << std::string(registry.what());
}

TEST(ShellWord, QuotesOnlyWhatTheShellWouldSplitOrExpand) {
    EXPECT_EQ(shell_word("/models/emoji-clip-tiny"), "/models/emoji-clip-tiny");
    EXPECT_EQ(shell_word("ViT-B-32::openai"), "ViT-B-32::openai");
    EXPECT_EQ(shell_word("/my models/x"), "'/my models/x'");
    EXPECT_EQ(shell_word("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_word("$HOME"), "'$HOME'");
    EXPECT_EQ(shell_word(""), "''");
}

}  // namespace
}  // namespace clipdex::engine
