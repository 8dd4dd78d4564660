// The filter lexer (lexer.h): identifiers, keywords, numbers, quoted strings with their
// escapes, operators, each with the position it starts at.
#include "store/filter/lexer.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clipdex/error.h"

namespace clipdex::filter {
namespace {

constexpr size_t kMaxEchoBytes = 120;

bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid (overlong
// forms, surrogates and code points above U+10FFFF included).
size_t utf8_length(std::string_view s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff) return 0;
    if (cp >= 0xd800 && cp <= 0xdfff) return 0;
    return len;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class Lexer {
  public:
    explicit Lexer(std::string_view text) : text_(text) {}

    std::vector<Token> run() {
        std::vector<Token> tokens;
        for (;;) {
            skip_space();
            Token token = next();
            bool end = token.kind == Tok::End;
            tokens.push_back(std::move(token));
            if (end) return tokens;
        }
    }

  private:
    void skip_space() {
        while (i_ < text_.size() && (text_[i_] == ' ' || text_[i_] == '\t' || text_[i_] == '\n' ||
                                     text_[i_] == '\r' || text_[i_] == '\f' || text_[i_] == '\v'))
            ++i_;
    }

    bool at(std::string_view s) const { return text_.substr(i_, s.size()) == s; }

    Token simple(Tok kind, size_t width) {
        Token t;
        t.kind = kind;
        t.pos = i_;
        i_ += width;
        return t;
    }

    Token compare(CompareOp op, size_t width) {
        Token t = simple(Tok::Cmp, width);
        t.op = op;
        return t;
    }

    Token next() {
        if (i_ >= text_.size()) return simple(Tok::End, 0);
        char c = text_[i_];
        if (at("==")) return compare(CompareOp::Eq, 2);
        if (at("!=")) return compare(CompareOp::Ne, 2);
        if (at("<=")) return compare(CompareOp::Le, 2);
        if (at(">=")) return compare(CompareOp::Ge, 2);
        if (at("&&")) return simple(Tok::And, 2);
        if (at("||")) return simple(Tok::Or, 2);
        switch (c) {
            case '<':
                return compare(CompareOp::Lt, 1);
            case '>':
                return compare(CompareOp::Gt, 1);
            case '!':
                return simple(Tok::Not, 1);
            case '(':
                return simple(Tok::LParen, 1);
            case ')':
                return simple(Tok::RParen, 1);
            case '[':
                return simple(Tok::LBracket, 1);
            case ']':
                return simple(Tok::RBracket, 1);
            case ',':
                return simple(Tok::Comma, 1);
            case '-':
                return simple(Tok::Minus, 1);
            case '+':
                return simple(Tok::Plus, 1);
            case '"':
            case '\'':
                return string_literal(c);
            case '=':
                fail(text_, i_, "expected `==` (a single `=` is not an operator)");
            case '&':
                fail(text_, i_, "expected `&&`");
            case '|':
                fail(text_, i_, "expected `||`");
            default:
                break;
        }
        if (is_digit(c) || (c == '.' && i_ + 1 < text_.size() && is_digit(text_[i_ + 1])))
            return number();
        if (is_ident_start(c) || c == '$') return identifier();
        fail(text_, i_, "unexpected character `" + echo(text_.substr(i_, 1)) + "`");
    }

    Token identifier() {
        Token t;
        t.pos = i_;
        size_t start = i_++;
        while (i_ < text_.size() && is_ident_char(text_[i_])) ++i_;
        t.text = std::string(text_.substr(start, i_ - start));
        t.kind = keyword(t.text);
        if (t.text[0] == '$' && t.text != "$meta")
            fail(text_, t.pos, "unknown field `" + t.text + "` (only `$meta` starts with `$`)");
        return t;
    }

    static Tok keyword(std::string_view word) {
        if (iequals(word, "and")) return Tok::And;
        if (iequals(word, "or")) return Tok::Or;
        if (iequals(word, "not")) return Tok::Not;
        if (iequals(word, "in")) return Tok::In;
        if (iequals(word, "like")) return Tok::Like;
        if (iequals(word, "true")) return Tok::True;
        if (iequals(word, "false")) return Tok::False;
        return Tok::Ident;
    }

    Token number() {
        Token t;
        t.pos = i_;
        size_t start = i_;
        bool is_float = false;
        while (i_ < text_.size() && is_digit(text_[i_])) ++i_;
        if (i_ < text_.size() && text_[i_] == '.') {
            is_float = true;
            ++i_;
            while (i_ < text_.size() && is_digit(text_[i_])) ++i_;
        }
        if (i_ < text_.size() && (text_[i_] == 'e' || text_[i_] == 'E')) {
            is_float = true;
            ++i_;
            if (i_ < text_.size() && (text_[i_] == '+' || text_[i_] == '-')) ++i_;
            if (i_ >= text_.size() || !is_digit(text_[i_]))
                fail(text_, i_, "expected the digits of an exponent");
            while (i_ < text_.size() && is_digit(text_[i_])) ++i_;
        }
        if (i_ < text_.size() && (is_ident_char(text_[i_]) || text_[i_] == '.'))
            fail(text_, i_, "unexpected character `" + echo(text_.substr(i_, 1)) + "` in a number");
        std::string_view digits = text_.substr(start, i_ - start);
        if (is_float) {
            t.kind = Tok::Float;
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t.real);
            if (ec != std::errc() || end != digits.data() + digits.size() ||
                t.real > std::numeric_limits<double>::max())
                fail(text_, start, "number `" + std::string(digits) + "` is out of range");
            return t;
        }
        t.kind = Tok::Int;
        if (digits.size() > 1 && digits[0] == '0')
            fail(text_, start,
                 "integer `" + std::string(digits) +
                     "` has a leading zero (octal is not supported)");
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t.magnitude);
        if (ec != std::errc() || end != digits.data() + digits.size())
            fail(text_, start, "integer `" + std::string(digits) + "` is out of the int64 range");
        return t;
    }

    Token string_literal(char quote) {
        Token t;
        t.kind = Tok::String;
        t.pos = i_;
        ++i_;
        for (;;) {
            if (i_ >= text_.size()) fail(text_, t.pos, "unterminated string");
            char c = text_[i_];
            if (c == quote) {
                ++i_;
                return t;
            }
            if (c == '\0') fail(text_, i_, "NUL byte in a string");
            if (c == '\\') {
                escape(t.text, t.pos);
                continue;
            }
            size_t len = utf8_length(text_, i_);
            if (len == 0) fail(text_, i_, "invalid UTF-8 in a string");
            t.text.append(text_.substr(i_, len));
            i_ += len;
        }
    }

    void escape(std::string& out, size_t string_start) {
        size_t start = i_;
        if (i_ + 1 >= text_.size()) fail(text_, string_start, "unterminated string");
        char c = text_[i_ + 1];
        i_ += 2;
        switch (c) {
            case '"':
                out += '"';
                return;
            case '\'':
                out += '\'';
                return;
            case '\\':
                out += '\\';
                return;
            case 'n':
                out += '\n';
                return;
            case 't':
                out += '\t';
                return;
            case 'r':
                out += '\r';
                return;
            case 'b':
                out += '\b';
                return;
            case 'f':
                out += '\f';
                return;
            case 'v':
                out += '\v';
                return;
            case 'a':
                out += '\a';
                return;
            case 'x':
                return code_point(out, start, 2);
            case 'u':
                return code_point(out, start, 4);
            case 'U':
                return code_point(out, start, 8);
            default:
                break;
        }
        fail(text_, start, "unknown escape `\\" + echo(text_.substr(start + 1, 1)) + "`");
    }

    // \xHH (ASCII only, so that strings stay valid UTF-8), \uXXXX, \UXXXXXXXX.
    void code_point(std::string& out, size_t start, int digits) {
        uint32_t cp = 0;
        for (int k = 0; k < digits; ++k) {
            int v = i_ < text_.size() ? hex_value(text_[i_]) : -1;
            if (v < 0) fail(text_, i_, "expected " + std::to_string(digits) + " hex digits");
            cp = cp * 16 + static_cast<uint32_t>(v);
            ++i_;
        }
        if (cp == 0) fail(text_, start, "NUL character in a string");
        if ((digits == 2 && cp > 0x7f) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            fail(text_, start,
                 "escape `" + std::string(text_.substr(start, i_ - start)) +
                     "` is not a valid character");
        append_utf8(out, cp);
    }

    std::string_view text_;
    size_t i_ = 0;
};

}  // namespace

std::string echo(std::string_view text) {
    std::string out;
    size_t n = std::min(text.size(), kMaxEchoBytes);
    for (size_t i = 0; i < n; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c >= 0x7f) {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (n < text.size()) out += "...";
    return out;
}

void fail(std::string_view text, size_t pos, const std::string& what) {
    throw Error(ErrorCode::InvalidInput,
                "filter `" + echo(text) + "` at position " + std::to_string(pos) + ": " + what);
}

std::vector<Token> tokenize(std::string_view text) {
    return Lexer(text).run();
}

}  // namespace clipdex::filter
