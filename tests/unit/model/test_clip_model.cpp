// ClipModel on emoji-clip-tiny and on configs that must be refused with a clear message.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "clipdex/error.h"
#include "clipdex/model.h"
#include "model/clip_config.h"

namespace fs = std::filesystem;
using clipdex::ClipModel;
using clipdex::Error;
using clipdex::ErrorCode;

namespace {

const fs::path kEmoji = fs::path(CLIPDEX_SHARED_DIR) / "models/emoji-clip-tiny";

std::vector<int32_t> ids_for(std::initializer_list<int32_t> tokens, int context) {
    std::vector<int32_t> row(static_cast<size_t>(context), 0);
    size_t i = 0;
    row[i++] = 49406;
    for (int32_t t : tokens) row[i++] = t;
    row[i] = 49407;
    return row;
}

class TempDir {
  public:
    TempDir() : path_(fs::temp_directory_path() / ("clipdex-cfg-" + std::to_string(::getpid()))) {
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

}  // namespace

TEST(ClipModel, LoadsEmojiTinyArchitectureFromConfigAndShapes) {
    auto model = ClipModel::load(kEmoji, {.threads = 2});
    const auto& info = model->info();
    EXPECT_EQ(info.embed_dim, 128);
    EXPECT_EQ(info.image_size, 64);
    EXPECT_EQ(info.patch_size, 8);
    EXPECT_EQ(info.vision.heads, 2);
    EXPECT_EQ(info.text.layers, 4);
    EXPECT_EQ(info.context_length, 77);
    EXPECT_EQ(info.activation, "quick_gelu");
    EXPECT_EQ(info.format, "open_clip");
    EXPECT_GT(info.weight_bytes, 0u);
}

TEST(ClipModel, OutputsAreNormalizedAndPaddingDoesNotMatter) {
    auto model = ClipModel::load(kEmoji, {.threads = 2});
    auto a = ids_for({1929, 1710}, 77);
    auto b = a;
    for (size_t i = 4; i < b.size(); ++i) b[i] = 7;  // content after end-of-text never reaches it
    std::vector<int32_t> both(a);
    both.insert(both.end(), b.begin(), b.end());
    auto emb = model->encode_token_ids(both, 2);
    ASSERT_EQ(emb.size(), 256u);
    double norm = 0;
    for (int i = 0; i < 128; ++i) norm += emb[static_cast<size_t>(i)] * emb[static_cast<size_t>(i)];
    EXPECT_NEAR(norm, 1.0, 1e-5);
    for (int i = 0; i < 128; ++i)
        EXPECT_NEAR(emb[static_cast<size_t>(i)], emb[static_cast<size_t>(128 + i)], 1e-5);
    // A row shorter than the context gives the same answer.
    std::vector<int32_t> short_row(a.begin(), a.begin() + 10);
    auto short_emb = model->encode_token_ids(short_row, 1);
    for (int i = 0; i < 128; ++i)
        EXPECT_NEAR(emb[static_cast<size_t>(i)], short_emb[static_cast<size_t>(i)], 1e-5);
}

TEST(ClipModel, ConcurrentCallsAgreeWithSerialOnes) {
    auto model = ClipModel::load(kEmoji, {.threads = 2});
    std::vector<float> pixels(3 * 64 * 64 * 2);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::sin(static_cast<float>(i) * 0.01f);
    const auto want_img = model->encode_images(pixels, 2);
    const auto ids = ids_for({320, 1929}, 77);
    const auto want_txt = model->encode_token_ids(ids, 1);
    std::vector<std::jthread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int k = 0; k < 3; ++k) {
                if (model->encode_images(pixels, 2) != want_img) ++mismatches;
                if (model->encode_token_ids(ids, 1) != want_txt) ++mismatches;
            }
        });
    threads.clear();
    EXPECT_EQ(mismatches.load(), 0);
}

TEST(ClipModel, RejectsBadInputsWithoutCrashing) {
    auto model = ClipModel::load(kEmoji, {.threads = 1});
    std::vector<int32_t> bad = ids_for({60000}, 77);
    EXPECT_THROW(model->encode_token_ids(bad, 1), Error);
    std::vector<int32_t> too_long(78, 1);
    EXPECT_THROW(model->encode_token_ids(too_long, 1), Error);
    std::vector<float> pixels(100);
    try {
        model->encode_images(pixels, 1);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    }
    EXPECT_TRUE(model->encode_token_ids({}, 0).empty());
}

TEST(ClipConfig, ReadsHfDefaultsAndRefusesUnsupportedFeatures) {
    TempDir dir;
    std::ofstream(dir.path() / "config.json")
        << R"({"model_type":"clip","projection_dim":768,"vision_config":{"hidden_size":1024,"num_hidden_layers":24,"num_attention_heads":16,"intermediate_size":4096,"patch_size":14}})";
    std::ofstream(dir.path() / "model.safetensors") << "";
    auto cfg = clipdex::model::read_clip_config(dir.path());
    EXPECT_EQ(cfg.embed_dim, 768);
    EXPECT_EQ(cfg.vision.heads, 16);
    EXPECT_EQ(cfg.text.width, 512);  // transformers' default, absent from the file
    EXPECT_EQ(cfg.vision.act, clipdex::model::Activation::QuickGelu);

    std::ofstream(dir.path() / "config.json") << R"({"text_config":{"hidden_act":"relu"}})";
    try {
        clipdex::model::read_clip_config(dir.path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unsupported);
        EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos);
    }
    fs::remove(dir.path() / "config.json");
    std::ofstream(dir.path() / "open_clip_config.json")
        << R"({"model_cfg":{"embed_dim":512,"vision_cfg":{"timm_model_name":"vit"}}})";
    try {
        clipdex::model::read_clip_config(dir.path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    }
    std::ofstream(dir.path() / "open_clip_config.json")
        << R"({"model_cfg":{"embed_dim":512,"vision_cfg":{"width":100}}})";
    EXPECT_THROW(clipdex::model::read_clip_config(dir.path()),
                 Error);  // 100 is not a multiple of head_width 64
    EXPECT_THROW(clipdex::model::read_clip_config(dir.path() / "absent"), Error);
}
