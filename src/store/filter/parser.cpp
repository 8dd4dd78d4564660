// Filter text -> tree. The lexer (lexer.h) turns the whole text into tokens first (the text is
// at most 64 KiB), then a recursive-descent parser with an explicit depth budget builds the tree,
// so hostile nesting ends in an error instead of a stack overflow.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clipdex/error.h"
#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"
#include "store/filter/lexer.h"

namespace clipdex::filter {
namespace {

constexpr size_t kMaxTextBytes = 64 * 1024;
constexpr int kMaxDepth = 64;
constexpr size_t kMaxListItems = 65536;
constexpr size_t kMaxPathSteps = 32;
constexpr size_t kMaxLikePatternBytes = 16000;  // SQLite refuses GLOB patterns over 50,000 bytes

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
    Parser parser(text, tokenize(text));
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
