// open_clip's text cleaning ('lower': ftfy.fix_text, html.unescape twice, whitespace collapse,
// str.lower) and its pre-tokenizing regex, done incrementally so that a caller who needs only
// the first pieces of a long text stops the work early (see clip_text_cleaner.cpp for why
// stopping early gives exactly the same pieces).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace clipdex::text::detail {

// The part of ftfy.fix_text (ftfy 6.3, default configuration) that is reproduced, applied to
// one ftfy segment (a line) until nothing changes, as ftfy does: unescape_html (unless
// `unescape_html` is false), fix_c1_controls, fix_latin_ligatures, fix_character_width,
// uncurl_quotes, fix_line_breaks, remove_terminal_escapes, remove_control_chars, NFC.
// Not reproduced: fix_encoding (mojibake repair: "Ã©" -> "é"), see clip_text_cleaner.cpp.
std::u32string ftfy_fix_segment(std::u32string text, bool unescape_html);

// Calls `on_piece` with each pre-token of the cleaned text in order, as open_clip's regex
// findall yields them; `on_piece` returns false to stop. Invalid UTF-8 reads as U+FFFD.
void for_each_clip_piece(std::string_view utf8,
                         const std::function<bool(std::u32string_view piece)>& on_piece);

// The whole cleaned string (for tests and tools): what open_clip's _clean_lower returns.
std::string clean_clip_text(std::string_view utf8);

}  // namespace clipdex::text::detail
