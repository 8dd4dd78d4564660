// In-memory evaluation. The rules are those of filter_ast.h; to_sql() produces SQL with the same
// answers, which the metamorphic test checks row by row.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"

namespace clipdex::filter {
namespace {

// A row value reduced to what comparisons can see.
struct Value {
    enum class Type { None, Bool, Int, Real, Text } type = Type::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0;
    std::string_view text;
};

Value from_json(const nlohmann::json& j) {
    Value v;
    switch (j.type()) {
        case nlohmann::json::value_t::boolean:
            v.type = Value::Type::Bool;
            v.boolean = j.get<bool>();
            break;
        case nlohmann::json::value_t::number_integer:
            v.type = Value::Type::Int;
            v.integer = j.get<int64_t>();
            break;
        case nlohmann::json::value_t::number_unsigned: {
            // SQLite reads integers beyond int64 as REAL; do the same.
            auto u = j.get<uint64_t>();
            if (u <= static_cast<uint64_t>(INT64_MAX)) {
                v.type = Value::Type::Int;
                v.integer = static_cast<int64_t>(u);
            } else {
                v.type = Value::Type::Real;
                v.real = static_cast<double>(u);
            }
            break;
        }
        case nlohmann::json::value_t::number_float:
            v.type = Value::Type::Real;
            v.real = j.get<double>();
            break;
        case nlohmann::json::value_t::string:
            v.type = Value::Type::Text;
            v.text = j.get_ref<const std::string&>();
            break;
        default:
            break;
    }
    return v;
}

const nlohmann::json* walk(const nlohmann::json& root, const std::vector<PathStep>& path) {
    const nlohmann::json* at = &root;
    for (const PathStep& step : path) {
        if (const auto* key = std::get_if<std::string>(&step)) {
            if (!at->is_object()) return nullptr;
            auto it = at->find(*key);
            if (it == at->end()) return nullptr;
            at = &*it;
        } else {
            auto index = std::get<int64_t>(step);
            if (!at->is_array() || index < 0 || static_cast<uint64_t>(index) >= at->size())
                return nullptr;
            at = &(*at)[static_cast<size_t>(index)];
        }
    }
    return at;
}

Value field_value(const Field& field, const store::Row& row) {
    Value v;
    switch (field.kind) {
        case FieldKind::Id:
            v.type = Value::Type::Int;
            v.integer = row.id;
            return v;
        case FieldKind::Url:
            v.text = row.url;
            break;
        case FieldKind::Description:
            v.text = row.description;
            break;
        case FieldKind::AddedAt:
            v.text = row.added_at;
            break;
        case FieldKind::UpdatedAt:
            v.text = row.updated_at;
            break;
        case FieldKind::Dynamic: {
            const nlohmann::json* j = walk(row.extra, field.path);
            return j ? from_json(*j) : v;
        }
    }
    v.type = Value::Type::Text;
    return v;
}

int sign(auto a, auto b) {
    return a < b ? -1 : (a > b ? 1 : 0);
}

// Exact three-way comparison of an int64 with a double (no rounding of the integer), as SQLite
// does it.
int compare_int_real(int64_t i, double r) {
    constexpr double two63 = 9223372036854775808.0;
    if (r >= two63) return -1;
    if (r < -two63) return 1;
    double whole = std::trunc(r);
    auto w = static_cast<int64_t>(whole);
    if (i != w) return sign(i, w);
    return sign(0.0, r - whole);
}

int compare_numbers(const Value& v, const Literal& lit) {
    bool lit_int = std::holds_alternative<int64_t>(lit);
    if (v.type == Value::Type::Int) {
        return lit_int ? sign(v.integer, std::get<int64_t>(lit))
                       : compare_int_real(v.integer, std::get<double>(lit));
    }
    return lit_int ? -compare_int_real(std::get<int64_t>(lit), v.real)
                   : sign(v.real, std::get<double>(lit));
}

bool apply(CompareOp op, int order) {
    switch (op) {
        case CompareOp::Eq:
            return order == 0;
        case CompareOp::Ne:
            return order != 0;
        case CompareOp::Lt:
            return order < 0;
        case CompareOp::Le:
            return order <= 0;
        case CompareOp::Gt:
            return order > 0;
        case CompareOp::Ge:
            return order >= 0;
    }
    return false;
}

bool compare(const Value& v, CompareOp op, const Literal& lit) {
    switch (lit.index()) {
        case 0:
            if (v.type != Value::Type::Bool) return false;
            return apply(op, v.boolean == std::get<bool>(lit) ? 0 : 1);
        case 1:
        case 2:
            if (v.type != Value::Type::Int && v.type != Value::Type::Real) return false;
            return apply(op, compare_numbers(v, lit));
        default:
            if (v.type != Value::Type::Text) return false;
            return apply(op, v.text.compare(std::get<std::string>(lit)));
    }
}

bool contains(const Value& v, const std::vector<Literal>& list) {
    for (const Literal& item : list)
        if (compare(v, CompareOp::Eq, item)) return true;
    return false;
}

bool eval(const Node& node, const store::Row& row) {
    switch (node.kind) {
        case NodeKind::And:
            for (const auto& child : node.children)
                if (!eval(*child, row)) return false;
            return true;
        case NodeKind::Or:
            for (const auto& child : node.children)
                if (eval(*child, row)) return true;
            return false;
        case NodeKind::Not:
            return !eval(*node.children.front(), row);
        case NodeKind::Compare:
            return compare(field_value(node.field, row), node.op, node.values.front());
        case NodeKind::In:
            return contains(field_value(node.field, row), node.values);
        case NodeKind::NotIn:
            return !contains(field_value(node.field, row), node.values);
        case NodeKind::Like: {
            Value v = field_value(node.field, row);
            return v.type == Value::Type::Text &&
                   like_matches(v.text, std::get<std::string>(node.values.front()));
        }
        case NodeKind::IsTrue: {
            Value v = field_value(node.field, row);
            return v.type == Value::Type::Bool && v.boolean;
        }
    }
    return false;
}

// Bytes in the UTF-8 character starting at s[i] (1 for a stray byte, as SQLite reads it).
size_t char_length(std::string_view s, size_t i) {
    size_t n = 1;
    if (static_cast<unsigned char>(s[i]) >= 0xc0)
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xc0) == 0x80) ++n;
    return n;
}

struct PatternItem {
    enum class Kind { Any, One, Byte } kind;
    char byte = 0;
};

std::vector<PatternItem> compile(std::string_view pattern) {
    std::vector<PatternItem> items;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            items.push_back({PatternItem::Kind::Byte, pattern[++i]});
        } else if (c == '%') {
            if (items.empty() || items.back().kind != PatternItem::Kind::Any)
                items.push_back({PatternItem::Kind::Any});
        } else if (c == '_') {
            items.push_back({PatternItem::Kind::One});
        } else {
            items.push_back({PatternItem::Kind::Byte, c});
        }
    }
    return items;
}

}  // namespace

bool matches(const Expression& expr, const store::Row& row) {
    return expr.empty() || eval(*expr.root(), row);
}

// Linear-time wildcard matching: on a mismatch, retry from the last `%` one character further.
// `%` and `_` advance by whole UTF-8 characters, so a match never starts inside one.
bool like_matches(std::string_view text, std::string_view pattern) {
    std::vector<PatternItem> items = compile(pattern);
    size_t t = 0, p = 0, star = SIZE_MAX, mark = 0;
    while (t < text.size()) {
        if (p < items.size() && items[p].kind == PatternItem::Kind::One) {
            t += char_length(text, t);
            ++p;
        } else if (p < items.size() && items[p].kind == PatternItem::Kind::Byte &&
                   items[p].byte == text[t]) {
            ++t;
            ++p;
        } else if (p < items.size() && items[p].kind == PatternItem::Kind::Any) {
            star = p++;
            mark = t;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            mark += char_length(text, mark);
            t = mark;
        } else {
            return false;
        }
    }
    while (p < items.size() && items[p].kind == PatternItem::Kind::Any) ++p;
    return p == items.size();
}

std::string like_to_glob(std::string_view pattern) {
    std::string glob;
    auto literal = [&](char c) {
        if (c == '*' || c == '?' || c == '[') {
            glob += '[';
            glob += c;
            glob += ']';
        } else {
            glob += c;
        }
    };
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size())
            literal(pattern[++i]);
        else if (c == '%')
            glob += '*';
        else if (c == '_')
            glob += '?';
        else
            literal(c);
    }
    return glob;
}

}  // namespace clipdex::filter
