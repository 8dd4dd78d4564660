// Metamorphic check: for many random filters over a few hundred random rows, the rows SQLite
// selects with to_sql() are exactly the rows for which matches() is true, and the canonical
// Milvus text selects the same rows again.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"

namespace clipdex::filter {
namespace {

struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtCloser {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtCloser>;

Db open_db() {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(":memory:", &raw), SQLITE_OK);
    Db db(raw);
    EXPECT_EQ(
        sqlite3_exec(
            db.get(),
            "CREATE TABLE t (id INTEGER PRIMARY KEY, url TEXT NOT NULL, description TEXT "
            "NOT NULL, added_at TEXT NOT NULL, updated_at TEXT NOT NULL, extra TEXT NOT NULL)",
            nullptr, nullptr, nullptr),
        SQLITE_OK);
    return db;
}

Stmt prepare(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db) << "\n" << sql;
    return Stmt(raw);
}

void insert(sqlite3* db, const store::Row& row) {
    Stmt stmt = prepare(db, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)");
    std::string extra = row.extra.dump();
    sqlite3_bind_int64(stmt.get(), 1, row.id);
    sqlite3_bind_text(stmt.get(), 2, row.url.data(), static_cast<int>(row.url.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 3, row.description.data(),
                      static_cast<int>(row.description.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 4, row.added_at.data(), static_cast<int>(row.added_at.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 5, row.updated_at.data(), static_cast<int>(row.updated_at.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 6, extra.data(), static_cast<int>(extra.size()),
                      SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt.get()), SQLITE_DONE) << sqlite3_errmsg(db);
}

std::set<int64_t> select_ids(sqlite3* db, const Expression& expr) {
    SqlWhere where = to_sql(expr);
    Stmt stmt = prepare(db, "SELECT id FROM t WHERE " + where.sql);
    std::set<int64_t> ids;
    if (!stmt) return ids;
    for (size_t i = 0; i < where.params.size(); ++i) {
        const SqlValue& p = where.params[i];
        int index = static_cast<int>(i + 1);
        switch (p.kind) {
            case SqlValue::Kind::Integer:
                sqlite3_bind_int64(stmt.get(), index, p.integer);
                break;
            case SqlValue::Kind::Real:
                sqlite3_bind_double(stmt.get(), index, p.real);
                break;
            case SqlValue::Kind::Text:
                sqlite3_bind_text(stmt.get(), index, p.text.data(), static_cast<int>(p.text.size()),
                                  SQLITE_TRANSIENT);
                break;
        }
    }
    int rc = 0;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW)
        ids.insert(sqlite3_column_int64(stmt.get(), 0));
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db) << "\n" << where.sql;
    return ids;
}

std::set<int64_t> match_ids(const std::vector<store::Row>& rows, const Expression& expr) {
    std::set<int64_t> ids;
    for (const store::Row& row : rows)
        if (matches(expr, row)) ids.insert(row.id);
    return ids;
}

// Pieces that stress LIKE/GLOB translation, byte order and UTF-8.
const std::vector<std::string> kPieces = {"a",
                                          "b",
                                          "A",
                                          "cat",
                                          "Cat",
                                          "%",
                                          "_",
                                          "*",
                                          "?",
                                          "[",
                                          "]",
                                          "\\",
                                          "'",
                                          "\"",
                                          "\xC3\xA9",
                                          "\xE7\x8C\xAB",
                                          "\xF0\x9F\x98\x80",
                                          "/",
                                          ".",
                                          " ",
                                          "x"};

class Random {
  public:
    explicit Random(uint64_t seed) : gen_(seed) {}
    int range(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
    bool chance(int percent) { return range(0, 99) < percent; }
    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return items[static_cast<size_t>(range(0, static_cast<int>(items.size()) - 1))];
    }

    std::string text(int max_pieces) {
        std::string out;
        int n = range(0, max_pieces);
        for (int i = 0; i < n; ++i) out += pick(kPieces);
        return out;
    }

    nlohmann::json number() {
        switch (range(0, 5)) {
            case 0:
                return range(-5, 5);
            case 1:
                return range(-20, 20) / 4.0;
            case 2:
                return int64_t{9007199254740993};
            case 3:
                return 9007199254740992.0;
            case 4:
                return std::numeric_limits<int64_t>::max();
            default:
                return static_cast<double>(range(-5, 5));
        }
    }

    nlohmann::json any_value() {
        switch (range(0, 6)) {
            case 0:
            case 1:
                return number();
            case 2:
            case 3:
                return text(3);
            case 4:
                return chance(50);
            case 5:
                return nullptr;
            default:
                return nlohmann::json::array({range(0, 2)});
        }
    }

  private:
    std::mt19937_64 gen_;
};

std::vector<store::Row> make_rows(Random& rnd, int count) {
    std::vector<store::Row> rows;
    std::set<int64_t> used;
    const std::vector<int64_t> special = {std::numeric_limits<int64_t>::max(),
                                          std::numeric_limits<int64_t>::min(), 9007199254740993,
                                          9007199254740992, -9007199254740993};
    for (int64_t id : special) used.insert(id);
    for (int64_t id : special) {
        store::Row row;
        row.id = id;
        rows.push_back(row);
    }
    while (static_cast<int>(rows.size()) < count) {
        int64_t id = rnd.range(-300, 300);
        if (!used.insert(id).second) continue;
        store::Row row;
        row.id = id;
        rows.push_back(row);
    }
    for (store::Row& row : rows) {
        row.url = "http://h/" + rnd.text(4);
        row.description = rnd.text(3);
        row.added_at = "2025-01-0" + std::to_string(rnd.range(1, 9));
        row.updated_at = rnd.chance(20) ? "" : "2026-0" + std::to_string(rnd.range(1, 9));
        nlohmann::json extra = nlohmann::json::object();
        if (rnd.chance(80))
            extra["n"] = rnd.chance(80) ? nlohmann::json(rnd.range(-5, 5)) : rnd.any_value();
        if (rnd.chance(80)) extra["f"] = rnd.chance(80) ? rnd.number() : rnd.any_value();
        if (rnd.chance(80))
            extra["s"] = rnd.chance(80) ? nlohmann::json(rnd.text(3)) : rnd.any_value();
        if (rnd.chance(80))
            extra["b"] = rnd.chance(80) ? nlohmann::json(rnd.chance(50)) : rnd.any_value();
        if (rnd.chance(70)) extra["m"] = rnd.any_value();
        if (rnd.chance(50)) extra["o"] = {{"k", rnd.any_value()}, {"it's", rnd.any_value()}};
        if (rnd.chance(50)) extra["arr"] = {rnd.any_value(), rnd.any_value()};
        if (rnd.chance(50)) extra["a b"] = rnd.any_value();
        if (rnd.chance(50)) extra["\xE7\x8C\xAB"] = rnd.any_value();
        if (rnd.chance(30)) extra["id"] = rnd.any_value();
        row.extra = std::move(extra);
    }
    return rows;
}

std::string quote_literal(const std::string& s, bool single) {
    std::string out(1, single ? '\'' : '"');
    for (char c : s) {
        if (c == '\\' || c == (single ? '\'' : '"')) out += '\\';
        out += c;
    }
    out += single ? '\'' : '"';
    return out;
}

class ExprGen {
  public:
    explicit ExprGen(Random& rnd) : rnd_(rnd) {}

    std::string expr(int depth) {
        if (depth <= 0 || rnd_.chance(35)) return leaf();
        switch (rnd_.range(0, 3)) {
            case 0:
                return expr(depth - 1) + pick_word({" and ", " AND ", " && "}) + expr(depth - 1);
            case 1:
                return expr(depth - 1) + pick_word({" or ", " OR ", " || "}) + expr(depth - 1);
            case 2:
                return pick_word({"not ", "NOT ", "!"}) + "(" + expr(depth - 1) + ")";
            default:
                return "(" + expr(depth - 1) + ")";
        }
    }

  private:
    std::string pick_word(const std::vector<std::string>& words) { return rnd_.pick(words); }

    std::string string_literal() { return quote_literal(rnd_.text(3), rnd_.chance(50)); }

    std::string number_literal() {
        switch (rnd_.range(0, 6)) {
            case 0:
                return std::to_string(rnd_.range(-6, 6));
            case 1:
                return std::to_string(rnd_.range(-24, 24) / 4.0);
            case 2:
                return "9007199254740993";
            case 3:
                return "9007199254740992.0";
            case 4:
                return "-9223372036854775808";
            case 5:
                return "9223372036854775807";
            default:
                return std::to_string(rnd_.range(-300, 300));
        }
    }

    std::string any_literal() {
        switch (rnd_.range(0, 3)) {
            case 0:
                return number_literal();
            case 1:
                return string_literal();
            case 2:
                return rnd_.chance(50) ? "true" : "False";
            default:
                return std::to_string(rnd_.range(-5, 5)) + ".5";
        }
    }

    std::string pattern() {
        std::string p;
        int n = rnd_.range(0, 4);
        for (int i = 0; i < n; ++i) {
            int k = rnd_.range(0, 9);
            if (k < 3)
                p += "%";
            else if (k < 4)
                p += "_";
            else if (k < 5)
                p += rnd_.pick(std::vector<std::string>{"\\%", "\\_", "\\\\"});
            else
                p += rnd_.pick(kPieces) == "\\" ? "\\\\" : rnd_.pick(kPieces);
        }
        // A pattern must not end in a lone backslash.
        size_t trailing = 0;
        for (size_t k = p.size(); k > 0 && p[k - 1] == '\\'; --k) ++trailing;
        if (trailing % 2 == 1) p += "\\";
        return p;
    }

    std::string leaf() {
        struct FieldChoice {
            std::string text;
            int type;  // 0 integer, 1 string, 2 dynamic
        };
        static const std::vector<FieldChoice> fields = {{"id", 0},
                                                        {"url", 1},
                                                        {"description", 1},
                                                        {"added_at", 1},
                                                        {"updated_at", 1},
                                                        {"n", 2},
                                                        {"f", 2},
                                                        {"s", 2},
                                                        {"b", 2},
                                                        {"m", 2},
                                                        {"o[\"k\"]", 2},
                                                        {"$meta['o'][\"it's\"]", 2},
                                                        {"arr[0]", 2},
                                                        {"arr[1]", 2},
                                                        {"$meta[\"a b\"]", 2},
                                                        {"$meta[\"\xE7\x8C\xAB\"]", 2},
                                                        {"$meta['id']", 2},
                                                        {"missing", 2},
                                                        {"n[\"x\"]", 2}};
        const FieldChoice& f = rnd_.pick(fields);
        auto literal = [&] {
            if (f.type == 0) return number_literal();
            if (f.type == 1) return string_literal();
            return any_literal();
        };
        int kind = rnd_.range(0, 9);
        if (kind <= 4) {
            std::string lit = literal();
            bool boolean = lit == "true" || lit == "False";
            std::string op =
                boolean ? pick_word({"==", "!="}) : pick_word({"==", "!=", "<", "<=", ">", ">="});
            if (rnd_.chance(20)) return lit + " " + op + " " + f.text;
            return f.text + " " + op + " " + lit;
        }
        if (kind <= 6) {
            std::string list = "[";
            int n = rnd_.range(0, 4);
            for (int i = 0; i < n; ++i) list += (i ? ", " : "") + literal();
            return f.text + (rnd_.chance(50) ? " in " : " not in ") + list + "]";
        }
        if (kind <= 8 && f.type != 0)
            return f.text + pick_word({" like ", " LIKE "}) + quote_literal(pattern(), false);
        if (f.type == 2) return f.text;
        return f.text + " >= " + literal();
    }

    Random& rnd_;
};

TEST(FilterMetamorphic, SqlSelectsTheRowsThatMatch) {
    Random rnd(20261123);
    Db db = open_db();
    std::vector<store::Row> rows = make_rows(rnd, 400);
    for (const store::Row& row : rows) insert(db.get(), row);

    ExprGen gen(rnd);
    int nonempty = 0, partial = 0;
    for (int i = 0; i < 4000; ++i) {
        std::string text = gen.expr(rnd.range(0, 5));
        SCOPED_TRACE(text);
        Expression expr;
        try {
            expr = parse(text);
        } catch (const Error& e) {
            ADD_FAILURE() << "generated filter does not parse: " << e.what();
            continue;
        }
        std::set<int64_t> by_sql = select_ids(db.get(), expr);
        std::set<int64_t> in_memory = match_ids(rows, expr);
        ASSERT_EQ(by_sql, in_memory) << "sql: " << to_sql(expr).sql;
        Expression again = parse(to_milvus(expr));
        ASSERT_EQ(match_ids(rows, again), in_memory) << to_milvus(expr);
        nonempty += !in_memory.empty();
        partial += !in_memory.empty() && in_memory.size() < rows.size();
    }
    // The generator must produce selective filters, or the comparison proves little.
    EXPECT_GT(partial, 1500);
    EXPECT_GT(nonempty, 2000);
}

TEST(FilterMetamorphic, LikeIsCaseSensitiveInSql) {
    Db db = open_db();
    std::vector<store::Row> rows(3);
    rows[0].id = 1;
    rows[0].url = "http://h/Cat.jpg";
    rows[1].id = 2;
    rows[1].url = "http://h/cat.jpg";
    rows[2].id = 3;
    rows[2].url = "http://h/CAT*.jpg";
    rows[2].extra = {{"s", "CAT"},
                     {"u",
                      "\xE7\x8C\xAB"
                      "xa"}};
    rows[1].extra = {{"u",
                      "\xE7\x8C\xAB"
                      "yxa"}};
    for (const store::Row& row : rows) insert(db.get(), row);
    for (const char* pragma :
         {"PRAGMA case_sensitive_like = OFF", "PRAGMA case_sensitive_like = ON"}) {
        ASSERT_EQ(sqlite3_exec(db.get(), pragma, nullptr, nullptr, nullptr), SQLITE_OK);
        EXPECT_EQ(select_ids(db.get(), parse("url like '%cat%'")), (std::set<int64_t>{2}));
        EXPECT_EQ(select_ids(db.get(), parse("url like '%Cat%'")), (std::set<int64_t>{1}));
        EXPECT_EQ(select_ids(db.get(), parse("url like '%*%'")), (std::set<int64_t>{3}));
        EXPECT_EQ(select_ids(db.get(), parse("url like '%T_.jpg'")), (std::set<int64_t>{3}));
        EXPECT_EQ(select_ids(db.get(), parse("s like 'cat'")), (std::set<int64_t>{}));
        EXPECT_EQ(select_ids(db.get(), parse("s like 'CAT'")), (std::set<int64_t>{3}));
        EXPECT_EQ(select_ids(db.get(), parse("u like '%__x%'")), (std::set<int64_t>{2}));
    }
}

TEST(FilterMetamorphic, MissingFieldSemantics) {
    Db db = open_db();
    std::vector<store::Row> rows(3);
    rows[0].id = 1;
    rows[0].extra = {{"x", 1}};
    rows[1].id = 2;
    rows[1].extra = {{"x", "1"}};
    rows[2].id = 3;  // no x
    for (const store::Row& row : rows) insert(db.get(), row);
    auto check = [&](const char* text, std::set<int64_t> expected) {
        SCOPED_TRACE(text);
        Expression e = parse(text);
        EXPECT_EQ(select_ids(db.get(), e), expected);
        EXPECT_EQ(match_ids(rows, e), expected);
    };
    check("x == 1", {1});
    check("x != 1", {});  // the string "1" and the missing value never compare with 1
    check("x != 2", {1});
    check("not (x == 1)", {2, 3});
    check("x in [1, 'z']", {1});
    check("x not in [1]", {2, 3});
    check("x == '1'", {2});
    check("x == 1.0", {1});
    check("x", {});
}

}  // namespace
}  // namespace clipdex::filter
