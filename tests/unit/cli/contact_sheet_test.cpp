// The contact sheet of `search --grid`: the query band, the hits' thumbnails and their labels.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/bitmap_font.h"
#include "cli/contact_sheet.h"

namespace clipdex::cli {
namespace {

RgbImage blank(int width, int height) {
    RgbImage picture;
    picture.width = width;
    picture.height = height;
    picture.rgb.assign(static_cast<size_t>(width) * height * 3, 255);
    return picture;
}

RgbImage solid(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
    RgbImage picture = blank(width, height);
    for (size_t i = 0; i < picture.rgb.size(); i += 3)
        picture.rgb[i] = r, picture.rgb[i + 1] = g, picture.rgb[i + 2] = b;
    return picture;
}

const uint8_t* at(const RgbImage& picture, int x, int y) {
    return &picture.rgb[(static_cast<size_t>(y) * picture.width + x) * 3];
}

int dark_pixels(const RgbImage& picture, int x0, int y0, int x1, int y1) {
    int count = 0;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) count += at(picture, x, y)[0] < 100;
    return count;
}

TEST(BitmapFont, EveryPrintableCharacterButSpaceHasInk) {
    for (char c = '!'; c <= '~'; ++c) {
        RgbImage picture = blank(char_advance(1), kGlyphHeight);
        draw_text(picture, 0, 0, std::string(1, c), 1);
        EXPECT_GT(dark_pixels(picture, 0, 0, picture.width, picture.height), 0) << c;
    }
    RgbImage picture = blank(char_advance(1), kGlyphHeight);
    draw_text(picture, 0, 0, " ", 1);
    EXPECT_EQ(dark_pixels(picture, 0, 0, picture.width, picture.height), 0);
}

TEST(BitmapFont, GlyphsAreDistinct) {
    std::vector<std::vector<uint8_t>> seen;
    for (char c = ' '; c <= '~'; ++c) {
        RgbImage picture = blank(kGlyphWidth, kGlyphHeight);
        draw_text(picture, 0, 0, std::string(1, c), 1);
        for (const auto& other : seen) EXPECT_NE(other, picture.rgb) << "'" << c << "'";
        seen.push_back(picture.rgb);
    }
}

TEST(BitmapFont, NonAsciiCharactersDrawAsOneQuestionMarkEach) {
    RgbImage chinese = blank(3 * char_advance(1), kGlyphHeight);
    RgbImage marks = chinese;
    draw_text(chinese, 0, 0, "草莓x", 1);  // two 3-byte sequences and an ASCII letter
    draw_text(marks, 0, 0, "??x", 1);
    EXPECT_EQ(chinese.rgb, marks.rgb);
}

TEST(BitmapFont, DrawingOutsideThePictureIsClipped) {
    RgbImage picture = blank(4, 4);
    draw_text(picture, -3, -3, "WW", 3);  // partly off the top-left corner
    draw_text(picture, 2, 2, "WW", 3);    // past the bottom-right corner
    EXPECT_EQ(picture.rgb.size(), 4u * 4 * 3);
}

TEST(BitmapFont, FitLabelShortensWithAMark) {
    EXPECT_EQ(fit_label("dog face.svg", 20), "dog face.svg");
    EXPECT_EQ(fit_label("grinning face with big eyes.svg", 10), "grinning..");
    EXPECT_EQ(fit_label("草莓.svg", 6), "??.svg");  // counted in characters, not bytes
    EXPECT_EQ(fit_label("草莓.svg", 5), "??...");
    EXPECT_EQ(fit_label("abc", 1), ".");
    EXPECT_EQ(fit_label("abc", 0), "");
}

TEST(ContactSheet, ImageQueryIsShownAboveTheHitsWithTheirNames) {
    const int cell = 40;
    std::vector<SheetItem> items;
    items.push_back({1, 0.9f, "red.png", solid(10, 10, 255, 0, 0)});
    items.push_back({2, 0.5f, "missing.png", {}});
    SheetQuery query{"blue.png", solid(20, 10, 0, 0, 255)};
    const RgbImage sheet = make_contact_sheet(query, items, cell);

    // The query's picture: a blue thumbnail (aspect kept: 40x20, centred) in the band's first cell.
    bool blue = false, red = false, grey = false;
    for (int y = 0; y < sheet.height; ++y)
        for (int x = 0; x < sheet.width; ++x) {
            const uint8_t* p = at(sheet, x, y);
            blue |= p[0] == 0 && p[1] == 0 && p[2] == 255;
            red |= p[0] == 255 && p[1] == 0 && p[2] == 0;
            grey |= p[0] == 200 && p[1] == 200 && p[2] == 200;
        }
    EXPECT_TRUE(blue) << "the query image is on the sheet";
    EXPECT_TRUE(red) << "the first hit is on the sheet";
    EXPECT_TRUE(grey) << "a hit that could not be loaded is a grey box";

    // The blue rows are all above the red ones: the query comes first.
    int last_blue = -1, first_red = sheet.height;
    for (int y = 0; y < sheet.height; ++y)
        for (int x = 0; x < sheet.width; ++x) {
            const uint8_t* p = at(sheet, x, y);
            if (p[2] == 255 && p[0] == 0) last_blue = std::max(last_blue, y);
            if (p[0] == 255 && p[1] == 0 && p[2] == 0) first_red = std::min(first_red, y);
        }
    EXPECT_LT(last_blue, first_red);

    // Labels under the hits: the sheet with names differs from one without them only there.
    std::vector<SheetItem> unnamed = items;
    for (auto& item : unnamed) item.name.clear();
    const RgbImage plain = make_contact_sheet(query, unnamed, cell);
    ASSERT_EQ(plain.width, sheet.width);
    ASSERT_EQ(plain.height, sheet.height);
    int changed_below_thumbnails = 0, changed_elsewhere = 0;
    for (int y = 0; y < sheet.height; ++y)
        for (int x = 0; x < sheet.width; ++x) {
            if (at(plain, x, y)[0] == at(sheet, x, y)[0]) continue;
            (y > first_red + cell / 2 ? changed_below_thumbnails : changed_elsewhere)++;
        }
    EXPECT_GT(changed_below_thumbnails, 0);
    EXPECT_EQ(changed_elsewhere, 0);
}

TEST(ContactSheet, TextQueryHasNoPictureBand) {
    std::vector<SheetItem> items(7, SheetItem{1, 0.1f, "x.png", solid(8, 8, 0, 255, 0)});
    const RgbImage text_query = make_contact_sheet({"\"a cat\"", {}}, items, 32);
    const RgbImage image_query = make_contact_sheet({"x.png", solid(8, 8, 0, 0, 0)}, items, 32);
    EXPECT_EQ(text_query.width, 8 + 5 * (32 + 8));  // five columns, two rows
    EXPECT_EQ(image_query.height - text_query.height, 32 + 8);
    // The query text is drawn in the band above the hits.
    EXPECT_GT(dark_pixels(text_query, 0, 0, text_query.width, 8 + 2 * kGlyphHeight), 0);
}

}  // namespace
}  // namespace clipdex::cli
