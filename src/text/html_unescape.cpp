#include "text/html_unescape.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "text/unicode_text.h"

namespace clipdex::text::detail {
namespace {

struct EntityEntry {
    std::string_view name;
    std::string_view value;
};

#include "text/html_entities_table.inc"

using EntityMap = std::unordered_map<std::u32string, std::u32string>;

EntityMap build_map(const EntityEntry* begin, const EntityEntry* end, char32_t prefix) {
    EntityMap map;
    for (const EntityEntry* e = begin; e != end; ++e) {
        std::u32string key = decode_utf8_lossy(e->name);
        if (prefix != 0) key.insert(key.begin(), prefix);
        map.emplace(std::move(key), decode_utf8_lossy(e->value));
    }
    return map;
}

const EntityMap& html5_entities() {
    static const EntityMap map = build_map(std::begin(kHtml5Entities), std::end(kHtml5Entities), 0);
    return map;
}

// Keys include the leading '&', as ftfy's HTML_ENTITIES dictionary does.
const EntityMap& ftfy_entities() {
    static const EntityMap map = [] {
        EntityMap m;
        for (const auto& [name, value] : html5_entities())
            if (!name.empty() && name.back() == U';') m.emplace(U"&" + name, value);
        EntityMap upper =
            build_map(std::begin(kFtfyUpperEntities), std::end(kFtfyUpperEntities), U'&');
        m.insert(upper.begin(), upper.end());
        return m;
    }();
    return map;
}

bool is_ascii_digit(char32_t c) {
    return c >= '0' && c <= '9';
}
bool is_hex_digit(char32_t c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_ascii_alnum(char32_t c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// html._invalid_charrefs: the Windows-1252 reading of C1 codes, NUL and CR.
std::optional<char32_t> invalid_charref(uint64_t num) {
    static constexpr char32_t kC1[32] = {
        0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
    if (num == 0) return 0xFFFD;
    if (num == 0x0D) return U'\r';
    if (num >= 0x80 && num <= 0x9F) return kC1[num - 0x80];
    return std::nullopt;
}

// html._invalid_codepoints: references to these decode to nothing.
bool invalid_codepoint(uint64_t num) {
    return (num >= 0x1 && num <= 0x8) || num == 0xB || (num >= 0xE && num <= 0x1F) ||
           (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
           (num <= 0x10FFFF && (num & 0xFFFE) == 0xFFFE);
}

std::u32string numeric_reference(uint64_t num) {
    if (auto c = invalid_charref(num)) return std::u32string(1, *c);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
    if (invalid_codepoint(num)) return U"";
    return std::u32string(1, static_cast<char32_t>(num));
}

// Accumulates digits, saturating above the Unicode range (the value then only has to compare
// greater than 0x10FFFF). CPython raises ValueError for decimal references of more than 4300
// digits; here they decode as out of range, to U+FFFD.
uint64_t parse_number(std::u32string_view digits, unsigned base) {
    uint64_t value = 0;
    for (char32_t c : digits) {
        unsigned d = is_ascii_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
        value = std::min<uint64_t>(value * base + d, 0x7FFFFFFF);
    }
    return value;
}

bool is_name_char(char32_t c) {
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
           c != ';';
}

// Tries html._charref at text[pos] == '&'; returns the replacement and the match length.
std::optional<std::pair<std::u32string, size_t>> match_charref(const std::u32string& text,
                                                               size_t pos) {
    const size_t n = text.size();
    size_t i = pos + 1;
    if (i < n && text[i] == '#') {
        size_t j = i + 1;
        unsigned base = 10;
        if (j < n && (text[j] == 'x' || text[j] == 'X') && j + 1 < n && is_hex_digit(text[j + 1])) {
            base = 16;
            ++j;
        }
        const size_t start = j;
        while (j < n && (base == 16 ? is_hex_digit(text[j]) : is_ascii_digit(text[j]))) ++j;
        if (j == start) return std::nullopt;
        const uint64_t num = parse_number(std::u32string_view(text).substr(start, j - start), base);
        if (j < n && text[j] == ';') ++j;
        return std::make_pair(numeric_reference(num), j - pos);
    }
    size_t j = i;
    while (j < n && j - i < 32 && is_name_char(text[j])) ++j;
    if (j == i) return std::nullopt;
    if (j < n && text[j] == ';') ++j;
    const std::u32string name = text.substr(i, j - i);
    const EntityMap& html5 = html5_entities();
    if (auto it = html5.find(name); it != html5.end()) return std::make_pair(it->second, j - pos);
    for (size_t len = name.size() - 1; len >= 2; --len) {
        if (auto it = html5.find(name.substr(0, len)); it != html5.end())
            return std::make_pair(it->second + name.substr(len), j - pos);
    }
    return std::make_pair(U"&" + name, j - pos);
}

// Tries ftfy's HTML_ENTITY_RE "&#?[0-9A-Za-z]{1,24};" at text[pos] == '&'.
std::optional<size_t> match_ftfy_entity(const std::u32string& text, size_t pos) {
    const size_t n = text.size();
    auto run_end = [&](size_t from) {
        size_t j = from;
        while (j < n && is_ascii_alnum(text[j])) ++j;
        return j;
    };
    for (size_t start : {pos + 1, pos + 2}) {
        if (start == pos + 2 && !(pos + 1 < n && text[pos + 1] == '#')) break;
        const size_t end = run_end(start);
        if (end > start && end - start <= 24 && end < n && text[end] == ';') return end + 1 - pos;
    }
    return std::nullopt;
}

// Copies text, replacing each '&' that `match` recognises by its replacement. `match(text, pos)`
// returns the replacement and the length it consumed, or nothing to keep the '&' as it is.
template <typename Matcher>
std::u32string replace_references(const std::u32string& text, Matcher match) {
    if (text.find(U'&') == std::u32string::npos) return text;
    std::u32string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        if (text[pos] == '&') {
            if (auto m = match(text, pos)) {
                out += m->first;
                pos += m->second;
                continue;
            }
        }
        out.push_back(text[pos++]);
    }
    return out;
}

}  // namespace

std::u32string python_html_unescape(const std::u32string& text) {
    return replace_references(text, match_charref);
}

std::u32string ftfy_unescape_html(const std::u32string& text) {
    return replace_references(
        text,
        [](const std::u32string& s,
           size_t pos) -> std::optional<std::pair<std::u32string, size_t>> {
            const auto len = match_ftfy_entity(s, pos);
            if (!len) return std::nullopt;
            const std::u32string ref = s.substr(pos, *len);
            const EntityMap& entities = ftfy_entities();
            if (auto it = entities.find(ref); it != entities.end())
                return std::make_pair(it->second, *len);
            if (ref.size() > 1 && ref[1] == '#') {
                const std::u32string decoded = python_html_unescape(ref);
                return std::make_pair(decoded.find(U';') == std::u32string::npos ? decoded : ref,
                                      *len);
            }
            return std::make_pair(ref, *len);
        });
}

}  // namespace clipdex::text::detail
