// Text on the contact sheet: a 5x8 pixel font (5x7 letters, descenders below) of printable ASCII, drawn at an integer scale.
// Other characters (a UTF-8 sequence counts as one) are drawn as '?', so a label keeps its length.
#pragma once

#include <string>
#include <string_view>

#include "clipdex/embedder.h"

namespace clipdex::cli {

inline constexpr int kGlyphWidth = 5, kGlyphHeight = 8;

// Width in pixels of one character cell (the glyph and a one-pixel gap) at `scale`.
constexpr int char_advance(int scale) { return (kGlyphWidth + 1) * scale; }

// `text` shortened to at most `max_chars` characters, ".." marking the cut.
std::string fit_label(std::string_view text, int max_chars);

// Draws `text` with its top-left corner at (x, y), clipped to the picture.
void draw_text(RgbImage& picture, int x, int y, std::string_view text, int scale);

}  // namespace clipdex::cli
