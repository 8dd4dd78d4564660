// Filter parser fuzz target: any bytes either fail with clipdex::Error or parse; a parsed
// filter must render to canonical Milvus text that parses back to the same tree and the same
// text, must translate to SQL, and must evaluate on a row without throwing.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "clipdex/error.h"
#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace clipdex::filter;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    Expression expr;
    try {
        expr = parse(text);
    } catch (const clipdex::Error&) {
        return 0;
    }
    std::string canonical = to_milvus(expr);
    Expression again = parse(canonical);  // must not throw
    if (expr.empty() != again.empty()) std::abort();
    if (!expr.empty() && !(*expr.root() == *again.root())) std::abort();
    if (to_milvus(again) != canonical) std::abort();
    SqlWhere where = to_sql(expr);
    if (where.sql.empty()) std::abort();
    clipdex::store::Row row;
    row.id = 7;
    row.url = "https://example.com/a%b_c.jpg";
    row.extra = {{"n", 3}, {"f", 2.5}, {"s", "x"}, {"b", true}, {"o", {{"k", 1}}}, {"a", {1, "2"}}};
    (void)matches(expr, row);
    return 0;
}
