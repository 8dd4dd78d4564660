// Resize, crop and normalisation against values produced by Pillow 13 / torchvision
// (Image.resize(BICUBIC), CenterCrop, ToTensor+Normalize); the full corpus comparison is in
// tests/conformance/test_preprocess.py.
#include <gtest/gtest.h>

#include "clipdex/error.h"
#include "image/image.h"

namespace ci = clipdex::image;

namespace {

ci::Image make(int w, int h, std::vector<uint8_t> rgb) {
    return ci::Image{w, h, std::move(rgb)};
}

ci::Image pattern(int w, int h) {
    ci::Image img{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = static_cast<uint8_t>(i * 37 % 256);
    return img;
}

const std::vector<uint8_t> kRow5 = {0, 10, 250, 100, 20, 240, 200, 30, 230, 255, 40, 0, 7, 50, 9};

}  // namespace

TEST(Resize, ShrinkMatchesPillow) {
    const auto out = ci::resize_bicubic(make(5, 1, kRow5), 2, 1);
    EXPECT_EQ(out.rgb, (std::vector<uint8_t>{97, 19, 241, 159, 41, 57}));
}

TEST(Resize, EnlargeMatchesPillowIncludingClipping) {
    const auto out = ci::resize_bicubic(make(5, 1, kRow5), 9, 1);
    EXPECT_EQ(out.rgb,
              (std::vector<uint8_t>{0,   9,   251, 24, 12,  248, 88, 19, 241, 147, 24, 248, 200, 30,
                                    230, 254, 36,  98, 238, 41,  0,  77, 48,  0,   0,  51,  10}));
}

TEST(Resize, VerticalOnlyMatchesPillow) {
    const auto out = ci::resize_bicubic(make(1, 5, kRow5), 1, 3);
    EXPECT_EQ(out.rgb, (std::vector<uint8_t>{37, 14, 253, 204, 30, 183, 115, 46, 0}));
}

TEST(Resize, TwoPassMatchesPillow) {
    const auto out = ci::resize_bicubic(pattern(7, 5), 3, 4);
    EXPECT_EQ(out.rgb,
              (std::vector<uint8_t>{91,  73,  119, 149, 115, 81,  111, 157, 139, 102, 84,  130,
                                    160, 126, 92,  122, 168, 150, 116, 95,  142, 174, 140, 103,
                                    133, 182, 165, 80,  114, 153, 125, 91,  121, 152, 146, 93}));
}

TEST(Resize, ConstantImageStaysConstant) {
    for (auto [w, h, ow, oh] :
         {std::array{1, 1, 224, 224}, {4000, 3, 7, 224}, {13, 999, 224, 301}}) {
        ci::Image img{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 77)};
        const auto out = ci::resize_bicubic(img, ow, oh);
        ASSERT_EQ(out.rgb.size(), static_cast<size_t>(ow) * oh * 3);
        for (uint8_t v : out.rgb) ASSERT_EQ(v, 77);
    }
}

TEST(Resize, ShortestSideLikeTorchvision) {
    // int(224 * 4000 / 3000) = 298, int(224 * 300 / 225) = 298, int(224 * 1000 / 17) = 13176
    EXPECT_EQ(ci::resize_shortest_bicubic(pattern(400, 300), 224).width, 298);
    const auto tall = ci::resize_shortest_bicubic(pattern(225, 300), 224);
    EXPECT_EQ(tall.width, 224);
    EXPECT_EQ(tall.height, 298);
    const auto same = ci::resize_shortest_bicubic(pattern(224, 500), 224);
    EXPECT_EQ(same.height, 500);
    EXPECT_EQ(same.rgb, pattern(224, 500).rgb) << "no resampling when the size already matches";
}

TEST(Resize, RejectsBadInput) {
    EXPECT_THROW(ci::resize_bicubic(ci::Image{}, 2, 2), clipdex::Error);
    EXPECT_THROW(ci::resize_bicubic(pattern(2, 2), 0, 2), clipdex::Error);
    EXPECT_THROW(ci::resize_shortest_bicubic(make(2, 2, {1, 2, 3}), 4), clipdex::Error);
}

TEST(CenterCrop, TopRoundsHalfToEven) {
    // round((H - 224) / 2): H=225 -> round(0.5)=0, H=227 -> round(1.5)=2, H=229 -> round(2.5)=2.
    for (auto [h, top] : {std::pair{225, 0}, {227, 2}, {229, 2}, {226, 1}, {231, 4}}) {
        ci::Image img{224, h, std::vector<uint8_t>(static_cast<size_t>(224) * h * 3)};
        for (int y = 0; y < h; ++y)
            img.rgb[static_cast<size_t>(y) * 224 * 3] = static_cast<uint8_t>(y);
        const auto out = ci::center_crop(img, 224);
        EXPECT_EQ(out.rgb[0], top) << "H=" << h;
    }
}

TEST(CenterCrop, PadsSmallImagesWithBlackLikeTorchvision) {
    const auto out = ci::center_crop(make(1, 1, {9, 9, 9}), 4);
    ASSERT_EQ(out.width, 4);
    // left = (4-1)//2 = 1, top = 1
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) EXPECT_EQ(out.rgb[(y * 4 + x) * 3], (x == 1 && y == 1) ? 9 : 0);
}

TEST(Normalize, ChannelMajorOpenAiConstants) {
    const auto img = make(2, 1, {0, 128, 255, 255, 0, 128});
    std::vector<float> out(6);
    ci::to_chw_normalized(img, {}, out.data());
    EXPECT_FLOAT_EQ(out[0], (0.0f - 0.48145466f) / 0.26862954f);
    EXPECT_FLOAT_EQ(out[1], (1.0f - 0.48145466f) / 0.26862954f);
    EXPECT_FLOAT_EQ(out[2], (128.0f / 255.0f - 0.4578275f) / 0.26130258f);
    EXPECT_FLOAT_EQ(out[5], (128.0f / 255.0f - 0.40821073f) / 0.27577711f);
}

TEST(Preprocess, ShapeAndDeterminism) {
    const auto a = ci::preprocess(pattern(640, 480), 224);
    EXPECT_EQ(a.size(), 3u * 224 * 224);
    EXPECT_EQ(a, ci::preprocess(pattern(640, 480), 224));
}

TEST(Preprocess, FusedCropEqualsResizeThenCrop) {
    for (auto [w, h] : {std::pair{640, 480},
                        {480, 640},
                        {1, 1},
                        {2, 3},
                        {1, 300},
                        {300, 1},
                        {225, 300},
                        {224, 500}}) {
        const auto img = pattern(w, h);
        EXPECT_EQ(ci::resize_and_center_crop(img, 224).rgb,
                  ci::center_crop(ci::resize_shortest_bicubic(img, 224), 224).rgb)
            << w << "x" << h;
    }
}

TEST(Preprocess, ExtremeAspectStaysBounded) {
    ci::Image strip{1, 200000, std::vector<uint8_t>(200000 * 3, 50)};
    EXPECT_THROW(ci::resize_shortest_bicubic(strip, 224), clipdex::Error);  // 224 x 44.8M
    const auto chw = ci::preprocess(strip, 224);
    EXPECT_EQ(chw.size(), 3u * 224 * 224);
}
