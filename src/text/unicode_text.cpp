// ICU was chosen over utf8proc because the tokenizer needs Python's full lower-casing
// (multi-code-point results such as U+0130 -> "i\u0307" and the context-dependent Final_Sigma
// rule for Greek sigma); utf8proc only offers single code point simple case mapping. ICU also
// provides NFC and general categories, so one library covers every Unicode fact used here.
#include "text/unicode_text.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

#include "clipdex/error.h"

namespace clipdex::text::detail {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Length of a well-formed UTF-8 sequence starting at `pos`, or the length of its maximal
// invalid subpart (at least 1) with `valid` false.
size_t utf8_sequence(std::string_view s, size_t pos, char32_t& cp, bool& valid) {
    const auto b0 = static_cast<uint8_t>(s[pos]);
    valid = false;
    if (b0 < 0x80) {
        cp = b0;
        valid = true;
        return 1;
    }
    size_t need = 0;
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;  // U+D800..U+DFFF are not scalar values
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 1;
    }
    size_t i = 1;
    for (; i <= need; ++i) {
        if (pos + i >= s.size()) return i;
        const auto b = static_cast<uint8_t>(s[pos + i]);
        const uint8_t min = i == 1 ? lo : 0x80;
        const uint8_t max = i == 1 ? hi : 0xBF;
        if (b < min || b > max) return i;
        cp = (cp << 6) | (b & 0x3F);
    }
    valid = true;
    return i;
}

icu::UnicodeString to_icu(std::u32string_view text) {
    return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                         static_cast<int32_t>(text.size()));
}

std::u32string from_icu(const icu::UnicodeString& text) {
    std::u32string out;
    out.reserve(static_cast<size_t>(text.length()));
    for (int32_t i = 0; i < text.length();) {
        const UChar32 cp = text.char32At(i);
        out.push_back(static_cast<char32_t>(cp));
        i += U16_LENGTH(cp);
    }
    return out;
}

struct CodePointRange {
    char32_t first;
    char32_t last;
};

#include "text/regex_newer_letters.inc"

template <size_t N>
bool in_ranges(const CodePointRange (&ranges)[N], char32_t cp) {
    const auto* it =
        std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                         [](char32_t c, const CodePointRange& r) { return c < r.first; });
    return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

bool is_ascii(std::u32string_view text) {
    for (char32_t c : text)
        if (c >= 0x80) return false;
    return true;
}

}  // namespace

std::u32string decode_utf8_lossy(std::string_view bytes) {
    std::u32string out;
    out.reserve(bytes.size());
    size_t pos = 0;
    while (pos < bytes.size()) {
        char32_t cp = 0;
        bool valid = false;
        pos += utf8_sequence(bytes, pos, cp, valid);
        out.push_back(valid ? cp : kReplacement);
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string to_utf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) append_utf8(out, c);
    return out;
}

bool is_python_space_slow(char32_t cp) {
    switch (cp) {
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

std::u32string to_lower(std::u32string_view text) {
    if (is_ascii(text)) {
        std::u32string out(text);
        for (char32_t& c : out)
            if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        return out;
    }
    icu::UnicodeString s = to_icu(text);
    s.toLower(icu::Locale::getRoot());
    return from_icu(s);
}

std::u32string to_nfc(std::u32string_view text) {
    if (is_ascii(text)) return std::u32string(text);
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status)) throw Error(ErrorCode::Internal, "ICU: NFC normalizer unavailable");
    const icu::UnicodeString src = to_icu(text);
    if (nfc->isNormalized(src, status) && U_SUCCESS(status)) return std::u32string(text);
    status = U_ZERO_ERROR;
    const icu::UnicodeString out = nfc->normalize(src, status);
    if (U_FAILURE(status)) throw Error(ErrorCode::Internal, "ICU: NFC normalization failed");
    return from_icu(out);
}

std::u32string to_nfkc(std::u32string_view text) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
    if (U_FAILURE(status)) throw Error(ErrorCode::Internal, "ICU: NFKC normalizer unavailable");
    const icu::UnicodeString out = nfkc->normalize(to_icu(text), status);
    if (U_FAILURE(status)) throw Error(ErrorCode::Internal, "ICU: NFKC normalization failed");
    return from_icu(out);
}

bool is_decimal_digit(char32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return u_charType(static_cast<UChar32>(cp)) == U_DECIMAL_DIGIT_NUMBER;
}

CharClass classify_slow(char32_t cp) {
    // U+0345 (combining ypogegrammeni) case-folds to the letter iota; under IGNORECASE the
    // `regex` module then matches it with neither [\p{L}] nor the negated class, so it never
    // becomes part of a token (checked against open_clip in the conformance test).
    if (cp == 0x345) return CharClass::Dropped;
    if (is_python_space(cp)) return CharClass::Space;
    switch (u_charType(static_cast<UChar32>(cp))) {
        case U_UPPERCASE_LETTER:
        case U_LOWERCASE_LETTER:
        case U_TITLECASE_LETTER:
        case U_MODIFIER_LETTER:
        case U_OTHER_LETTER:
            return CharClass::Letter;
        case U_DECIMAL_DIGIT_NUMBER:
        case U_LETTER_NUMBER:
        case U_OTHER_NUMBER:
            return CharClass::Number;
        case U_UNASSIGNED:
            // open_clip's `regex` module knows a newer Unicode than ICU 72 (15.0): letters and
            // numbers assigned since then come from a table generated from that module.
            if (in_ranges(kNewerLetters, cp)) return CharClass::Letter;
            if (in_ranges(kNewerNumbers, cp)) return CharClass::Number;
            return CharClass::Other;
        default:
            return CharClass::Other;
    }
}

}  // namespace clipdex::text::detail
