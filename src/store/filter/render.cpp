// Tree -> canonical Milvus text, and tree -> SQLite WHERE clause.
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clipdex/error.h"
#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"

namespace clipdex::filter {
namespace {

// Appends pieces to a string. GCC 12 reports false -Wrestrict errors on chains of
// `"literal" + std::string` at -O3 (GCC bug 105329), so concatenation goes through here.
template <typename... Parts>
void append(std::string& out, const Parts&... parts) {
    (out.append(std::string_view(parts)), ...);
}

template <typename... Parts>
std::string concat(const Parts&... parts) {
    std::string out;
    append(out, parts...);
    return out;
}

std::string_view op_text(CompareOp op) {
    switch (op) {
        case CompareOp::Eq:
            return "==";
        case CompareOp::Ne:
            return "!=";
        case CompareOp::Lt:
            return "<";
        case CompareOp::Le:
            return "<=";
        case CompareOp::Gt:
            return ">";
        case CompareOp::Ge:
            return ">=";
    }
    return "==";
}

// ---- Milvus text -------------------------------------------------------------------------

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20 || u == 0x7f) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\u00";
                    out += hex[u >> 4];
                    out += hex[u & 15];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

// Shortest text that reads back as the same double, always with a `.` or exponent so that it
// reads back as a float and not an integer.
std::string format_real(double value) {
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    std::string out(buf.data(), ec == std::errc() ? end : buf.data());
    if (out.find_first_of(".eE") == std::string::npos) out += ".0";
    return out;
}

std::string literal_text(const Literal& value) {
    switch (value.index()) {
        case 0:
            return std::get<bool>(value) ? "true" : "false";
        case 1:
            return std::to_string(std::get<int64_t>(value));
        case 2:
            return format_real(std::get<double>(value));
        default:
            return quote(std::get<std::string>(value));
    }
}

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

// Keys that could read as something else in Milvus (our keywords, Milvus's function names and
// reserved words, the fixed fields) are written as `$meta["key"]`.
bool plain_identifier(std::string_view key) {
    static constexpr std::array<std::string_view, 20> reserved = {"and",
                                                                  "or",
                                                                  "not",
                                                                  "in",
                                                                  "like",
                                                                  "true",
                                                                  "false",
                                                                  "exists",
                                                                  "is",
                                                                  "null",
                                                                  "json_contains",
                                                                  "json_contains_all",
                                                                  "json_contains_any",
                                                                  "array_contains",
                                                                  "array_contains_all",
                                                                  "array_contains_any",
                                                                  "array_length",
                                                                  "text_match",
                                                                  "phrase_match",
                                                                  "random_sample"};
    static constexpr std::array<std::string_view, 5> fixed = {"id", "url", "description",
                                                              "added_at", "updated_at"};
    if (key.empty()) return false;
    bool first_ok =
        (key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z') || key[0] == '_';
    if (!first_ok) return false;
    for (char c : key) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    for (std::string_view word : reserved)
        if (ieq(key, word)) return false;
    for (std::string_view name : fixed)
        if (key == name) return false;  // field names are case-sensitive, keywords are not
    return true;
}

std::string field_text(const Field& field) {
    if (field.kind != FieldKind::Dynamic) return std::string(field_name(field.kind));
    const std::string& head = std::get<std::string>(field.path.front());
    std::string out = plain_identifier(head) ? head : concat("$meta[", quote(head), "]");
    for (size_t i = 1; i < field.path.size(); ++i) {
        const PathStep& step = field.path[i];
        if (const auto* key = std::get_if<std::string>(&step))
            append(out, "[", quote(*key), "]");
        else
            append(out, "[", std::to_string(std::get<int64_t>(step)), "]");
    }
    return out;
}

void milvus(const Node& node, bool top, std::string& out) {
    switch (node.kind) {
        case NodeKind::And:
        case NodeKind::Or: {
            if (!top) out += '(';
            for (size_t i = 0; i < node.children.size(); ++i) {
                if (i > 0) out += node.kind == NodeKind::And ? " and " : " or ";
                milvus(*node.children[i], false, out);
            }
            if (!top) out += ')';
            return;
        }
        case NodeKind::Not: {
            // Milvus binds `not` tighter than comparisons, so its operand is always bracketed.
            out += "not (";
            milvus(*node.children.front(), true, out);
            out += ')';
            return;
        }
        case NodeKind::Compare:
            append(out, field_text(node.field), " ", op_text(node.op), " ",
                   literal_text(node.values.front()));
            return;
        case NodeKind::In:
        case NodeKind::NotIn: {
            out += field_text(node.field) + (node.kind == NodeKind::In ? " in [" : " not in [");
            for (size_t i = 0; i < node.values.size(); ++i) {
                if (i > 0) out += ", ";
                out += literal_text(node.values[i]);
            }
            out += ']';
            return;
        }
        case NodeKind::Like:
            append(out, field_text(node.field), " like ", literal_text(node.values.front()));
            return;
        case NodeKind::IsTrue:
            out += field_text(node.field);
            return;
    }
}

// ---- SQL ---------------------------------------------------------------------------------

class SqlWriter {
  public:
    SqlWhere run(const Node& root) {
        node(root);
        return std::move(where_);
    }

  private:
    std::string& sql() { return where_.sql; }

    void param(const Literal& value) {
        SqlValue v;
        switch (value.index()) {
            case 0:
                v.kind = SqlValue::Kind::Integer;
                v.integer = std::get<bool>(value) ? 1 : 0;
                break;
            case 1:
                v.kind = SqlValue::Kind::Integer;
                v.integer = std::get<int64_t>(value);
                break;
            case 2:
                v.kind = SqlValue::Kind::Real;
                v.real = std::get<double>(value);
                break;
            default:
                v.kind = SqlValue::Kind::Text;
                v.text = std::get<std::string>(value);
        }
        where_.params.push_back(std::move(v));
        sql() += '?';
    }

    void text_param(std::string text) {
        SqlValue v;
        v.kind = SqlValue::Kind::Text;
        v.text = std::move(text);
        where_.params.push_back(std::move(v));
        sql() += '?';
    }

    // A JSON path for SQLite (`$."key"[3]`) inside an SQL string literal. Keys hold no `"`,
    // `\` or control characters (the parser refuses them), so each label is exact; a `'` is
    // doubled, as SQL quoting requires.
    static std::string path_literal(const Field& field) {
        std::string path = "$";
        for (const PathStep& step : field.path) {
            if (const auto* key = std::get_if<std::string>(&step))
                append(path, ".\"", *key, "\"");
            else
                append(path, "[", std::to_string(std::get<int64_t>(step)), "]");
        }
        std::string out = "'";
        for (char c : path) {
            if (c == '\'') out += '\'';
            out += c;
        }
        out += '\'';
        return out;
    }

    std::string value_sql(const Field& field) const {
        if (field.kind != FieldKind::Dynamic) return std::string(field_name(field.kind));
        return concat("json_extract(extra, ", path_literal(field), ")");
    }

    static std::string type_sql(const Field& field) {
        return concat("json_type(extra, ", path_literal(field), ")");
    }

    // The condition that the value has the literal's type: always true for a fixed field,
    // whose type the parser has already checked.
    static std::string guard(const Field& field, const Literal& value) {
        if (field.kind != FieldKind::Dynamic) return "";
        switch (value.index()) {
            case 0:
                return concat(type_sql(field), " IN ('true', 'false') AND ");
            case 1:
            case 2:
                return concat(type_sql(field), " IN ('integer', 'real') AND ");
            default:
                return concat(type_sql(field), " = 'text' AND ");
        }
    }

    // Every leaf is IFNULL(..., 0): a missing value gives 0, never NULL, so that NOT, AND and OR
    // follow two-valued logic exactly like matches().
    void compare(const Node& n) {
        const Literal& value = n.values.front();
        sql() += "IFNULL(";
        if (value.index() == 0 && n.field.kind == FieldKind::Dynamic) {
            bool want = std::get<bool>(value) == (n.op == CompareOp::Eq);
            append(sql(), type_sql(n.field), want ? " = 'true'" : " = 'false'");
        } else {
            append(sql(), guard(n.field, value), value_sql(n.field), " ", op_text(n.op), " ");
            param(value);
        }
        sql() += ", 0)";
    }

    // Lists go as one JSON array parameter per value type, read back with json_each: one
    // parameter whatever the length (SQLite caps the number of parameters).
    void list(const Node& n) {
        nlohmann::json numbers = nlohmann::json::array();
        nlohmann::json strings = nlohmann::json::array();
        bool has_true = false, has_false = false;
        for (const Literal& item : n.values) {
            switch (item.index()) {
                case 0:
                    (std::get<bool>(item) ? has_true : has_false) = true;
                    break;
                case 1:
                    numbers.push_back(std::get<int64_t>(item));
                    break;
                case 2:
                    numbers.push_back(std::get<double>(item));
                    break;
                default:
                    strings.push_back(std::get<std::string>(item));
            }
        }
        if (n.kind == NodeKind::NotIn) sql() += "NOT ";
        sql() += "IFNULL(";
        bool first = true;
        auto separator = [&] {
            if (!first) sql() += " OR ";
            first = false;
        };
        if (!numbers.empty()) {
            separator();
            append(sql(), "(", guard(n.field, Literal(int64_t{0})), value_sql(n.field),
                   " IN (SELECT value FROM json_each(");
            text_param(numbers.dump());
            sql() += ")))";
        }
        if (!strings.empty()) {
            separator();
            append(sql(), "(", guard(n.field, Literal(std::string())), value_sql(n.field),
                   " IN (SELECT value FROM json_each(");
            text_param(strings.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            sql() += ")))";
        }
        if (has_true || has_false) {
            separator();
            std::string types = has_true && has_false ? "('true', 'false')"
                                : has_true            ? "('true')"
                                                      : "('false')";
            append(sql(), "(", type_sql(n.field), " IN ", types, ")");
        }
        if (first) sql() += "0";
        sql() += ", 0)";
    }

    void like(const Node& n) {
        append(sql(), "IFNULL(", guard(n.field, Literal(std::string())), value_sql(n.field),
               " GLOB ");
        text_param(like_to_glob(std::get<std::string>(n.values.front())));
        sql() += ", 0)";
    }

    // Long chains are split in halves, so SQLite's expression depth grows with log(n) and stays
    // far below its limit of 1000.
    void chain(const Node& n, size_t begin, size_t end) {
        if (end - begin == 1) {
            node(*n.children[begin]);
            return;
        }
        size_t mid = begin + (end - begin) / 2;
        sql() += '(';
        chain(n, begin, mid);
        sql() += n.kind == NodeKind::And ? " AND " : " OR ";
        chain(n, mid, end);
        sql() += ')';
    }

    void node(const Node& n) {
        switch (n.kind) {
            case NodeKind::And:
            case NodeKind::Or:
                chain(n, 0, n.children.size());
                return;
            case NodeKind::Not:
                sql() += "NOT (";
                node(*n.children.front());
                sql() += ')';
                return;
            case NodeKind::Compare:
                compare(n);
                return;
            case NodeKind::In:
            case NodeKind::NotIn:
                list(n);
                return;
            case NodeKind::Like:
                like(n);
                return;
            case NodeKind::IsTrue:
                append(sql(), "IFNULL(", type_sql(n.field), " = 'true', 0)");
                return;
        }
    }

    SqlWhere where_;
};

}  // namespace

std::string to_milvus(const Expression& expr) {
    if (expr.empty()) return "";
    std::string out;
    milvus(*expr.root(), true, out);
    return out;
}

SqlWhere to_sql(const Expression& expr) {
    if (expr.empty()) return SqlWhere{"1", {}};
    return SqlWriter().run(*expr.root());
}

}  // namespace clipdex::filter
