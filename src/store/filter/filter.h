// Milvus boolean filter expressions: parse once, then evaluate in memory, translate to SQL for
// the embedded store, or render back to Milvus text for the Milvus backend.
//
// Grammar (the Milvus subset clipdex supports):
//   expr    := or
//   or      := and (("or" | "||") and)*
//   and     := not (("and" | "&&") not)*
//   not     := ("not" | "!") not | primary
//   primary := "(" expr ")" | field cmp literal | literal cmp field
//            | field ["not"] "in" "[" literal ("," literal)* "]" | field "like" string
//            | field                      (a boolean dynamic field)
//   field   := identifier | identifier "[" string "]"   (a dynamic field, also `$meta["k"]`)
//   cmp     := "==" | "!=" | "<" | "<=" | ">" | ">="
//   literal := string ('…' or "…", backslash escapes) | integer | float | true | false
// Fixed schema fields: id (integer), url, description, added_at, updated_at (strings). Any
// other identifier names a dynamic field (a key of the row's JSON `extra`).
// Also accepted: `literal cmp field cmp literal` ranges (`1 < x <= 5`), keywords in
// any case (AND, Or, NOT, In, LIKE), `+`/`-` signs, trailing commas in lists, JSON paths
// `x["k"][0]`. Not supported: arithmetic, field-to-field comparisons, functions
// (json_contains, exists, ...), hex/octal integers, keys containing `"`, `\` or control
// characters.
// Semantics (see filter_ast.h for the details): a comparison on a missing, null or
// differently typed value is false, and `not` negates that (two-valued logic, the same in
// matches() and in the SQL); `x not in [...]` is `not (x in [...])`; `like` is case-sensitive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clipdex/store.h"

namespace clipdex::filter {

struct Node;  // the parsed tree; defined in filter_ast.h for the code that walks it

class Expression {
  public:
    Expression();
    explicit Expression(std::shared_ptr<const Node> root);
    bool empty() const { return root_ == nullptr; }  // an empty filter matches every row
    const Node* root() const { return root_.get(); }

  private:
    std::shared_ptr<const Node> root_;
};

// Throws Error(InvalidInput) naming the 0-based byte position and what was expected, e.g.
// "filter `id in [1,` at position 9: expected a literal". Empty or blank text = match all.
// Limits: 64 KiB of text, nesting depth 64, 65,536 list items.
Expression parse(std::string_view text);

// True when the row satisfies the expression (missing dynamic fields compare false).
bool matches(const Expression& expr, const store::Row& row);

// Canonical Milvus text that parses back to the same tree (fully parenthesised).
std::string to_milvus(const Expression& expr);

// A WHERE clause for SQLite with `?` placeholders, over a table with INTEGER column `id`, TEXT
// columns url, description, added_at, updated_at and a TEXT column `extra` holding the dynamic
// fields as a JSON object. `like` is case-sensitive (as in Milvus) whatever SQLite's pragma.
struct SqlValue {
    enum class Kind { Integer, Real, Text } kind = Kind::Integer;
    int64_t integer = 0;
    double real = 0;
    std::string text;
};
struct SqlWhere {
    std::string sql;  // "1" for an empty expression
    std::vector<SqlValue> params;
};
SqlWhere to_sql(const Expression& expr);

}  // namespace clipdex::filter
