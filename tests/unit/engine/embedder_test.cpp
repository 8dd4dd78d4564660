// The Embedder (encoding without a store) and Engine::load_image: both answer through the
// engine's model resolution, image limits and URL rule, so `clipdex embed`, the searches and the
// contact sheet of `search --grid` cannot drift apart.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "../hub/loopback_server.h"
#include "engine_fixture.h"
#include "../error_of.h"
#include "clipdex/embedder.h"
#include "clipdex/engine.h"
#include "clipdex/model.h"

namespace fs = std::filesystem;

namespace clipdex {
namespace {

using engine_test::kModel;
using engine_test::kTwemoji;
using engine_test::read_bytes;


bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::unique_ptr<Embedder> open_embedder() {
    EmbedderOptions options;
    options.model = kModel.string();
    options.threads = 2;
    return Embedder::open(options);
}

class EmbedderTest : public engine_test::TempFolderTest {
  protected:
    EmbedderTest() : TempFolderTest("embedder") {}

    std::unique_ptr<Engine> open_engine(EngineOptions options = {}) {
        options.db_uri = (dir_ / "engine.db").string();
        options.model = kModel.string();
        options.threads = 2;
        return Engine::open(options);
    }

};

TEST_F(EmbedderTest, TextsGiveTheModelsOwnVectorsBitForBit) {
    auto embedder = open_embedder();
    LoadOptions load;
    load.threads = 2;
    const auto model = ClipModel::load(kModel, load);
    const std::string texts[] = {"a dog", "红色的心 a red heart", ""};
    EXPECT_TRUE(same_bits(embedder->encode_texts(texts), model->encode_texts(texts)));
    EXPECT_EQ(embedder->dim(), model->info().embed_dim);
    EXPECT_EQ(embedder->image_size(), model->info().image_size);
    // What a collection records: the folder, absolute.
    EXPECT_EQ(embedder->model_name(), fs::absolute(kModel).lexically_normal().string());
}

TEST_F(EmbedderTest, AnImageGivesTheVectorTheEngineStores) {
    // SVGs rasterise at the model's input size in both, and decode under the same limits.
    auto engine = open_engine();
    const fs::path files[] = {kTwemoji / "2764.svg"};
    engine->index_images(files);
    const auto rows = engine->get_all_data(true);
    ASSERT_EQ(rows.size(), 1u);
    auto embedder = open_embedder();
    EXPECT_TRUE(same_bits(embedder->encode_image_file(files[0]), rows[0].vector));
    std::ifstream in(files[0], std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    EXPECT_TRUE(same_bits(embedder->encode_image_bytes(bytes, "heart"), rows[0].vector));
}

TEST_F(EmbedderTest, LimitsAndShapesAreChecked) {
    EmbedderOptions options;
    options.model = kModel.string();
    options.max_text_bytes = 8;
    options.max_image_pixels = 1000;  // the heart rasterises at 64 x 64
    auto embedder = Embedder::open(options);
    const std::string long_text[] = {"nine byte"};
    EXPECT_EQ(error_of([&] { embedder->encode_texts(long_text); }).code(), ErrorCode::TooLarge);
    const Error image = error_of([&] { embedder->encode_image_file(kTwemoji / "2764.svg"); });
    EXPECT_EQ(image.code(), ErrorCode::TooLarge);
    EXPECT_NE(std::string(image.what()).find("2764.svg"), std::string::npos) << image.what();
    const std::vector<float> pixels(3 * 64 * 64 - 1, 0.0f);
    EXPECT_EQ(error_of([&] { embedder->encode_pixels(pixels, 1); }).code(),
              ErrorCode::InvalidInput);
}

TEST_F(EmbedderTest, LoadImageDecodesUnderTheEnginesLimits) {
    EngineOptions options;
    options.max_image_pixels = 1000;
    auto engine = open_engine(options);
    const fs::path heart = kTwemoji / "2764.svg";
    const Error shown = error_of([&] { engine->load_image(heart.string()); });
    const Error searched = error_of([&] { engine->search_by_image_file(heart, 1); });
    EXPECT_EQ(shown.code(), ErrorCode::TooLarge);
    EXPECT_STREQ(shown.what(), searched.what());
    engine.reset();  // one writer per store file

    auto roomy = open_engine();
    const RgbImage picture = roomy->load_image(heart.string());
    EXPECT_EQ(picture.width, 64);  // rasterised at the model's input size, as when indexed
    EXPECT_EQ(picture.height, 64);
    EXPECT_EQ(picture.rgb.size(), 64u * 64u * 3u);
}

TEST_F(EmbedderTest, LoadImageKeepsThePrivateAddressRule) {
    hub::test::LoopbackServer files;
    files.route("/heart.svg", [](const hub::test::Request&) {
        std::ifstream in(kTwemoji / "2764.svg", std::ios::binary);
        return hub::test::http_response(200, std::string(std::istreambuf_iterator<char>(in), {}),
                                        "image/svg+xml");
    });
    files.start();
    const std::string url = files.url("/heart.svg");

    auto closed = open_engine();  // allow_private_urls is off by default
    const Error shown = error_of([&] { closed->load_image(url); });
    const Error searched = error_of([&] { closed->search_by_image_url(url, 1); });
    EXPECT_EQ(shown.code(), searched.code());
    EXPECT_STREQ(shown.what(), searched.what());
    EXPECT_NE(std::string(shown.what()).find("127.0.0.1"), std::string::npos) << shown.what();
    closed.reset();

    EngineOptions allowed;
    allowed.allow_private_urls = true;
    const RgbImage picture = open_engine(allowed)->load_image(url);
    EXPECT_EQ(picture.width, 64);
    files.stop();
}

}  // namespace
}  // namespace clipdex
