// Decode memory (issue #12 finding 5): a 777 KB 16-bit RGBA PNG declaring 10000x10000 cost
// ~720 MB to decode and eight at once took the server to 5.2 GB. Each decode now takes its peak
// bytes from a budget before allocating, and PNGs decode row by row into the 8-bit RGB output.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "clipdex/error.h"
#include "image/image.h"

namespace ci = clipdex::image;
using clipdex::ErrorCode;

namespace {

std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

std::string chunk(const std::string& type, const std::string& data) {
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(type.data()), 4);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    return be32(static_cast<uint32_t>(data.size())) + type + data +
           be32(static_cast<uint32_t>(crc));
}

// A w x h 16-bit RGBA PNG of transparent black (white once composited), deflated row by row so
// that making it needs no w*h*8-byte buffer: 10000x10000 is ~0.8 MB.
std::string constant_rgba16_png(uint32_t w, uint32_t h) {
    z_stream z{};
    deflateInit(&z, 9);
    const std::vector<uint8_t> row(1 + static_cast<size_t>(w) * 8, 0);  // filter 0, zeros
    std::string idat;
    std::vector<uint8_t> out(1 << 16);
    for (uint32_t y = 0; y < h; ++y) {
        z.next_in = const_cast<Bytef*>(row.data());
        z.avail_in = static_cast<uInt>(row.size());
        const int flush = y + 1 == h ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = out.data();
            z.avail_out = static_cast<uInt>(out.size());
            deflate(&z, flush);
            idat.append(reinterpret_cast<char*>(out.data()), out.size() - z.avail_out);
        } while (z.avail_out == 0 || (flush == Z_FINISH && z.avail_in > 0));
    }
    deflateEnd(&z);
    return std::string("\x89PNG\r\n\x1A\n", 8) +
           chunk("IHDR", be32(w) + be32(h) + std::string("\x10\x06\x00\x00\x00", 5)) +
           chunk("IDAT", idat) + chunk("IEND", "");
}

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The same 16-bit RGBA pixels written by libpng, Adam7-interlaced or not.
std::string libpng_rgba16(uint32_t w, uint32_t h, const std::vector<uint16_t>& px, bool interlace) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    std::string out;
    png_set_write_fn(
        png, &out,
        [](png_structp p, png_bytep data, size_t n) {
            static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<char*>(data), n);
        },
        nullptr);
    png_set_IHDR(png, info, w, h, 16, PNG_COLOR_TYPE_RGB_ALPHA,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_set_swap(png);  // our samples are native (little-endian) uint16
    std::vector<png_bytep> rows(h);
    for (uint32_t y = 0; y < h; ++y)
        rows[y] = reinterpret_cast<png_bytep>(const_cast<uint16_t*>(&px[size_t{y} * w * 4]));
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return out;
}

const std::string& huge_png() {
    static const std::string png = constant_rgba16_png(10000, 10000);
    return png;
}

}  // namespace

TEST(DecodeBudget, HugeSixteenBitPngOverThePerImageLimitIsRefusedNamingTheSizes) {
    ASSERT_LT(huge_png().size(), 1u << 20);
    ci::DecodeLimits limits;
    limits.max_decode_bytes = 256ull << 20;
    try {
        ci::decode_image(as_bytes(huge_png()), "bomb.png", limits);
        FAIL() << "decoded";
    } catch (const clipdex::Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge);
        EXPECT_EQ(std::string(e.what()),
                  "image 'bomb.png': decoding 10000x10000 (16-bit RGBA PNG, 3 bytes per pixel) "
                  "needs 286.1 MiB, over the per-image limit of 256.0 MiB");
    }
}

TEST(DecodeBudget, HugeSixteenBitPngDecodesRowByRowInThreeBytesPerPixel) {
    auto budget = std::make_shared<ci::DecodeBudget>(1ull << 30);
    ci::DecodeLimits limits;
    limits.budget = budget;
    {
        const auto img = ci::decode_image(as_bytes(huge_png()), "bomb.png", limits);
        ASSERT_EQ(img.width, 10000);
        EXPECT_EQ(img.rgb[0], 255);
        EXPECT_EQ(img.rgb.back(), 255);
        // 300 MB instead of the 8-byte RGBA + RGB copies (~720 MB) decoded before.
        EXPECT_EQ(budget->peak(), 300'000'000u);
        EXPECT_EQ(budget->in_use(), 300'000'000u) << "the output stays held while it lives";
    }
    EXPECT_EQ(budget->in_use(), 0u);
}

TEST(DecodeBudget, InterlacedAndRowByRowPngsGiveTheSamePixels) {
    const uint32_t w = 37, h = 23;
    std::vector<uint16_t> px(size_t{w} * h * 4);
    std::mt19937 rng(12);
    for (auto& v : px) v = static_cast<uint16_t>(rng());
    std::vector<std::vector<uint8_t>> decoded;
    for (const bool interlace : {false, true}) {
        auto budget = std::make_shared<ci::DecodeBudget>(1 << 20);
        ci::DecodeLimits limits;
        limits.budget = budget;
        const auto img =
            ci::decode_image(as_bytes(libpng_rgba16(w, h, px, interlace)), "p.png", limits);
        EXPECT_EQ(budget->peak(), size_t{w} * h * (interlace ? 7 : 3));
        decoded.push_back(img.rgb);
    }
    EXPECT_TRUE(decoded[0] == decoded[1]);
    // Spot check: the high byte over white, as Pillow's RGBA -> RGB over white gives.
    const size_t i = 5 * w + 7;
    const uint8_t a = px[i * 4 + 3] >> 8, r = px[i * 4] >> 8;
    EXPECT_EQ(decoded[0][i * 3], (r * a + 255 * (255 - a) + 127) / 255);
}

TEST(DecodeBudget, ConcurrentDecodesWaitAndNeverExceedTheBudget) {
    const std::string png = constant_rgba16_png(2000, 2000);  // 12 MB held per decode
    auto budget = std::make_shared<ci::DecodeBudget>(30'000'000);
    ci::DecodeLimits limits;
    limits.budget = budget;
    std::atomic<int> decoded{0}, refused{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&] {
            try {
                const auto img = ci::decode_image(as_bytes(png), "big.png", limits);
                std::this_thread::sleep_for(std::chrono::milliseconds(50));  // held meanwhile
                ++decoded;
            } catch (const clipdex::Error&) {
                ++refused;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(decoded, 8);
    EXPECT_EQ(refused, 0);
    EXPECT_LE(budget->peak(), 30'000'000u);
    EXPECT_EQ(budget->peak(), 24'000'000u) << "two at a time fit, and ran at once";
    EXPECT_EQ(budget->in_use(), 0u);
}

TEST(DecodeBudget, AFullBudgetRefusesAfterTheWaitAndAnImageThatCanNeverFitAtOnce) {
    const std::string png = constant_rgba16_png(2000, 2000);
    auto budget = std::make_shared<ci::DecodeBudget>(20'000'000);
    ci::DecodeLimits limits;
    limits.budget = budget;
    limits.budget_wait_ms = 100;
    const auto held = ci::decode_image(as_bytes(png), "first.png", limits);
    const auto start = std::chrono::steady_clock::now();
    try {
        ci::decode_image(as_bytes(png), "second.png", limits);
        FAIL() << "decoded";
    } catch (const clipdex::Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unavailable);
        EXPECT_NE(std::string(e.what()).find("stayed in use by other images for 100 ms"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
    limits.budget = std::make_shared<ci::DecodeBudget>(10'000'000);
    try {
        ci::decode_image(as_bytes(png), "third.png", limits);
        FAIL() << "decoded";
    } catch (const clipdex::Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge);
        EXPECT_NE(std::string(e.what()).find("more than the whole decode memory budget of 9.5 MiB"),
                  std::string::npos)
            << e.what();
    }
}
