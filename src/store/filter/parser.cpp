// Filter text -> tree. A lexer turns the whole text into tokens first (the text is at most
// 64 KiB), then a recursive-descent parser with an explicit depth budget builds the tree, so
// hostile nesting ends in an error instead of a stack overflow.
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clipdex/error.h"
#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"

namespace clipdex::filter {
namespace {

constexpr size_t kMaxTextBytes = 64 * 1024;
constexpr int kMaxDepth = 64;
constexpr size_t kMaxListItems = 65536;
constexpr size_t kMaxPathSteps = 32;
constexpr size_t kMaxLikePatternBytes = 16000;  // SQLite refuses GLOB patterns over 50,000 bytes
constexpr size_t kMaxEchoBytes = 120;

enum class Tok {
    Ident,
    String,
    Int,
    Float,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Minus,
    Plus,
    Cmp,
    And,
    Or,
    Not,
    In,
    Like,
    True,
    False,
    End
};

struct Token {
    Tok kind = Tok::End;
    size_t pos = 0;
    std::string text;              // Ident: the name; String: the decoded value
    uint64_t magnitude = 0;        // Int: the unsigned value (the sign is a separate token)
    double real = 0;               // Float
    CompareOp op = CompareOp::Eq;  // Cmp
};

// The filter as it appears in messages: short, and printable whatever bytes it holds, so the
// message itself stays valid UTF-8 (it may end up in JSON).
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

[[noreturn]] void fail(std::string_view text, size_t pos, const std::string& what) {
    throw Error(ErrorCode::InvalidInput,
                "filter `" + echo(text) + "` at position " + std::to_string(pos) + ": " + what);
}

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

CompareOp flip(CompareOp op) {
    switch (op) {
        case CompareOp::Lt:
            return CompareOp::Gt;
        case CompareOp::Le:
            return CompareOp::Ge;
        case CompareOp::Gt:
            return CompareOp::Lt;
        case CompareOp::Ge:
            return CompareOp::Le;
        default:
            return op;
    }
}

std::string_view literal_type(const Literal& value) {
    switch (value.index()) {
        case 0:
            return "a boolean";
        case 1:
            return "an integer";
        case 2:
            return "a float";
        default:
            return "a string";
    }
}

bool is_number(const Literal& value) {
    return value.index() == 1 || value.index() == 2;
}

FieldKind fixed_field(std::string_view name) {
    if (name == "id") return FieldKind::Id;
    if (name == "url") return FieldKind::Url;
    if (name == "description") return FieldKind::Description;
    if (name == "added_at") return FieldKind::AddedAt;
    if (name == "updated_at") return FieldKind::UpdatedAt;
    return FieldKind::Dynamic;
}

class Parser {
  public:
    Parser(std::string_view text, std::vector<Token> tokens)
        : text_(text), tokens_(std::move(tokens)) {}

    std::unique_ptr<const Node> run() {
        auto root = parse_or();
        if (peek().kind != Tok::End) {
            std::string what =
                peek().kind == Tok::RParen ? "unbalanced `)`" : "expected `and`, `or` or the end";
            fail(text_, peek().pos, what);
        }
        return root;
    }

  private:
    const Token& peek(size_t ahead = 0) const {
        size_t k = std::min(pos_ + ahead, tokens_.size() - 1);
        return tokens_[k];
    }
    const Token& take() {
        const Token& t = tokens_[pos_];
        if (pos_ + 1 < tokens_.size()) ++pos_;
        return t;
    }
    void expect(Tok kind, std::string_view what) {
        if (peek().kind != kind) fail(text_, peek().pos, "expected " + std::string(what));
        take();
    }

    void enter(size_t pos) {
        if (++depth_ > kMaxDepth)
            fail(text_, pos, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }

    std::unique_ptr<const Node> chain(NodeKind kind, Tok separator) {
        auto first = kind == NodeKind::Or ? parse_and() : parse_not();
        if (peek().kind != separator) return first;
        auto node = std::make_unique<Node>();
        node->kind = kind;
        node->children.push_back(std::move(first));
        while (peek().kind == separator) {
            take();
            node->children.push_back(kind == NodeKind::Or ? parse_and() : parse_not());
        }
        return node;
    }

    std::unique_ptr<const Node> parse_or() { return chain(NodeKind::Or, Tok::Or); }
    std::unique_ptr<const Node> parse_and() { return chain(NodeKind::And, Tok::And); }

    // `not (...)` costs one level, not two, so that canonical text (which always writes the
    // operand of `not` in parentheses) stays within the limit whenever the input did.
    std::unique_ptr<const Node> parse_not() {
        if (peek().kind != Tok::Not) return parse_primary();
        enter(peek().pos);
        take();
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::Not;
        if (peek().kind == Tok::LParen) {
            take();
            node->children.push_back(parse_or());
            expect(Tok::RParen, "`)`");
        } else {
            node->children.push_back(parse_not());
        }
        --depth_;
        return node;
    }

    static bool starts_literal(Tok kind) {
        return kind == Tok::String || kind == Tok::Int || kind == Tok::Float || kind == Tok::True ||
               kind == Tok::False || kind == Tok::Minus || kind == Tok::Plus;
    }

    std::unique_ptr<const Node> parse_primary() {
        const Token& t = peek();
        if (t.kind == Tok::LParen) {
            enter(t.pos);
            take();
            auto inner = parse_or();
            expect(Tok::RParen, "`)`");
            --depth_;
            return inner;
        }
        if (starts_literal(t.kind)) return literal_first();
        if (t.kind == Tok::Ident) return field_first();
        fail(text_, t.pos, "expected a field, a literal, `(` or `not`");
    }

    // `5 < x` and the range form `1 < x < 5` (Milvus accepts both).
    std::unique_ptr<const Node> literal_first() {
        size_t lit_pos = peek().pos;
        Literal lit = parse_literal();
        if (peek().kind != Tok::Cmp) fail(text_, peek().pos, "expected a comparison operator");
        CompareOp op = take().op;
        size_t field_pos = peek().pos;
        Field field = parse_field();
        auto left = compare_node(field, flip(op), std::move(lit), lit_pos, field_pos);
        bool ascending = op == CompareOp::Lt || op == CompareOp::Le;
        bool descending = op == CompareOp::Gt || op == CompareOp::Ge;
        const Token& next = peek();
        bool same_direction =
            next.kind == Tok::Cmp &&
            (ascending ? (next.op == CompareOp::Lt || next.op == CompareOp::Le)
                       : descending && (next.op == CompareOp::Gt || next.op == CompareOp::Ge));
        if (!same_direction) return left;
        // The range becomes an `and` node, which canonical text writes in parentheses when it
        // sits inside another `and`/`or`; charging that level here keeps canonical text within
        // the depth limit whenever the input was.
        enter(next.pos);
        --depth_;
        CompareOp op2 = take().op;
        size_t lit2_pos = peek().pos;
        auto right = compare_node(field, op2, parse_literal(), lit2_pos, field_pos);
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::And;
        node->children.push_back(std::move(left));
        node->children.push_back(std::move(right));
        return node;
    }

    std::unique_ptr<const Node> field_first() {
        size_t field_pos = peek().pos;
        Field field = parse_field();
        const Token& t = peek();
        if (t.kind == Tok::Cmp) {
            CompareOp op = take().op;
            size_t lit_pos = peek().pos;
            return compare_node(field, op, parse_literal(), lit_pos, field_pos);
        }
        if (t.kind == Tok::In) {
            take();
            return list_node(std::move(field), NodeKind::In);
        }
        if (t.kind == Tok::Not && peek(1).kind == Tok::In) {
            take();
            take();
            return list_node(std::move(field), NodeKind::NotIn);
        }
        if (t.kind == Tok::Like) return like_node(std::move(field), take().pos);
        if (field.kind != FieldKind::Dynamic)
            fail(text_, t.pos,
                 "expected a comparison, `in` or `like` after field `" +
                     std::string(field_name(field.kind)) + "`");
        if (t.kind == Tok::Ident || starts_literal(t.kind) || t.kind == Tok::LParen ||
            t.kind == Tok::Not)
            fail(text_, t.pos, "expected a comparison, `in`, `like`, `and`, `or` or the end");
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::IsTrue;
        node->field = std::move(field);
        return node;
    }

    Field parse_field() {
        const Token& name = peek();
        if (name.kind != Tok::Ident) fail(text_, name.pos, "expected a field name");
        take();
        Field field;
        bool meta = name.text == "$meta";
        field.kind = meta ? FieldKind::Dynamic : fixed_field(name.text);
        if (!meta && field.kind == FieldKind::Dynamic) field.path.emplace_back(name.text);
        while (peek().kind == Tok::LBracket) {
            size_t bracket = take().pos;
            if (field.kind != FieldKind::Dynamic)
                fail(text_, bracket, "field `" + name.text + "` is not a JSON field");
            if (field.path.size() >= kMaxPathSteps)
                fail(text_, bracket,
                     "JSON path longer than " + std::to_string(kMaxPathSteps) + " steps");
            field.path.push_back(path_step(field.path.empty()));
            expect(Tok::RBracket, "`]`");
        }
        if (meta && field.path.empty())
            fail(text_, peek().pos, "expected `[` and a key after `$meta`");
        return field;
    }

    PathStep path_step(bool key_only) {
        const Token& t = peek();
        if (t.kind == Tok::String) {
            check_key(t);
            return PathStep(take().text);
        }
        if (t.kind == Tok::Int && !key_only) {
            if (t.magnitude > 1000000000) fail(text_, t.pos, "array index too large");
            return PathStep(static_cast<int64_t>(take().magnitude));
        }
        fail(text_, t.pos,
             key_only ? "expected a string key" : "expected a string key or an array index");
    }

    // SQLite compares JSON path labels with the key as written in the stored JSON text, where
    // these characters would appear escaped; refusing them keeps both backends exact.
    void check_key(const Token& t) {
        for (char c : t.text) {
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
                fail(text_, t.pos,
                     "JSON key `" + echo(t.text) +
                         "` contains a quote, backslash or control character");
        }
    }

    Literal parse_literal() {
        const Token& t = peek();
        switch (t.kind) {
            case Tok::String:
                return Literal(take().text);
            case Tok::True:
                take();
                return Literal(true);
            case Tok::False:
                take();
                return Literal(false);
            case Tok::Int:
            case Tok::Float:
                return number(false);
            case Tok::Minus:
            case Tok::Plus: {
                bool negative = take().kind == Tok::Minus;
                if (peek().kind != Tok::Int && peek().kind != Tok::Float)
                    fail(text_, peek().pos, "expected a number after the sign");
                return number(negative);
            }
            default:
                break;
        }
        fail(text_, t.pos, "expected a literal");
    }

    Literal number(bool negative) {
        const Token& t = take();
        if (t.kind == Tok::Float) return Literal(negative ? -t.real : t.real);
        constexpr uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        if (t.magnitude > max + (negative ? 1 : 0))
            fail(text_, t.pos, "integer is out of the int64 range");
        if (!negative) return Literal(static_cast<int64_t>(t.magnitude));
        if (t.magnitude == max + 1) return Literal(std::numeric_limits<int64_t>::min());
        return Literal(-static_cast<int64_t>(t.magnitude));
    }

    void check_type(const Field& field, const Literal& value, size_t pos, size_t field_pos) {
        if (field.kind == FieldKind::Dynamic) return;
        bool ok = field.kind == FieldKind::Id ? is_number(value) : value.index() == 3;
        if (ok) return;
        std::string kind = field.kind == FieldKind::Id ? "an integer" : "a string";
        fail(text_, pos,
             "field `" + std::string(field_name(field.kind)) + "` (at position " +
                 std::to_string(field_pos) + ") is " + kind + " and cannot be compared with " +
                 std::string(literal_type(value)));
    }

    std::unique_ptr<const Node> compare_node(const Field& field, CompareOp op, Literal value,
                                             size_t pos, size_t field_pos) {
        check_type(field, value, pos, field_pos);
        if (value.index() == 0 && op != CompareOp::Eq && op != CompareOp::Ne)
            fail(text_, pos, "booleans compare only with `==` and `!=`");
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::Compare;
        node->field = field;
        node->op = op;
        node->values.push_back(std::move(value));
        return node;
    }

    std::unique_ptr<const Node> list_node(Field field, NodeKind kind) {
        expect(Tok::LBracket, "`[`");
        auto node = std::make_unique<Node>();
        node->kind = kind;
        while (peek().kind != Tok::RBracket) {
            size_t pos = peek().pos;
            if (node->values.size() >= kMaxListItems)
                fail(text_, pos, "list longer than " + std::to_string(kMaxListItems) + " items");
            Literal value = parse_literal();
            check_type(field, value, pos, pos);
            node->values.push_back(std::move(value));
            if (peek().kind == Tok::Comma) {
                take();
                continue;
            }
            if (peek().kind != Tok::RBracket) fail(text_, peek().pos, "expected `,` or `]`");
        }
        take();
        node->field = std::move(field);
        return node;
    }

    std::unique_ptr<const Node> like_node(Field field, size_t like_pos) {
        if (field.kind == FieldKind::Id)
            fail(text_, like_pos, "`like` needs a string field, and `id` is an integer");
        const Token& t = peek();
        if (t.kind != Tok::String) fail(text_, t.pos, "expected a string pattern");
        if (t.text.size() > kMaxLikePatternBytes)
            fail(text_, t.pos,
                 "like pattern longer than " + std::to_string(kMaxLikePatternBytes) + " bytes");
        size_t backslashes = 0;
        for (size_t k = t.text.size(); k > 0 && t.text[k - 1] == '\\'; --k) ++backslashes;
        if (backslashes % 2 == 1)
            fail(text_, t.pos,
                 "like pattern ends with a lone `\\` (write `\\\\\\\\` for a backslash)");
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::Like;
        node->field = std::move(field);
        node->values.emplace_back(take().text);
        return node;
    }

    std::string_view text_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    int depth_ = 0;
};

bool is_blank(std::string_view text) {
    for (char c : text)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
    return true;
}

}  // namespace

Expression::Expression() = default;
Expression::Expression(std::shared_ptr<const Node> root) : root_(std::move(root)) {}

Expression parse(std::string_view text) {
    if (text.size() > kMaxTextBytes)
        fail(text, kMaxTextBytes, "filter longer than " + std::to_string(kMaxTextBytes) + " bytes");
    if (is_blank(text)) return Expression();
    Parser parser(text, Lexer(text).run());
    return Expression(std::shared_ptr<const Node>(parser.run()));
}

std::string_view field_name(FieldKind kind) {
    switch (kind) {
        case FieldKind::Id:
            return "id";
        case FieldKind::Url:
            return "url";
        case FieldKind::Description:
            return "description";
        case FieldKind::AddedAt:
            return "added_at";
        case FieldKind::UpdatedAt:
            return "updated_at";
        case FieldKind::Dynamic:
            break;
    }
    return "";
}

bool operator==(const Node& a, const Node& b) {
    if (a.kind != b.kind || a.field != b.field || a.op != b.op || a.values != b.values ||
        a.children.size() != b.children.size())
        return false;
    for (size_t i = 0; i < a.children.size(); ++i)
        if (!(*a.children[i] == *b.children[i])) return false;
    return true;
}

}  // namespace clipdex::filter
