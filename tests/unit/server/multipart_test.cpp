// multipart/form-data: the shapes browsers, curl and Python send, and bounded refusals.
#include <gtest/gtest.h>

#include "clipdex/error.h"
#include "server/multipart.h"

namespace clipdex::server {
namespace {

const std::string kType = "multipart/form-data; boundary=XyZ";

std::string part(const std::string& disposition, const std::string& content,
                 const std::string& extra = "") {
    return "--XyZ\r\nContent-Disposition: " + disposition + "\r\n" + extra + "\r\n" + content +
           "\r\n";
}

ErrorCode code_of(const std::string& type, const std::string& body,
                  const MultipartLimits& limits = {}) {
    try {
        parse_multipart(type, body, limits);
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "accepted: " << body;
    return ErrorCode::Internal;
}

TEST(Multipart, ReadsFieldsAndFilesWithBinaryContent) {
    const std::string image("\x89PNG\r\n\x1a\n\0\r\n--Xy", 16);
    const std::string body = "preamble to ignore\r\n" + part("form-data; name=\"k\"", "5") +
                             part("form-data; name=\"image\"; filename=\"dog face.svg\"", image,
                                  "Content-Type: image/png\r\n") +
                             part("form-data; name=filter", "url like \"%cat%\"") +
                             "--XyZ--\r\nepilogue";
    const auto parts = parse_multipart(kType, body);
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[0].name, "k");
    EXPECT_EQ(parts[0].content, "5");
    EXPECT_EQ(parts[1].filename, "dog face.svg");
    EXPECT_EQ(parts[1].content_type, "image/png");
    EXPECT_EQ(parts[1].content, image);
    EXPECT_EQ(parts[2].content, "url like \"%cat%\"");
    ASSERT_NE(find_part(parts, "image"), nullptr);
    EXPECT_EQ(find_part(parts, "missing"), nullptr);
}

TEST(Multipart, BoundaryAndFilenameForms) {
    const std::string body =
        "--a b;c\r\nContent-Disposition: form-data; name=\"image\"; "
        "filename*=UTF-8''%E7%8C%AB.svg\r\n\r\nx\r\n--a b;c--";
    const auto parts = parse_multipart("Multipart/Form-Data; charset=x; BOUNDARY=\"a b;c\"", body);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].filename, "\xe7\x8c\xab.svg");
    EXPECT_EQ(parts[0].content, "x");
    EXPECT_TRUE(parse_multipart(kType, "--XyZ--").empty());
    EXPECT_EQ(parse_multipart(kType, part("form-data; name=\"e\"", "") + "--XyZ--")[0].content, "");
    EXPECT_EQ(*header_parameter("form-data; name=\"a\\\"b\"", "name"), "a\"b");
    EXPECT_FALSE(header_parameter("form-data; filename=x", "name"));
    EXPECT_TRUE(is_multipart_form("multipart/form-data"));
    EXPECT_FALSE(is_multipart_form("application/json"));
}

TEST(Multipart, MalformedBodiesAreInvalidInput) {
    const std::string one = part("form-data; name=\"k\"", "5");
    EXPECT_EQ(code_of("multipart/form-data", one + "--XyZ--"), ErrorCode::InvalidInput);
    EXPECT_EQ(code_of("multipart/form-data; boundary=\"\"", one), ErrorCode::InvalidInput);
    EXPECT_EQ(code_of(kType, "no boundary at all"), ErrorCode::InvalidInput);
    EXPECT_EQ(code_of(kType, one), ErrorCode::InvalidInput);  // no closing boundary
    EXPECT_EQ(code_of(kType, "--XyZ\r\nContent-Disposition: form-data; name=k\r\n"),
              ErrorCode::InvalidInput);  // headers never end
    EXPECT_EQ(code_of(kType, "--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--"),
              ErrorCode::InvalidInput);
    EXPECT_EQ(code_of(kType, "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--"),
              ErrorCode::InvalidInput);  // no Content-Disposition
    EXPECT_EQ(code_of(kType, "--XyZ\r\nContent-Disposition: attachment\r\n\r\nx\r\n--XyZ--"),
              ErrorCode::InvalidInput);
    EXPECT_EQ(code_of(kType, "--XyZjunk\r\n"), ErrorCode::InvalidInput);
    EXPECT_EQ(code_of(kType, "--XyZ"), ErrorCode::InvalidInput);
    try {
        parse_multipart(kType, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nabc");
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("at byte"), std::string::npos) << e.what();
    }
}

TEST(Multipart, LimitsOnPartsAndHeaderBytes) {
    std::string body;
    for (int i = 0; i < 5; ++i) body += part("form-data; name=\"f\"", "v");
    body += "--XyZ--";
    EXPECT_EQ(parse_multipart(kType, body, {5, 8192}).size(), 5u);
    EXPECT_EQ(code_of(kType, body, {4, 8192}), ErrorCode::TooLarge);
    const std::string long_header =
        part("form-data; name=\"f\"", "v", "X-Pad: " + std::string(300, 'a') + "\r\n") + "--XyZ--";
    EXPECT_EQ(parse_multipart(kType, long_header, {64, 400}).size(), 1u);
    EXPECT_EQ(code_of(kType, long_header, {64, 200}), ErrorCode::TooLarge);
    // Headers that never end are refused after the header budget, not after the whole body.
    const std::string endless =
        "--XyZ\r\nContent-Disposition: form-data; name=f" + std::string(100000, 'a');
    EXPECT_EQ(code_of(kType, endless, {64, 1000}), ErrorCode::TooLarge);
}

}  // namespace
}  // namespace clipdex::server
