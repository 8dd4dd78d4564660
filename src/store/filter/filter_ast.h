// The parsed form of a filter expression (see filter.h for the grammar), for the code that
// walks it: the evaluator, the SQL and Milvus renderers, and tests.
//
// The tree is canonical: `5 < x` is stored as `x > 5`, `$meta["k"]` and `k` are the same field,
// chains of one operator (`a and b and c`) are one node with n children, and parentheses leave
// no trace. Two trees are equal (operator==) when they mean the same thing textually.
//
// Semantics shared by matches() and to_sql() (the metamorphic test holds them together):
//   - A comparison (==, !=, <, <=, >, >=, like, in) is false when the value is missing, JSON null,
//     an object or array, or of another type than the literal (a number compares with numbers
//     only, int and float numerically and exactly; a string with strings, byte-wise; a boolean
//     with booleans, == and != only). So `x != 1` is false on a row without x.
//   - `not` negates that boolean (two-valued logic, no SQL NULL): `not (x == 1)` is true on a row
//     without x. `x not in [...]` is `not (x in [...])`, so it is also true on such a row.
//   - A bare field (`flag`) is true when the value is the JSON boolean true.
//   - `like`: `%` matches any run of characters, `_` exactly one UTF-8 character, `\` makes the
//     next character literal (`\%`, `\_`, `\\`); case-sensitive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace clipdex::filter {

enum class NodeKind { And, Or, Not, Compare, In, NotIn, Like, IsTrue };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };
enum class FieldKind { Id, Url, Description, AddedAt, UpdatedAt, Dynamic };

// One step of a JSON path: an object key or an array index.
using PathStep = std::variant<std::string, int64_t>;

struct Field {
    FieldKind kind = FieldKind::Dynamic;
    // Dynamic fields only: path[0] is the key in the row's `extra` object (always a string),
    // further steps walk into nested objects and arrays.
    std::vector<PathStep> path;

    bool operator==(const Field&) const = default;
};

using Literal = std::variant<bool, int64_t, double, std::string>;

struct Node {
    NodeKind kind = NodeKind::IsTrue;
    std::vector<std::unique_ptr<const Node>> children;  // And/Or: two or more; Not: one
    Field field;                                        // leaves
    CompareOp op = CompareOp::Eq;                       // Compare
    std::vector<Literal> values;  // Compare: one; In/NotIn: the list; Like: the pattern string
};

bool operator==(const Node& a, const Node& b);

// True for fixed schema fields holding strings (url, description, timestamps).
inline bool is_string_field(FieldKind kind) {
    return kind != FieldKind::Id && kind != FieldKind::Dynamic;
}

// The schema name of a fixed field ("id", "url", ...); "" for Dynamic.
std::string_view field_name(FieldKind kind);

// Milvus `like` matching as described above; `pattern` must be valid (no lone trailing `\`).
bool like_matches(std::string_view text, std::string_view pattern);

// The same pattern as an SQLite GLOB pattern (case-sensitive, `_` is one UTF-8 character).
std::string like_to_glob(std::string_view pattern);

}  // namespace clipdex::filter
