// What of ftfy.fix_text is reproduced, and why the rest is left out:
//   - reproduced exactly: HTML entity decoding (ftfy's own rule, skipped for a line containing
//     '<' and every line after it), C1 controls read as Windows-1252, Latin ligatures,
//     full/half-width forms and U+3000, curly quotes, line breaks, ANSI terminal escapes,
//     control characters, NFC, and the repeat-until-unchanged loop; lines ("\n" segments and
//     the 1,000,000-code-point cap) as ftfy splits them.
//   - not reproduced: fix_encoding, ftfy's mojibake detector and repair (its "badness"
//     heuristics, sloppy codecs, restore_byte_a0, decode_inconsistent_utf8). It rewrites text
//     such as "cafÃ©" to "café". The conformance test counts and excludes every string on which
//     ftfy with fix_encoding=False gives a different result.
//   - not needed: fix_surrogates (decoded UTF-8 never holds surrogates).
//   - bounded: the repeat-until-unchanged loop stops after 64 passes (see ftfy_fix_segment).
//
// Early stop. Everything after ftfy is local to whitespace-separated words, and every ftfy fix
// is local to runs without U+0020 (no fix consumes or joins across an ASCII space; NFC never
// composes with a space), so a line is processed in blocks cut after an ASCII space and the
// pieces of the first blocks are final before later blocks are read. The one non-local rule,
// "a '<' anywhere in the line turns HTML unescaping off", is decided per line up front.
#include "text/clip_text_cleaner.h"

#include <algorithm>
#include <array>

#include "text/html_unescape.h"
#include "text/unicode_text.h"

namespace clipdex::text::detail {
namespace {

constexpr size_t kFtfyMaxSegment = 1000000;  // ftfy's max_decode_length
constexpr size_t kBlockMin = 512;            // code points before a block may be cut
constexpr int kMaxFtfyPasses = 64;

// Windows-1252 as ftfy's "sloppy" codec reads bytes 0x80..0x9F (undefined bytes stay C1).
constexpr std::array<char32_t, 32> kSloppy1252 = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};

// ftfy.chardata.LIGATURES.
std::u32string_view ligature(char32_t c) {
    switch (c) {
        case 0x0132:
            return U"IJ";
        case 0x0133:
            return U"ij";
        case 0x0149:
            return U"\u02BCn";
        case 0x01F1:
            return U"DZ";
        case 0x01F2:
            return U"Dz";
        case 0x01F3:
            return U"dz";
        case 0x01C4:
            return U"D\u017D";
        case 0x01C5:
            return U"D\u017E";
        case 0x01C6:
            return U"d\u017E";
        case 0x01C7:
            return U"LJ";
        case 0x01C8:
            return U"Lj";
        case 0x01C9:
            return U"lj";
        case 0x01CA:
            return U"NJ";
        case 0x01CB:
            return U"Nj";
        case 0x01CC:
            return U"nj";
        case 0xFB00:
            return U"ff";
        case 0xFB01:
            return U"fi";
        case 0xFB02:
            return U"fl";
        case 0xFB03:
            return U"ffi";
        case 0xFB04:
            return U"ffl";
        case 0xFB05:
            return U"\u017Ft";
        case 0xFB06:
            return U"st";
        default:
            return {};
    }
}

// ftfy.chardata.WIDTH_MAP: U+3000 and the NFKC forms of U+FF01..U+FFEF.
std::u32string_view width_form(char32_t c) {
    if (c == 0x3000) return U" ";
    if (c < 0xFF01 || c > 0xFFEF) return {};
    static const std::array<std::u32string, 0xFFEF - 0xFF01 + 1> table = [] {
        std::array<std::u32string, 0xFFEF - 0xFF01 + 1> t;
        for (char32_t cp = 0xFF01; cp <= 0xFFEF; ++cp)
            t[cp - 0xFF01] = to_nfkc(std::u32string(1, cp));
        return t;
    }();
    const std::u32string& s = table[c - 0xFF01];
    return s.size() == 1 && s[0] == c ? std::u32string_view{} : std::u32string_view(s);
}

// ftfy.chardata.CONTROL_CHARS: removed by remove_control_chars.
bool is_removed_control(char32_t c) {
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// The character-by-character fixes, in ftfy's order; each is a pure map of one code point, so
// they compose into one pass (C1 first: its output is never a ligature, wide form or quote
// that a later map would miss, except U+2018..U+201D, handled by mapping them afterwards).
std::u32string map_characters(const std::u32string& text) {
    std::u32string out;
    out.reserve(text.size());
    for (char32_t c : text) {
        if (c >= 0x80 && c <= 0x9F) c = kSloppy1252[c - 0x80];
        if (auto lig = ligature(c); !lig.empty()) {
            for (char32_t l : lig) out.push_back(l == 0x02BC ? U'\'' : l);
            continue;
        }
        if (auto wide = width_form(c); !wide.empty()) {
            out += wide;
            continue;
        }
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
            c = '\'';
        else if (c >= 0x201C && c <= 0x201F)
            c = '"';
        out.push_back(c);
    }
    return out;
}

std::u32string fix_line_breaks(const std::u32string& text) {
    std::u32string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char32_t c = text[i];
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
        out.push_back(c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85 ? U'\n' : c);
    }
    return out;
}

// ftfy.fixes.ANSI_RE "\033\[((?:\d|;)*)([a-zA-Z])" (\d: any Unicode decimal digit) removed,
// then the control characters removed.
std::u32string remove_escapes_and_controls(const std::u32string& text) {
    std::u32string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == '[') {
            size_t j = i + 2;
            while (j < text.size() && (text[j] == ';' || is_decimal_digit(text[j]))) ++j;
            const char32_t end = j < text.size() ? text[j] : 0;
            if ((end >= 'a' && end <= 'z') || (end >= 'A' && end <= 'Z')) {
                i = j;
                continue;
            }
        }
        if (!is_removed_control(text[i])) out.push_back(text[i]);
    }
    return out;
}

// Python's " ".join(text.split()) seen as a callback per word.
template <typename F>
bool for_each_word(const std::u32string& text, F&& on_word) {
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_python_space(text[i])) ++i;
        size_t j = i;
        while (j < text.size() && !is_python_space(text[j])) ++j;
        if (j > i && !on_word(std::u32string_view(text).substr(i, j - i))) return false;
        i = j;
    }
    return true;
}

bool starts_with_special(std::u32string_view s, std::u32string_view special) {
    if (s.size() < special.size()) return false;
    for (size_t i = 0; i < special.size(); ++i) {
        // IGNORECASE in `regex` uses simple case folding: U+017F (long s) matches 's'.
        const bool long_s = special[i] == 's' && s[i] == 0x17F;
        if (s[i] != special[i] && !long_s) return false;
    }
    return true;
}

// The length of the contraction ('s 't 're 've 'm 'll 'd) at the start of s, or 0.
size_t contraction_length(std::u32string_view s) {
    if (s.size() < 2 || s[0] != '\'') return 0;
    const char32_t a = s[1];
    if (a == 's' || a == 0x17F || a == 't' || a == 'm' || a == 'd') return 2;
    if (s.size() < 3) return 0;
    const char32_t b = s[2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// open_clip's pattern, alternatives in order, on one lower-cased word (no whitespace):
// <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
template <typename F>
bool split_word(std::u32string_view w, F&& on_piece) {
    size_t i = 0;
    while (i < w.size()) {
        const std::u32string_view rest = w.substr(i);
        size_t len = 0;
        if (w[i] == '<') {
            if (starts_with_special(rest, U"<start_of_text>"))
                len = 15;
            else if (starts_with_special(rest, U"<end_of_text>"))
                len = 13;
        } else if (w[i] == '\'') {
            len = contraction_length(rest);
        }
        if (len == 0) {
            const CharClass cls = classify(w[i]);
            if (cls == CharClass::Letter) {
                len = 1;
                while (len < rest.size() && classify(rest[len]) == CharClass::Letter) ++len;
            } else if (cls == CharClass::Number) {
                len = 1;
            } else if (cls == CharClass::Other) {
                len = 1;
                while (len < rest.size() && classify(rest[len]) == CharClass::Other) ++len;
            } else {
                ++i;
                continue;
            }
        }
        if (!on_piece(rest.substr(0, len))) return false;
        i += len;
    }
    return true;
}

// One ftfy segment: its end (exclusive) from `begin`, as ftfy.fix_text cuts the text.
size_t segment_end(const std::u32string& text, size_t begin) {
    const size_t nl = text.find(U'\n', begin);
    const size_t end = nl == std::u32string::npos ? text.size() : nl + 1;
    return std::min(end, begin + kFtfyMaxSegment);
}

// Cut points inside a segment: after an ASCII space, at least kBlockMin code points apart.
size_t block_end(const std::u32string& text, size_t begin, size_t seg_end) {
    if (seg_end - begin <= kBlockMin) return seg_end;
    const size_t space = text.find(U' ', begin + kBlockMin);
    return space == std::u32string::npos || space >= seg_end ? seg_end : space + 1;
}

// The steps after ftfy on a run of ftfy output that ends at a word boundary: html.unescape
// twice, whitespace split, lower-casing; `on_word` gets each lower-cased word.
template <typename F>
bool finish_block(const std::u32string& fixed, F&& on_word) {
    const std::u32string unescaped = python_html_unescape(python_html_unescape(fixed));
    return for_each_word(unescaped,
                         [&](std::u32string_view word) { return on_word(to_lower(word)); });
}

template <typename F>
void for_each_clean_word(std::string_view utf8, F&& on_word) {
    const std::u32string text = decode_utf8_lossy(utf8);
    bool unescape_html = true;
    std::u32string pending;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t seg_end = segment_end(text, pos);
        const auto seg_begin_it = text.begin() + static_cast<std::ptrdiff_t>(pos);
        const auto seg_end_it = text.begin() + static_cast<std::ptrdiff_t>(seg_end);
        if (std::find(seg_begin_it, seg_end_it, U'<') != seg_end_it) unescape_html = false;
        while (pos < seg_end) {
            const size_t end = block_end(text, pos, seg_end);
            pending += ftfy_fix_segment(text.substr(pos, end - pos), unescape_html);
            pos = end;
            if (!pending.empty() && (pending.back() == ' ' || pending.back() == '\n')) {
                if (!finish_block(pending, on_word)) return;
                pending.clear();
            }
        }
    }
    if (!pending.empty()) finish_block(pending, on_word);
}

}  // namespace

// Printable ASCII with tabs and newlines and no '&': no ftfy fix can apply.
bool ftfy_leaves_unchanged(const std::u32string& text) {
    for (char32_t c : text)
        if (!((c >= 0x20 && c <= 0x7E && c != '&') || c == '\t' || c == '\n')) return false;
    return true;
}

std::u32string ftfy_fix_segment(std::u32string text, bool unescape_html) {
    if (ftfy_leaves_unchanged(text)) return text;
    // ftfy repeats until nothing changes; each pass peels one level of nested escaping
    // ("&amp;amp;amp;..."), so hostile input makes that quadratic. Real text settles in two or
    // three passes; the cap keeps the worst case linear and only differs from ftfy beyond
    // kMaxFtfyPasses levels of nesting inside one space-free run.
    for (int pass = 0; pass < kMaxFtfyPasses; ++pass) {
        std::u32string next = unescape_html ? ftfy_unescape_html(text) : text;
        next = map_characters(next);
        next = fix_line_breaks(next);
        next = remove_escapes_and_controls(next);
        next = to_nfc(next);
        if (next == text) return next;
        text = std::move(next);
    }
    return text;
}

void for_each_clip_piece(std::string_view utf8,
                         const std::function<bool(std::u32string_view piece)>& on_piece) {
    for_each_clean_word(utf8,
                        [&](const std::u32string& word) { return split_word(word, on_piece); });
}

std::string clean_clip_text(std::string_view utf8) {
    std::string out;
    for_each_clean_word(utf8, [&](const std::u32string& word) {
        if (!out.empty()) out.push_back(' ');
        out += to_utf8(word);
        return true;
    });
    return out;
}

}  // namespace clipdex::text::detail
