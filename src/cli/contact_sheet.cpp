#include "cli/contact_sheet.h"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/bitmap_font.h"
#include "clipdex/error.h"

namespace clipdex::cli {

namespace {

constexpr int kGap = 8, kRankScale = 2, kNameScale = 1;
// Under a thumbnail: 6 px, the rank and score line, 4 px, the name line, 4 px.
constexpr int kLabelHeight = 6 + kGlyphHeight * kRankScale + 4 + kGlyphHeight * kNameScale + 4;

void set_pixel(RgbImage& img, int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
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

RgbImage make_contact_sheet(const SheetQuery& query, const std::vector<SheetItem>& items,
                            int cell) {
    const int count = static_cast<int>(items.size());
    const int columns = std::max(1, std::min(5, count));
    const int rows = std::max(1, (count + columns - 1) / columns);
    const int title_height = kGlyphHeight * kRankScale + kGap;
    const bool has_picture = query.picture.width > 0 && query.picture.height > 0;
    // The query's band: its text, its picture under it, then a rule across the sheet.
    const int header = kGap + title_height + (has_picture ? cell + kGap : 0) + 1 + kGap;
    RgbImage sheet;
    sheet.width = kGap + columns * (cell + kGap);
    sheet.height = header + rows * (cell + kLabelHeight + kGap);
    sheet.rgb.assign(static_cast<size_t>(sheet.width) * sheet.height * 3, 255);

    const int text_chars = (sheet.width - 2 * kGap) / char_advance(kRankScale);
    draw_text(sheet, kGap, kGap, fit_label("query: " + query.text, text_chars), kRankScale);
    if (has_picture) paste_thumbnail(sheet, query.picture, kGap, kGap + title_height, cell);
    for (int x = 0; x < sheet.width; ++x) set_pixel(sheet, x, header - kGap - 1, 160, 160, 160);

    const int name_chars = cell / char_advance(kNameScale);
    for (int i = 0; i < count; ++i) {
        const int x = kGap + (i % columns) * (cell + kGap);
        const int y = header + (i / columns) * (cell + kLabelHeight + kGap);
        paste_thumbnail(sheet, items[i].picture, x, y, cell);
        char label[48];
        std::snprintf(label, sizeof label, "#%d  %.3f", items[i].rank,
                      static_cast<double>(items[i].score));
        const int line = y + cell + 6;
        draw_text(sheet, x + 2, line, label, kRankScale);
        draw_text(sheet, x + 2, line + kGlyphHeight * kRankScale + 4,
                  fit_label(items[i].name, name_chars), kNameScale);
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
