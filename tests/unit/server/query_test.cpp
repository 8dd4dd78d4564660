// Request targets: percent-decoding of paths and query strings, and what is refused.
#include <gtest/gtest.h>

#include "clipdex/error.h"
#include "server/query.h"

namespace clipdex::server {
namespace {

TEST(Query, DecodesEscapesAndPlusOnlyInQueries) {
    EXPECT_EQ(percent_decode("a%20b%2Fc+d", true, "q"), "a b/c d");
    EXPECT_EQ(percent_decode("a%20b+d", false, "path"), "a b+d");
    EXPECT_EQ(percent_decode("%e7%8c%ab", false, "path"), "\xe7\x8c\xab");  // 猫
    EXPECT_EQ(percent_decode("", true, "q"), "");
}

TEST(Query, MalformedEscapesAreErrorsWithTheirOffset) {
    for (const char* text : {"%", "%2", "ab%zz", "%g0", "x%2"}) {
        try {
            percent_decode(text, true, "query parameter 'k'");
            FAIL() << text;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
            EXPECT_NE(std::string(e.what()).find("query parameter 'k'"), std::string::npos);
            EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
        }
    }
}

TEST(Query, ParsesPairsInOrderSkippingEmptyPieces) {
    const Fields fields = parse_query("limit=5&&flag&name=%E7%8C%AB+cat&limit=7&=v&x=");
    const Fields expected = {{"limit", "5"}, {"flag", ""}, {"name", "\xe7\x8c\xab cat"},
                             {"limit", "7"}, {"", "v"},    {"x", ""}};
    EXPECT_EQ(fields, expected);
    EXPECT_TRUE(parse_query("").empty());
    EXPECT_EQ(parse_query("a=b=c"), (Fields{{"a", "b=c"}}));
}

TEST(Query, SplitsTargetsAndDecodesThePath) {
    std::string path;
    Fields query;
    split_target("/v1/data?limit=3&include_vectors=true", path, query);
    EXPECT_EQ(path, "/v1/data");
    EXPECT_EQ(query, (Fields{{"limit", "3"}, {"include_vectors", "true"}}));
    split_target("/v1/dat%61", path, query);
    EXPECT_EQ(path, "/v1/data");
    EXPECT_TRUE(query.empty());
    split_target("/a+b?", path, query);
    EXPECT_EQ(path, "/a+b");
    for (const char* bad : {"", "*", "http://example.com/v1/data", "v1/data", "/v1/%zz"})
        EXPECT_THROW(split_target(bad, path, query), Error) << bad;
}

TEST(Query, RequestLooksUpFirstValues) {
    Request request;
    request.query = {{"id", "1"}, {"id", "2"}};
    request.headers = {{"content-type", "application/json"}};
    EXPECT_TRUE(request.has_param("id"));
    EXPECT_EQ(request.param("id"), "1");
    EXPECT_EQ(request.param("none"), "");
    ASSERT_NE(request.header("content-type"), nullptr);
    EXPECT_EQ(request.header("accept"), nullptr);
}

}  // namespace
}  // namespace clipdex::server
