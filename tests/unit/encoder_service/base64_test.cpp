#include "encoder_service/base64.h"

#include <gtest/gtest.h>

namespace clipdex::encoder_service {
namespace {

std::string text_of(const Base64Result& r) { return std::string(r.bytes.begin(), r.bytes.end()); }

TEST(Base64Test, DecodesWithAndWithoutPadding) {
    EXPECT_EQ(text_of(decode_base64("aGVsbG8=")), "hello");
    EXPECT_EQ(text_of(decode_base64("aGVsbG8")), "hello");
    EXPECT_EQ(text_of(decode_base64("aGk=")), "hi");
    EXPECT_EQ(text_of(decode_base64("YWJj")), "abc");
    EXPECT_EQ(text_of(decode_base64("")), "");
    EXPECT_EQ(text_of(decode_base64("+/+/")), "\xfb\xff\xbf");
}

TEST(Base64Test, NamesTheBadCharacterAndItsOffset) {
    const Base64Result r = decode_base64("aGVs!G8=");
    EXPECT_TRUE(r.bytes.empty());
    EXPECT_EQ(r.error, "character '!' at offset 4 is not base64");
    EXPECT_EQ(decode_base64("aGVsb").error, "length 5 is not a base64 length");
    EXPECT_EQ(decode_base64("aGk\n").error, "byte 0x0a at offset 3 is not base64");
}

}  // namespace
}  // namespace clipdex::encoder_service
