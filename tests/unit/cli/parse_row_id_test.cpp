// Row ids as the user types them: whole decimal integers in the signed 64-bit range, never
// clamped or truncated onto another row's id.
#include <gtest/gtest.h>

#include "../error_of.h"
#include "cli/engine_access.h"

namespace clipdex::cli {
namespace {

TEST(ParseRowId, AcceptsWholeDecimalIntegersInRange) {
    EXPECT_EQ(parse_row_id("0", "id"), 0);
    EXPECT_EQ(parse_row_id("42", "id"), 42);
    EXPECT_EQ(parse_row_id("-7", "id"), -7);
    EXPECT_EQ(parse_row_id("9223372036854775807", "id"), INT64_MAX);
    EXPECT_EQ(parse_row_id("-9223372036854775808", "id"), INT64_MIN);
    EXPECT_EQ(parse_row_id("007", "id"), 7);
}

TEST(ParseRowId, RefusesOutOfRangeNamingTheRange) {
    for (const char* text :
         {"9223372036854775808", "-9223372036854775809", "99999999999999999999999"}) {
        const Error e = error_of([&] { parse_row_id(text, "add: --id"); });
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << text;
        const std::string message = e.what();
        EXPECT_NE(message.find("add: --id '" + std::string(text) + "'"), std::string::npos)
            << message;
        EXPECT_NE(message.find("outside the 64-bit signed range"), std::string::npos) << message;
    }
}

TEST(ParseRowId, RefusesEverythingButDigits) {
    for (const char* text : {"", "12abc", "1e3", "1.0", " 5", "5 ", "+5", "0x10", "-", "١٢"}) {
        const Error e = error_of([&] { parse_row_id(text, "remove: id"); });
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << "'" << text << "'";
        EXPECT_NE(std::string(e.what()).find("is not a whole decimal integer"), std::string::npos)
            << e.what();
    }
}

TEST(IsUrl, OnlyHttpAndHttps) {
    EXPECT_TRUE(is_url("http://127.0.0.1/a.png"));
    EXPECT_TRUE(is_url("https://example.com/a.png"));
    EXPECT_FALSE(is_url("/srv/http://a.png"));
    EXPECT_FALSE(is_url("ftp://example.com/a.png"));
    EXPECT_FALSE(is_url("HTTP://example.com"));
    EXPECT_FALSE(is_url("photos/cat.png"));
}

}  // namespace
}  // namespace clipdex::cli
