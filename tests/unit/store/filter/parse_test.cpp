// Parsing, canonical Milvus text, errors and hostile inputs of the filter module.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "clipdex/error.h"
#include "store/filter/filter.h"
#include "store/filter/filter_ast.h"

namespace clipdex::filter {
namespace {

std::string canon(std::string_view text) {
    return to_milvus(parse(text));
}

// The message of the InvalidInput error that parsing `text` throws ("" when it parses).
std::string error_of(std::string_view text) {
    try {
        parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.what();
        return e.what();
    }
    return "";
}

void expect_round_trip(std::string_view text) {
    Expression first = parse(text);
    std::string canonical = to_milvus(first);
    Expression second = parse(canonical);
    ASSERT_FALSE(first.empty());
    EXPECT_TRUE(*first.root() == *second.root()) << text << " -> " << canonical;
    EXPECT_EQ(to_milvus(second), canonical);
}

TEST(FilterParse, EmptyAndBlankMatchEverything) {
    EXPECT_TRUE(parse("").empty());
    EXPECT_TRUE(parse(" \t\n").empty());
    EXPECT_EQ(to_milvus(parse("")), "");
    EXPECT_EQ(to_sql(parse("")).sql, "1");
    EXPECT_TRUE(matches(parse(""), store::Row{}));
}

TEST(FilterParse, Comparisons) {
    EXPECT_EQ(canon("id==1"), "id == 1");
    EXPECT_EQ(canon("id != 1"), "id != 1");
    EXPECT_EQ(canon("id<1"), "id < 1");
    EXPECT_EQ(canon("id<=1"), "id <= 1");
    EXPECT_EQ(canon("id>1"), "id > 1");
    EXPECT_EQ(canon("id>=1"), "id >= 1");
    EXPECT_EQ(canon("url == 'a'"), "url == \"a\"");
    EXPECT_EQ(canon("description != \"d\""), "description != \"d\"");
    EXPECT_EQ(canon("added_at > \"2025-01-01\""), "added_at > \"2025-01-01\"");
    EXPECT_EQ(canon("updated_at <= \"2026\""), "updated_at <= \"2026\"");
}

TEST(FilterParse, LiteralOnTheLeftIsFlipped) {
    EXPECT_EQ(canon("5 < id"), "id > 5");
    EXPECT_EQ(canon("5 >= x"), "x <= 5");
    EXPECT_EQ(canon("'a' == url"), "url == \"a\"");
    EXPECT_EQ(canon("1 < x <= 5"), "x > 1 and x <= 5");
    EXPECT_EQ(canon("9 > x > 2"), "x < 9 and x > 2");
}

TEST(FilterParse, Literals) {
    EXPECT_EQ(canon("x == -5"), "x == -5");
    EXPECT_EQ(canon("x == +5"), "x == 5");
    EXPECT_EQ(canon("x == 1.5"), "x == 1.5");
    EXPECT_EQ(canon("x == 1."), "x == 1.0");
    EXPECT_EQ(canon("x == .25"), "x == 0.25");
    EXPECT_EQ(canon("x == -2.5e-3"), "x == -0.0025");
    EXPECT_EQ(canon("x == 1E300"), "x == 1e+300");
    EXPECT_EQ(canon("x == 3e0"), "x == 3.0");
    EXPECT_EQ(canon("x == true"), "x == true");
    EXPECT_EQ(canon("x == True"), "x == true");
    EXPECT_EQ(canon("x != FALSE"), "x != false");
    EXPECT_EQ(canon("x == -9223372036854775808"), "x == -9223372036854775808");
    EXPECT_EQ(canon("x == 9223372036854775807"), "x == 9223372036854775807");
    EXPECT_EQ(canon("x == 0"), "x == 0");
}

TEST(FilterParse, StringEscapes) {
    EXPECT_EQ(canon(R"(s == "a\"b")"), R"(s == "a\"b")");
    EXPECT_EQ(canon(R"(s == 'a\'b"c')"), R"(s == "a'b\"c")");
    EXPECT_EQ(canon(R"(s == "\\ \n \t \r")"), R"(s == "\\ \n \t \r")");
    EXPECT_EQ(canon(R"(s == "\x41\u00e9\U0001F600")"), "s == \"A\xC3\xA9\xF0\x9F\x98\x80\"");
    EXPECT_EQ(canon(R"(s == "\b\f\v\a")"), R"(s == "\u0008\u000c\u000b\u0007")");
    EXPECT_EQ(canon("s == \"\xE7\x8C\xAB\""), "s == \"\xE7\x8C\xAB\"");
    EXPECT_EQ(canon("s == ''"), "s == \"\"");
}

TEST(FilterParse, LogicalOperatorsAndPrecedence) {
    EXPECT_EQ(canon("a and b or c"), "(a and b) or c");
    EXPECT_EQ(canon("a or b and c"), "a or (b and c)");
    EXPECT_EQ(canon("a && b || !c"), "(a and b) or not (c)");
    EXPECT_EQ(canon("a AND b AnD c"), "a and b and c");
    EXPECT_EQ(canon("(a or b) and c"), "(a or b) and c");
    EXPECT_EQ(canon("(a and b) and c"), "(a and b) and c");
    EXPECT_EQ(canon("not a == 1"), "not (a == 1)");
    EXPECT_EQ(canon("NOT not x"), "not (not (x))");
    EXPECT_EQ(canon("not (a and b)"), "not (a and b)");
    EXPECT_EQ(canon("((((id == 1))))"), "id == 1");
}

TEST(FilterParse, InLikeAndFields) {
    EXPECT_EQ(canon("id in [1,2, 3]"), "id in [1, 2, 3]");
    EXPECT_EQ(canon("id IN []"), "id in []");
    EXPECT_EQ(canon("id in [1, 2,]"), "id in [1, 2]");
    EXPECT_EQ(canon("url not in ['a', \"b\"]"), "url not in [\"a\", \"b\"]");
    EXPECT_EQ(canon("x NOT IN [1, 'a', true, 2.5]"), "x not in [1, \"a\", true, 2.5]");
    EXPECT_EQ(canon("url like \"%cat%\""), "url like \"%cat%\"");
    EXPECT_EQ(canon("x LIKE 'a_\\\\%'"), "x like \"a_\\\\%\"");
    EXPECT_EQ(canon("$meta[\"color\"] == 'red'"), "color == \"red\"");
    EXPECT_EQ(canon("$meta['a b']['c'][2] == 1"), "$meta[\"a b\"][\"c\"][2] == 1");
    EXPECT_EQ(canon("tags[\"k\"][0] == 1"), "tags[\"k\"][0] == 1");
    EXPECT_EQ(canon("$meta[\"id\"] == 1"), "$meta[\"id\"] == 1");
    EXPECT_EQ(canon("$meta[\"and\"] == 1"), "$meta[\"and\"] == 1");
    EXPECT_EQ(canon("$meta[\"exists\"] == 1"), "$meta[\"exists\"] == 1");
    EXPECT_EQ(canon("ID == 'x'"), "ID == \"x\"");  // field names are case-sensitive
    EXPECT_EQ(canon("flag"), "flag");
    EXPECT_EQ(canon("$meta[\"\xE7\x8C\xAB\"] == 1"), "$meta[\"\xE7\x8C\xAB\"] == 1");
    EXPECT_TRUE(*parse("$meta['x'] == 1").root() == *parse("x == 1").root());
    EXPECT_TRUE(*parse("1 == x").root() == *parse("x == 1").root());
    EXPECT_FALSE(*parse("x == 1").root() == *parse("x == 1.0").root());
    EXPECT_FALSE(*parse("x == 1").root() == *parse("x == true").root());
}

TEST(FilterParse, TreeShape) {
    Expression e = parse("id > 5 and (url like 'a%' or not x in [1, 'b'])");
    const Node& root = *e.root();
    ASSERT_EQ(root.kind, NodeKind::And);
    ASSERT_EQ(root.children.size(), 2u);
    const Node& cmp = *root.children[0];
    EXPECT_EQ(cmp.kind, NodeKind::Compare);
    EXPECT_EQ(cmp.field.kind, FieldKind::Id);
    EXPECT_EQ(cmp.op, CompareOp::Gt);
    EXPECT_EQ(cmp.values.front(), Literal(int64_t{5}));
    const Node& any = *root.children[1];
    ASSERT_EQ(any.kind, NodeKind::Or);
    EXPECT_EQ(any.children[0]->kind, NodeKind::Like);
    ASSERT_EQ(any.children[1]->kind, NodeKind::Not);
    const Node& in = *any.children[1]->children[0];
    EXPECT_EQ(in.kind, NodeKind::In);
    EXPECT_EQ(in.field.path, std::vector<PathStep>{PathStep(std::string("x"))});
    EXPECT_EQ(in.values.size(), 2u);
}

TEST(FilterParse, RoundTrip) {
    for (const char* text : {
             "id in [1, 2, 3] and url like \"%cat%\"",
             "added_at > \"2025-01-01\" and not (size < 10)",
             "a or (b and (c or (d and not e)))",
             "not (not (not (x == 1)))",
             "x == 1.0000000000000002 or y == 5e-324 or z == -0.0",
             "$meta[\"we\\\"ird\"] == 1 or $meta[\"it's\"] == 2",
             "s == \"\\u0001\\u001f\\u007f\"",
             "((a and b) and c) or ((d or e) or f)",
             "x in [] or x not in []",
             "1 <= x < 2",
             "flag and not other_flag",
         }) {
        SCOPED_TRACE(text);
        if (error_of(text).empty()) expect_round_trip(text);
    }
}

struct BadInput {
    std::string text;
    std::string message;  // the expected message after "filter `...` "
};

TEST(FilterErrors, PositionAndExpectation) {
    EXPECT_EQ(error_of("id in [1,"), "filter `id in [1,` at position 9: expected a literal");
    std::vector<BadInput> cases = {
        {"id ==", "at position 5: expected a literal"},
        {"id", "at position 2: expected a comparison, `in` or `like` after field `id`"},
        {"id = 1", "at position 3: expected `==` (a single `=` is not an operator)"},
        {"a & b", "at position 2: expected `&&`"},
        {"a | b", "at position 2: expected `||`"},
        {"(id == 1", "at position 8: expected `)`"},
        {"id == 1)", "at position 7: unbalanced `)`"},
        {"id == 1 id == 2", "at position 8: expected `and`, `or` or the end"},
        {"and", "at position 0: expected a field, a literal, `(` or `not`"},
        {"id in 1", "at position 6: expected `[`"},
        {"id in [1 2]", "at position 9: expected `,` or `]`"},
        {"x not like 'a'",
         "at position 2: expected a comparison, `in`, `like`, `and`, `or` or the end"},
        {"url like 5", "at position 9: expected a string pattern"},
        {"x == 'abc", "at position 5: unterminated string"},
        {"x == 'abc\\", "at position 5: unterminated string"},
        {"x == '\\q'", "at position 6: unknown escape `\\q`"},
        {"x == '\\u12'", "at position 10: expected 4 hex digits"},
        {"x == '\\uD800'", "at position 6: escape `\\uD800` is not a valid character"},
        {"x == '\\x80'", "at position 6: escape `\\x80` is not a valid character"},
        {"x == '\\x00'", "at position 6: NUL character in a string"},
        {"x == 99999999999999999999",
         "at position 5: integer `99999999999999999999` is out of the int64 range"},
        {"x == 9223372036854775808", "at position 5: integer is out of the int64 range"},
        {"x == -9223372036854775809", "at position 6: integer is out of the int64 range"},
        {"x == 1e999", "at position 5: number `1e999` is out of range"},
        {"x == 1e", "at position 7: expected the digits of an exponent"},
        {"x == 12abc", "at position 7: unexpected character `a` in a number"},
        {"x == 007", "at position 5: integer `007` has a leading zero (octal is not supported)"},
        {"x == -", "at position 6: expected a number after the sign"},
        {"x == @", "at position 5: unexpected character `@`"},
        {"$foo == 1", "at position 0: unknown field `$foo` (only `$meta` starts with `$`)"},
        {"$meta == 1", "at position 6: expected `[` and a key after `$meta`"},
        {"$meta[0] == 1", "at position 6: expected a string key"},
        {"x[-1] == 1", "at position 2: expected a string key or an array index"},
        {"x['a' == 1", "at position 6: expected `]`"},
        {"id['a'] == 1", "at position 2: field `id` is not a JSON field"},
        {"x['a\\\"b'] == 1",
         "at position 2: JSON key `a\"b` contains a quote, backslash or control character"},
        {"x == true and y < false", "at position 18: booleans compare only with `==` and `!=`"},
        {"url like '%a\\\\'",
         "at position 9: like pattern ends with a lone `\\` (write `\\\\\\\\` for a backslash)"},
    };
    for (const BadInput& c : cases) {
        SCOPED_TRACE(c.text);
        std::string message = error_of(c.text);
        std::string prefix = "filter `" + c.text + "` ";
        ASSERT_EQ(message.substr(0, prefix.size()), prefix);
        EXPECT_EQ(message.substr(prefix.size()), c.message);
    }
}

TEST(FilterErrors, TypeErrorsOnFixedFields) {
    EXPECT_EQ(error_of("id == \"x\""),
              "filter `id == \"x\"` at position 6: field `id` (at position 0) is an integer and "
              "cannot be compared with a string");
    EXPECT_EQ(error_of("url > 3"),
              "filter `url > 3` at position 6: field `url` (at position 0) is a string and cannot "
              "be compared with an integer");
    EXPECT_EQ(error_of("id like \"%a\""),
              "filter `id like \"%a\"` at position 3: `like` needs a string field, and `id` is an "
              "integer");
    EXPECT_NE(error_of("id == true").find("at position 6: field `id`"), std::string::npos);
    EXPECT_NE(error_of("'a' < id").find("at position 0: field `id` (at position 6)"),
              std::string::npos);
    EXPECT_NE(error_of("id in [1, 'a']").find("at position 10:"), std::string::npos);
    EXPECT_NE(error_of("added_at in ['a', 2.5]").find("at position 18:"), std::string::npos);
    EXPECT_EQ(error_of("id == 2.5"), "");  // numbers of both kinds compare with id
}

TEST(FilterHostile, DeepNestingIsAnErrorNotACrash) {
    std::string deep(60000, '(');
    EXPECT_NE(error_of(deep).find("nesting deeper than 64 levels"), std::string::npos);
    std::string nots;
    for (int i = 0; i < 15000; ++i) nots += "not ";
    EXPECT_NE(error_of(nots + "x").find("nesting deeper than 64 levels"), std::string::npos);
    std::string bangs(50000, '!');
    EXPECT_NE(error_of(bangs + "x").find("at position 64: nesting deeper"), std::string::npos);

    std::string ok = std::string(64, '(') + "x == 1" + std::string(64, ')');
    EXPECT_EQ(error_of(ok), "");
    EXPECT_NE(error_of("(" + ok + ")").find("at position 64: nesting"), std::string::npos);
    // Beyond 64 KiB the size limit answers first, before any parsing.
    EXPECT_NE(error_of(std::string(100000, '(')).find("filter longer than"), std::string::npos);
}

TEST(FilterHostile, CanonicalTextStaysWithinTheDepthLimit) {
    std::string text;
    for (int i = 0; i < 32; ++i) text += "not (a or ";
    text += "b";
    for (int i = 0; i < 32; ++i) text += ")";
    std::string longest;
    for (int i = 0; i < 64; ++i) longest += "not ";
    std::string range = std::string(63, '(') + "a or 1 < x < 5" + std::string(63, ')');
    for (const std::string& t :
         {text, longest + "x", std::string(63, '(') + "a or b" + std::string(63, ')'), range}) {
        ASSERT_EQ(error_of(t), "");
        expect_round_trip(t);
    }
}

TEST(FilterHostile, Limits) {
    std::string big(64 * 1024 + 1, ' ');
    EXPECT_NE(error_of(big).find("at position 65536: filter longer than 65536 bytes"),
              std::string::npos);
    EXPECT_EQ(error_of(std::string(64 * 1024, ' ')), "");

    std::string list = "id in [";
    for (int i = 0; i < 65536; ++i) list += "1,";
    list += "]";
    // 65,536 items need at least 128 KiB of text, so the text limit always answers first; the
    // item limit only guards against a change of the text limit.
    EXPECT_NE(error_of(list).find("filter longer than"), std::string::npos);

    std::string many_items = "x in [";
    for (int i = 0; i < 21000; ++i) many_items += "1,";
    many_items += "]";
    Expression e = parse(many_items);
    EXPECT_EQ(e.root()->values.size(), 21000u);
    EXPECT_EQ(to_sql(e).params.size(), 1u);  // one JSON array, not 21,000 placeholders

    std::string long_chain = "x == 1";
    while (long_chain.size() < 60000) long_chain += " or x == 1";
    Expression chain = parse(long_chain);
    EXPECT_GT(chain.root()->children.size(), 5000u);
    EXPECT_NO_THROW(to_sql(chain));
}

TEST(FilterHostile, NulBytesAndInvalidUtf8) {
    using namespace std::string_literals;
    EXPECT_NE(error_of("x == \"a\0b\""s).find("at position 7: NUL byte in a string"),
              std::string::npos);
    EXPECT_NE(error_of("x == 1\0"s).find("at position 6: unexpected character `\\x00`"),
              std::string::npos);
    EXPECT_NE(error_of("x == \"\xff\"").find("at position 6: invalid UTF-8 in a string"),
              std::string::npos);
    EXPECT_NE(error_of("x == \"\xc3\"").find("at position 6: invalid UTF-8"), std::string::npos);
    EXPECT_NE(error_of("x == \"\xc0\xaf\"").find("invalid UTF-8"), std::string::npos);  // overlong
    EXPECT_NE(error_of("x == \"\xed\xa0\x80\"").find("invalid UTF-8"),
              std::string::npos);  // surrogate
    EXPECT_NE(error_of("x == \"\xf4\x90\x80\x80\"").find("invalid UTF-8"),
              std::string::npos);  // > U+10FFFF
    EXPECT_NE(error_of("\xe7\x8c\xab == 1").find("at position 0: unexpected character `\\xe7`"),
              std::string::npos);
    // The echoed filter in the message is printable ASCII whatever the input was.
    std::string message = error_of("\x01\xff == \"");
    for (char c : message) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << message;
}

TEST(FilterHostile, LongFilterIsTruncatedInTheMessage) {
    std::string text = "x == 1 and " + std::string(500, 'y') + " ==";
    std::string message = error_of(text);
    EXPECT_LT(message.size(), 300u);
    EXPECT_NE(message.find("...` at position 514"), std::string::npos) << message;
}

TEST(FilterLike, Patterns) {
    EXPECT_TRUE(like_matches("cat.jpg", "cat%"));
    EXPECT_TRUE(like_matches("a cat", "%cat"));
    EXPECT_TRUE(like_matches("my cat here", "%cat%"));
    EXPECT_FALSE(like_matches("my Cat here", "%cat%"));
    EXPECT_TRUE(like_matches("", "%"));
    EXPECT_TRUE(like_matches("", ""));
    EXPECT_FALSE(like_matches("a", ""));
    EXPECT_TRUE(like_matches("abc", "a_c"));
    EXPECT_FALSE(like_matches("ac", "a_c"));
    EXPECT_TRUE(
        like_matches("a\xE7\x8C\xAB"
                     "c",
                     "a_c"));  // `_` is one character, not one byte
    EXPECT_FALSE(
        like_matches("a\xE7\x8C\xAB"
                     "c",
                     "a___c"));
    EXPECT_TRUE(like_matches("100%", "100\\%"));
    EXPECT_FALSE(like_matches("1000", "100\\%"));
    EXPECT_TRUE(like_matches("a_b", "a\\_b"));
    EXPECT_FALSE(like_matches("axb", "a\\_b"));
    EXPECT_TRUE(like_matches("a\\b", "a\\\\b"));
    EXPECT_TRUE(like_matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "%a%a%a%a%a%a%a%b"));
    EXPECT_FALSE(like_matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "%a%a%a%a%a%a%a%b"));
    EXPECT_TRUE(like_matches("abcabd", "%ab_"));
    // After a failed try, `%` must give back whole characters: otherwise two `_` could each
    // take one byte of the three-byte character.
    EXPECT_FALSE(
        like_matches("\xE7\x8C\xAB"
                     "xa",
                     "%__x%"));
    EXPECT_TRUE(
        like_matches("\xE7\x8C\xAB"
                     "yxa",
                     "%__x%"));
    EXPECT_TRUE(like_matches("x*?[y", "x*?[y"));
    EXPECT_EQ(like_to_glob("a*?[]%_\\%\\_"), "a[*][?][[]]*?%_");
}

TEST(FilterSql, ShapeAndParameters) {
    SqlWhere w = to_sql(parse("id > 5 and url like 'a%' and x == 'v'"));
    EXPECT_EQ(
        w.sql,
        "(IFNULL(id > ?, 0) AND (IFNULL(url GLOB ?, 0) AND IFNULL(json_type(extra, '$.\"x\"') = "
        "'text' AND json_extract(extra, '$.\"x\"') == ?, 0)))");
    ASSERT_EQ(w.params.size(), 3u);
    EXPECT_EQ(w.params[0].kind, SqlValue::Kind::Integer);
    EXPECT_EQ(w.params[0].integer, 5);
    EXPECT_EQ(w.params[1].text, "a*");
    EXPECT_EQ(w.params[2].text, "v");
    // A hostile key cannot leave the SQL string literal or the JSON path label.
    SqlWhere k = to_sql(parse("$meta[\"a') OR 1=1 --\"] == 1"));
    EXPECT_NE(k.sql.find("'$.\"a'') OR 1=1 --\"'"), std::string::npos) << k.sql;
}

}  // namespace
}  // namespace clipdex::filter
