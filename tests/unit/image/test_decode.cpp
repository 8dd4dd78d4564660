// Decoders on hand-built inputs: sniffing, limits before allocation, BMP variants, EXIF
// parsing and orientation, truncation, SVG isolation. Pixel equality with Pillow on generated
// corpora is checked by tests/conformance/test_preprocess.py.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "clipdex/error.h"
#include "../error_of.h"
#include "image/decoders.h"
#include "image/image.h"

namespace ci = clipdex::image;
using clipdex::ErrorCode;

namespace {

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Runs `f` and returns the error it throws (or fails the test).

void put16(std::string& s, size_t at, uint16_t v) {
    s[at] = static_cast<char>(v & 0xFF);
    s[at + 1] = static_cast<char>(v >> 8);
}
void put32(std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// A BMP with a 40-byte (or larger) info header; pixel rows supplied already padded.
std::string bmp(int32_t w, int32_t h, uint16_t bpp, uint32_t compression,
                const std::string& extra_header, const std::string& palette,
                const std::string& pixels, uint32_t dib = 40) {
    std::string s(14 + dib, '\0');
    s[0] = 'B';
    s[1] = 'M';
    put32(s, 14, dib);
    put32(s, 18, static_cast<uint32_t>(w));
    put32(s, 22, static_cast<uint32_t>(h));
    put16(s, 26, 1);
    put16(s, 28, bpp);
    put32(s, 30, compression);
    if (dib > 40)
        s.replace(54, extra_header.size(), extra_header);
    else
        s += extra_header;
    s += palette;
    put32(s, 10, static_cast<uint32_t>(s.size()));
    s += pixels;
    put32(s, 2, static_cast<uint32_t>(s.size()));
    return s;
}

std::string png_chunk(const std::string& type, const std::string& data) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((data.size() >> (24 - 8 * i)) & 0xFF);
    out += type + data;
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(type.data()), 4);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    for (int i = 0; i < 4; ++i) out += static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
    return out;
}

std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

std::string png_header_only(uint32_t w, uint32_t h) {
    std::string ihdr = be32(w) + be32(h) + std::string("\x08\x02\x00\x00\x00", 5);
    return std::string("\x89PNG\r\n\x1A\n", 8) + png_chunk("IHDR", ihdr);
}

}  // namespace

TEST(Sniff, NotAnImageSaysWhatKindNeverTheContent) {
    // Issue #12 finding 9: the first 16 bytes (of /etc/passwd, say) were echoed in the error.
    const auto text = error_of(
        [] { ci::decode_image(as_bytes("root:x:0:0:root:/root:/bin/bash\n"), "a b/猫.jpg"); });
    EXPECT_EQ(text.code(), ErrorCode::InvalidInput);
    EXPECT_EQ(std::string(text.what()),
              "image 'a b/猫.jpg': not an image (the content is text; supported: JPEG, PNG, WebP, "
              "GIF, BMP, SVG)");
    const auto binary =
        error_of([] { ci::decode_image(as_bytes(std::string("PK\x03\x04secret", 10)), "x.zip"); });
    EXPECT_NE(std::string(binary.what()).find("not an image (the content is binary;"),
              std::string::npos)
        << binary.what();
    EXPECT_EQ(std::string(binary.what()).find("secret"), std::string::npos) << binary.what();
    const auto empty = error_of([] { ci::decode_image({}, "empty"); });
    EXPECT_EQ(empty.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(empty.what()).find("the content is empty"), std::string::npos);
}

TEST(Limits, FileSizeCheckedFirst) {
    ci::DecodeLimits limits;
    limits.max_file_bytes = 10;
    const auto e =
        error_of([&] { ci::decode_image(as_bytes(png_header_only(1, 1)), "x.png", limits); });
    EXPECT_EQ(e.code(), ErrorCode::TooLarge);
    EXPECT_NE(std::string(e.what()).find("exceeds the limit of 10 bytes"), std::string::npos);
}

TEST(Limits, HugePngHeaderRefusedWithoutAllocating) {
    const std::string bytes = png_header_only(50000, 50000) + png_chunk("IEND", "");
    const auto t0 = std::chrono::steady_clock::now();
    const auto e = error_of([&] { ci::decode_image(as_bytes(bytes), "a b/猫.png"); });
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
    EXPECT_EQ(e.code(), ErrorCode::TooLarge);
    EXPECT_STREQ(e.what(),
                 "image 'a b/猫.png': 50000x50000 pixels exceeds the limit of 100 megapixels");
}

TEST(Limits, HugeBmpAndGifHeadersRefused) {
    const std::string big_bmp = bmp(40000, 40000, 24, 0, "", "", "");
    EXPECT_EQ(error_of([&] { ci::decode_image(as_bytes(big_bmp), "b.bmp"); }).code(),
              ErrorCode::TooLarge);
    std::string gif = "GIF89a";
    gif += std::string("\xFF\xFF\xFF\xFF\x00\x00\x00", 7);  // 65535x65535 screen, no colour table
    EXPECT_EQ(error_of([&] { ci::decode_image(as_bytes(gif), "g.gif"); }).code(),
              ErrorCode::TooLarge);
}

TEST(Png, TruncatedIsCorrupt) {
    const std::string bytes = png_header_only(4, 4) + png_chunk("IDAT", "\x78\x9C");
    const auto e = error_of([&] { ci::decode_image(as_bytes(bytes), "t.png"); });
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("image 't.png': corrupt PNG"), std::string::npos)
        << e.what();
}

TEST(Jpeg, TruncatedIsCorrupt) {
    const std::string bytes(
        "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF", 21);
    const auto e = error_of([&] { ci::decode_image(as_bytes(bytes), "t.jpg"); });
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("image 't.jpg': corrupt JPEG"), std::string::npos)
        << e.what();
}

TEST(Bmp, BottomUp24Bit) {
    // 2x2: bottom row blue, red; top row green, white. Rows padded to 8 bytes.
    const std::string px = std::string("\xFF\x00\x00\x00\x00\xFF\x00\x00", 8) +
                           std::string("\x00\xFF\x00\xFF\xFF\xFF\x00\x00", 8);
    const auto img = ci::decode_image(as_bytes(bmp(2, 2, 24, 0, "", "", px)), "x.bmp");
    ASSERT_EQ(img.width, 2);
    EXPECT_EQ(img.rgb, (std::vector<uint8_t>{0, 255, 0, 255, 255, 255, 0, 0, 255, 255, 0, 0}));
}

TEST(Bmp, TopDownOneBitPalette) {
    const std::string palette("\x00\x00\x00\x00\xFF\xFF\xFF\x00", 8);
    const std::string px =
        std::string("\x40\x00\x00\x00", 4) + std::string("\x80\x00\x00\x00", 4);  // 01 / 10
    const auto img = ci::decode_image(as_bytes(bmp(2, -2, 1, 0, "", palette, px)), "x.bmp");
    EXPECT_EQ(img.rgb, (std::vector<uint8_t>{0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0}));
}

TEST(Bmp, Bitfields32WithAlphaCompositedOnWhite) {
    std::string masks(16, '\0');
    put32(masks, 0, 0x00FF0000);
    put32(masks, 4, 0x0000FF00);
    put32(masks, 8, 0x000000FF);
    put32(masks, 12, 0xFF000000);
    const std::string px("\x00\x00\xFF\x00\x00\x00\xFF\xFF", 8);  // transparent red, opaque red
    const auto img = ci::decode_image(as_bytes(bmp(2, 1, 32, 3, masks, "", px, 108)), "x.bmp");
    EXPECT_EQ(img.rgb, (std::vector<uint8_t>{255, 255, 255, 255, 0, 0}));
}

TEST(Bmp, Rgb565) {
    std::string masks(12, '\0');
    put32(masks, 0, 0xF800);
    put32(masks, 4, 0x07E0);
    put32(masks, 8, 0x001F);
    const std::string px("\x00\xF8\xE0\x07", 4);  // red, green
    const auto img = ci::decode_image(as_bytes(bmp(2, 1, 16, 3, masks, "", px)), "x.bmp");
    EXPECT_EQ(img.rgb, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0}));
}

TEST(Bmp, TruncatedAndUnsupported) {
    const std::string short_px(5, '\0');
    EXPECT_EQ(error_of([&] {
                  ci::decode_image(as_bytes(bmp(2, 2, 24, 0, "", "", short_px)), "x.bmp");
              }).code(),
              ErrorCode::Corrupt);
    EXPECT_EQ(error_of([&] {
                  ci::decode_image(as_bytes(bmp(2, 2, 8, 1, "", "", std::string(16, '\0'))),
                                   "x.bmp");
              }).code(),
              ErrorCode::Unsupported);
    EXPECT_EQ(
        error_of([&] { ci::decode_image(as_bytes(std::string("BM\x10\x00", 4)), "x.bmp"); }).code(),
        ErrorCode::Corrupt);
    std::string odd_header = bmp(2, 2, 24, 0, "", "", std::string(16, '\0'));
    put32(odd_header, 14, 13);  // no such info-header size
    EXPECT_EQ(error_of([&] { ci::decode_image(as_bytes(odd_header), "x.bmp"); }).code(),
              ErrorCode::Corrupt);
}

TEST(Exif, ReadsBothByteOrdersAndIgnoresGarbage) {
    const std::string le("Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0",
                         32);
    const std::string be("MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x08\0\0\0\0\0\0", 26);
    EXPECT_EQ(ci::detail::exif_orientation(as_bytes(le)), 6);
    EXPECT_EQ(ci::detail::exif_orientation(as_bytes(be)), 8);
    std::string bad = le;
    bad[10] = '\x7F';  // IFD offset past the end
    EXPECT_EQ(ci::detail::exif_orientation(as_bytes(bad)), 1);
    EXPECT_EQ(ci::detail::exif_orientation(as_bytes(le.substr(0, 20))), 1);
    EXPECT_EQ(ci::detail::exif_orientation(as_bytes("")), 1);
}

TEST(Exif, OrientationsMatchPillowTranspose) {
    // 3x2 stored image with pixels numbered 0..5 row-major (value in R).
    ci::Image img{3, 2, {}};
    for (uint8_t i = 0; i < 6; ++i) img.rgb.insert(img.rgb.end(), {i, 0, 0});
    auto r = [](const ci::Image& m) {
        std::vector<int> v;
        for (size_t i = 0; i < m.rgb.size(); i += 3) v.push_back(m.rgb[i]);
        return v;
    };
    // Expected displays from PIL.ImageOps.exif_transpose on the same 3x2 image.
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 1)), (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 2)), (std::vector<int>{2, 1, 0, 5, 4, 3}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 3)), (std::vector<int>{5, 4, 3, 2, 1, 0}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 4)), (std::vector<int>{3, 4, 5, 0, 1, 2}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 5)), (std::vector<int>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 6)), (std::vector<int>{3, 0, 4, 1, 5, 2}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 7)), (std::vector<int>{5, 2, 4, 1, 3, 0}));
    EXPECT_EQ(r(ci::detail::apply_orientation(img, 8)), (std::vector<int>{2, 5, 1, 4, 0, 3}));
    EXPECT_EQ(ci::detail::apply_orientation(img, 6).width, 2);
}

TEST(Svg, RasterizedOnWhiteAtMinSize) {
    const std::string svg =
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 20 10'><rect width='10' height='10' "
        "fill='#00f'/></svg>";
    const auto img = ci::decode_image(as_bytes(svg), "icon.svg");
    ASSERT_EQ(img.height, 224);
    ASSERT_EQ(img.width, 448);
    EXPECT_EQ(img.rgb[0], 0);
    EXPECT_EQ(img.rgb[2], 255);
    EXPECT_EQ(img.rgb[(447) * 3], 255) << "background is white";
}

TEST(Svg, ExternalFilesAreNotRead) {
    const auto dir = std::filesystem::temp_directory_path() / "clipdex_svg_test";
    std::filesystem::create_directories(dir);
    // A red PNG that would show up if librsvg ever followed the reference.
    const std::string red_png = [] {
        std::string raw;
        for (int y = 0; y < 2; ++y) raw += std::string("\0\xFF\0\0\xFF\0\0", 7);
        uLongf len = compressBound(raw.size());
        std::string z(len, '\0');
        compress(reinterpret_cast<Bytef*>(z.data()), &len,
                 reinterpret_cast<const Bytef*>(raw.data()), raw.size());
        z.resize(len);
        return std::string("\x89PNG\r\n\x1A\n", 8) +
               png_chunk("IHDR", be32(2) + be32(2) + std::string("\x08\x02\x00\x00\x00", 5)) +
               png_chunk("IDAT", z) + png_chunk("IEND", "");
    }();
    std::ofstream(dir / "red.png", std::ios::binary) << red_png;
    const std::string svg =
        "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><image href='file://" +
        (dir / "red.png").string() + "' width='10' height='10'/></svg>";
    ci::Image img;
    try {
        img = ci::decode_image(as_bytes(svg), "evil.svg");
    } catch (const clipdex::Error&) {
        return;  // refusing the document is safe too
    }
    for (size_t i = 0; i < img.rgb.size(); i += 3)
        ASSERT_EQ(img.rgb[i + 1], 255) << "file:// content rendered";
    std::filesystem::remove_all(dir);
}

TEST(LoadImage, MissingFileAndDirectory) {
    EXPECT_EQ(error_of([] { ci::load_image("/nonexistent/猫 1.png"); }).code(),
              ErrorCode::NotFound);
    EXPECT_EQ(error_of([] { ci::load_image(std::filesystem::temp_directory_path()); }).code(),
              ErrorCode::InvalidInput);
}

TEST(LoadImage, UnicodePathWithSpaces) {
    const auto dir = std::filesystem::temp_directory_path() / "clipdex image 测试";
    std::filesystem::create_directories(dir);
    const auto path = dir / "猫 1.bmp";
    const std::string px = std::string("\x00\x00\xFF\x00", 4);
    std::ofstream(path, std::ios::binary) << bmp(1, 1, 24, 0, "", "", px);
    const auto img = ci::load_image(path);
    EXPECT_EQ(img.rgb, (std::vector<uint8_t>{255, 0, 0}));
    ci::DecodeLimits small;
    small.max_file_bytes = 20;
    const auto e = error_of([&] { ci::load_image(path, small); });
    EXPECT_EQ(e.code(), ErrorCode::TooLarge);
    EXPECT_NE(std::string(e.what()).find("猫 1.bmp"), std::string::npos);
    std::filesystem::remove_all(dir);
}
