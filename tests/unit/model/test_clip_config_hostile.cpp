// Hostile model configs (found with tests/fuzz/fuzz_clip_config.cpp; its corpus holds the same
// inputs): each ends in Error(Corrupt), never in undefined behaviour, a stack overflow or a
// config with infinite normalisation.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "clipdex/error.h"
#include "model/clip_config.h"

namespace {

using clipdex::Error;
using clipdex::ErrorCode;
using clipdex::model::Format;
using clipdex::model::parse_clip_config;

void expect_corrupt(Format format, const std::string& config, const std::string& fragment,
                    const std::string& preprocessor = {}) {
    try {
        parse_clip_config(format, config, preprocessor, "m");
        ADD_FAILURE() << "accepted: " << config.substr(0, 200);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

TEST(ClipConfigHostile, MlpRatioCannotOverflowTheWidth) {
    // width * 1e30 was cast to int: undefined behaviour (UBSan: float-cast-overflow).
    expect_corrupt(Format::OpenClip,
                   R"({"embed_dim":64,"vision_cfg":{"width":64,"mlp_ratio":1e30}})", "mlp_ratio");
    expect_corrupt(Format::OpenClip, R"({"embed_dim":64,"text_cfg":{"mlp_ratio":-2}})",
                   "mlp_ratio");
    const auto cfg = parse_clip_config(
        Format::OpenClip, R"({"embed_dim":64,"vision_cfg":{"width":64,"mlp_ratio":2.5}})");
    EXPECT_EQ(cfg.vision.mlp_width, 160);
}

TEST(ClipConfigHostile, DeeplyNestedValueDoesNotRecurseIntoTheMessage) {
    // The error message dumped the value: 200,000 nested arrays overflowed the stack.
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    expect_corrupt(Format::OpenClip, R"({"embed_dim":)" + deep + "}", "an array");
    // An [h, w] pair is compared only when it holds numbers: == recursed into both halves.
    expect_corrupt(Format::OpenClip, R"({"embed_dim":[)" + deep + "," + deep + "]}", "an array");
}

TEST(ClipConfigHostile, NormalisationAndEpsilonMustStayFinite) {
    expect_corrupt(Format::OpenClip, R"({"embed_dim":8,"preprocess_cfg":{"mean":1e300}})",
                   "finite");
    expect_corrupt(Format::HuggingFace, "{}", "finite", R"({"image_std":[1,1e39,1]})");
    expect_corrupt(Format::HuggingFace, R"({"vision_config":{"layer_norm_eps":1e300}})",
                   "out of range");
    const auto cfg = parse_clip_config(Format::HuggingFace, "{}", R"({"image_mean":0.5})");
    EXPECT_EQ(cfg.mean[2], 0.5f);
    EXPECT_TRUE(cfg.weights.empty());
}

TEST(ClipConfigHostile, EndlessConfigFileIsRefusedWhileReading) {
    // config.json as a link to /dev/zero: stat says 0 bytes, and the old read (a size check,
    // then read everything) never ended. Refused at 16 MB + 1 byte, naming the file.
    const auto dir = std::filesystem::temp_directory_path() /
                     ("clipdex-endless-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::filesystem::create_symlink("/dev/zero", dir / "open_clip_config.json");
    try {
        clipdex::model::read_clip_config(dir);
        ADD_FAILURE() << "accepted /dev/zero as a config";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge) << e.what();
        EXPECT_NE(std::string(e.what()).find("open_clip_config.json"), std::string::npos)
            << e.what();
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
