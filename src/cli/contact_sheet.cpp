#include "cli/contact_sheet.h"

#include <png.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>

#include "clipdex/error.h"

namespace clipdex::cli {

namespace {

constexpr int kGlyphW = 5, kGlyphH = 7, kScale = 2, kLabelHeight = 24, kGap = 8;

// 5x7 bitmaps, one byte per row, high 5 bits used: enough for "#12  0.314".
const std::array<uint8_t, 7>* glyph(char c) {
    static const std::array<uint8_t, 7> kDigits[10] = {
        {0x70, 0x88, 0x98, 0xA8, 0xC8, 0x88, 0x70}, {0x20, 0x60, 0x20, 0x20, 0x20, 0x20, 0x70},
        {0x70, 0x88, 0x08, 0x10, 0x20, 0x40, 0xF8}, {0xF8, 0x10, 0x20, 0x10, 0x08, 0x88, 0x70},
        {0x10, 0x30, 0x50, 0x90, 0xF8, 0x10, 0x10}, {0xF8, 0x80, 0xF0, 0x08, 0x08, 0x88, 0x70},
        {0x30, 0x40, 0x80, 0xF0, 0x88, 0x88, 0x70}, {0xF8, 0x08, 0x10, 0x20, 0x40, 0x40, 0x40},
        {0x70, 0x88, 0x88, 0x70, 0x88, 0x88, 0x70}, {0x70, 0x88, 0x88, 0x78, 0x08, 0x10, 0x60}};
    static const std::array<uint8_t, 7> kDot = {0, 0, 0, 0, 0, 0x60, 0x60};
    static const std::array<uint8_t, 7> kHash = {0x50, 0x50, 0xF8, 0x50, 0xF8, 0x50, 0x50};
    static const std::array<uint8_t, 7> kMinus = {0, 0, 0, 0xF8, 0, 0, 0};
    if (c >= '0' && c <= '9') return &kDigits[c - '0'];
    if (c == '.') return &kDot;
    if (c == '#') return &kHash;
    if (c == '-') return &kMinus;
    return nullptr;
}

void set_pixel(RgbImage& img, int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
}

void draw_text(RgbImage& img, int x, int y, const std::string& text) {
    for (char c : text) {
        if (const auto* rows = glyph(c))
            for (int gy = 0; gy < kGlyphH; ++gy)
                for (int gx = 0; gx < kGlyphW; ++gx)
                    if ((*rows)[gy] & (0x80 >> gx))
                        for (int s = 0; s < kScale * kScale; ++s)
                            set_pixel(img, x + gx * kScale + s % kScale,
                                      y + gy * kScale + s / kScale, 30, 30, 30);
        x += (kGlyphW + 1) * kScale;
    }
}

// Nearest-neighbour is enough for a preview and keeps this independent of the model's resize.
void paste_thumbnail(RgbImage& sheet, const RgbImage& picture, int x0, int y0, int cell) {
    if (picture.width <= 0 || picture.height <= 0) {
        for (int y = 0; y < cell; ++y)
            for (int x = 0; x < cell; ++x) set_pixel(sheet, x0 + x, y0 + y, 200, 200, 200);
        return;
    }
    const double scale = std::min(double(cell) / picture.width, double(cell) / picture.height);
    const int w = std::max(1, int(picture.width * scale)),
              h = std::max(1, int(picture.height * scale));
    const int ox = x0 + (cell - w) / 2, oy = y0 + (cell - h) / 2;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int sx = std::min(picture.width - 1, int((x + 0.5) / scale));
            const int sy = std::min(picture.height - 1, int((y + 0.5) / scale));
            const uint8_t* p = &picture.rgb[(static_cast<size_t>(sy) * picture.width + sx) * 3];
            set_pixel(sheet, ox + x, oy + y, p[0], p[1], p[2]);
        }
}

}  // namespace

RgbImage make_contact_sheet(const std::vector<SheetItem>& items, int cell) {
    const int count = static_cast<int>(items.size());
    const int columns = std::max(1, std::min(5, count));
    const int rows = std::max(1, (count + columns - 1) / columns);
    RgbImage sheet;
    sheet.width = kGap + columns * (cell + kGap);
    sheet.height = kGap + rows * (cell + kLabelHeight + kGap);
    sheet.rgb.assign(static_cast<size_t>(sheet.width) * sheet.height * 3, 255);
    for (int i = 0; i < count; ++i) {
        const int x = kGap + (i % columns) * (cell + kGap);
        const int y = kGap + (i / columns) * (cell + kLabelHeight + kGap);
        paste_thumbnail(sheet, items[i].picture, x, y, cell);
        char label[48];
        std::snprintf(label, sizeof label, "#%d  %.3f", items[i].rank,
                      static_cast<double>(items[i].score));
        draw_text(sheet, x + 2, y + cell + 6, label);
    }
    return sheet;
}

void write_png(const RgbImage& picture, const std::filesystem::path& path) {
    std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "wb"),
                                                            &std::fclose);
    if (!file) throw Error(ErrorCode::Io, "cannot write '" + path.string() + "'");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        throw Error(ErrorCode::Internal, "libpng: cannot create a writer");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        throw Error(ErrorCode::Io, "libpng failed writing '" + path.string() + "'");
    }
    png_init_io(png, file.get());
    png_set_IHDR(png, info, static_cast<png_uint_32>(picture.width),
                 static_cast<png_uint_32>(picture.height), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < picture.height; ++y)
        png_write_row(
            png, const_cast<png_bytep>(&picture.rgb[static_cast<size_t>(y) * picture.width * 3]));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
}

}  // namespace clipdex::cli
