// Unicode primitives for the CLIP tokenizer, with the semantics of CPython 3.11 where open_clip
// depends on them (bytes.decode(errors="replace"), str.isspace, str.lower, unicodedata NFC).
// Character data comes from ICU (see unicode_text.cpp for why ICU and not utf8proc).
#pragma once

#include <string>
#include <string_view>

namespace clipdex::text::detail {

// Decodes UTF-8 the way CPython's bytes.decode("utf-8", errors="replace") does: each maximal
// invalid subsequence (Unicode's "maximal subpart" practice) becomes one U+FFFD; encoded
// surrogates and overlong forms are invalid.
std::u32string decode_utf8_lossy(std::string_view bytes);

void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(std::u32string_view text);

// CPython's str.isspace(): bidirectional class WS, B or S, or general category Zs.
bool is_python_space_slow(char32_t cp);
inline bool is_python_space(char32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return is_python_space_slow(cp);
}

// Python's str.lower(): full case mapping (U+0130 -> "i\u0307") with the Final_Sigma rule.
std::u32string to_lower(std::u32string_view text);

// unicodedata.normalize("NFC", text).
std::u32string to_nfc(std::u32string_view text);

// unicodedata.normalize("NFKC", text).
std::u32string to_nfkc(std::u32string_view text);

// Python re's \d on str patterns: general category Nd.
bool is_decimal_digit(char32_t cp);

// How the pre-tokenizer regex of open_clip (module `regex`, IGNORECASE) treats one code point.
enum class CharClass { Letter, Number, Space, Other, Dropped };
CharClass classify_slow(char32_t cp);
inline CharClass classify(char32_t cp) {
    if (cp >= 0x80) return classify_slow(cp);
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::Letter;
    if (cp >= '0' && cp <= '9') return CharClass::Number;
    return is_python_space(cp) ? CharClass::Space : CharClass::Other;
}

}  // namespace clipdex::text::detail
