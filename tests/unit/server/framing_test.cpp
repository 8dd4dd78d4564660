// The HTTP layer's decisions on raw request bytes (answer_buffered takes the connection's path
// without sockets): framing refusals (400 / 411 / 413 / 414 / 431), authentication before the
// body (401 with WWW-Authenticate, case-insensitive scheme), JSON errors with their position.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "server/http_framing.h"
#include "server/json_body.h"
#include "server/multipart.h"

namespace clipdex::server {
namespace {

using nlohmann::json;

class Framing : public ::testing::Test {
  protected:
    Framing() {
        router.Get("/v1/health", [](const Request&) { return json_response(200, {{"ok", 1}}); });
        router.Post("/v1/echo", [this](const Request& request) {
            ++calls;
            json answer = parse_json_body(request.body);
            answer["path"] = request.path;
            answer["query"] = request.param("q");
            return json_response(200, answer);
        });
        router.Post("/v1/upload", [](const Request& request) {
            const auto parts = parse_multipart(*request.header("content-type"), request.body);
            return json_response(200, {{"parts", parts.size()}});
        });
        limits.max_body_bytes = 100;
        limits.max_header_bytes = 1024;
        limits.max_target_bytes = 256;
    }

    // The answer and its parsed body.
    std::pair<Response, json> ask(const std::string& bytes) {
        Response response = answer_buffered(bytes, router, limits);
        return {response, json::parse(response.body)};
    }

    static std::string post(const std::string& path, const std::string& body,
                            const std::string& extra = "") {
        return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + extra +
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }

    Router router;
    FramingLimits limits;
    int calls = 0;
};

TEST_F(Framing, AnswersWellFormedRequests) {
    auto [response, body] = ask(post("/v1/ec%68o?q=a+b%21", R"({"x": 1})"));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(body["path"], "/v1/echo");
    EXPECT_EQ(body["query"], "a b!");
    auto chunked =
        ask("POST /v1/echo HTTP/1.1\r\nTransfer-Encoding: "
            "chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:2}\r\n0\r\n\r\n");
    EXPECT_EQ(chunked.first.status, 200) << chunked.first.body;
    EXPECT_EQ(chunked.second["a"], 2);
}

TEST_F(Framing, ContentLengthMustBeOneNonNegativeInteger) {
    for (const std::string length : {"-1", "abc", "1e3", "5, 5", "0x10", ""}) {
        auto [response, body] =
            ask("POST /v1/echo HTTP/1.1\r\nContent-Length: " + length + "\r\n\r\n{}");
        EXPECT_EQ(response.status, 400) << length << ": " << response.body;
        EXPECT_EQ(body["code"], "http_error");
        EXPECT_TRUE(response.close);
    }
    // Repeated, even with the same value (a request-smuggling shape).
    auto [twice, body] =
        ask("POST /v1/echo HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_EQ(twice.status, 400) << twice.body;
    EXPECT_NE(body["error"].get<std::string>().find("more than once"), std::string::npos);
    // Both framings, or a transfer coding other than chunked.
    EXPECT_EQ(
        ask("POST /v1/echo HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}")
            .first.status,
        400);
    EXPECT_EQ(ask("POST /v1/echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n{}").first.status, 400);
    EXPECT_EQ(calls, 0);
}

TEST_F(Framing, PostWithoutLengthIs411) {
    auto [response, body] = ask("POST /v1/echo HTTP/1.1\r\nHost: x\r\n\r\n{\"x\": 1}");
    EXPECT_EQ(response.status, 411);
    EXPECT_EQ(body["code"], "http_error");
    EXPECT_NE(body["error"].get<std::string>().find("POST /v1/echo"), std::string::npos);
    EXPECT_EQ(calls, 0);
}

TEST_F(Framing, BodyLimitHoldsForEveryEncoding) {
    auto [declared, body] = ask(post("/v1/echo", std::string(101, ' ')));
    EXPECT_EQ(declared.status, 413);
    EXPECT_EQ(body["code"], "too_large");
    EXPECT_NE(body["error"].get<std::string>().find("101 bytes"), std::string::npos);
    // Chunked: each chunk is small, the sum is not.
    std::string chunked = "POST /v1/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 30; ++i) chunked += "5\r\n     \r\n";
    chunked += "0\r\n\r\n";
    EXPECT_EQ(ask(chunked).first.status, 413);
    EXPECT_EQ(ask(post("/v1/echo", "{}" + std::string(98, ' '))).first.status, 200);
    EXPECT_EQ(calls, 1);
}

TEST_F(Framing, LongTargetsNameTheirMethodAndLongHeadersAre431) {
    auto [in_limit_header, body] =
        ask("GET /v1/health?" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(in_limit_header.status, 414);
    EXPECT_NE(body["error"].get<std::string>().find("GET"), std::string::npos) << body;
    auto beyond = ask("DELETE /v1/health?" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(beyond.first.status, 414);
    EXPECT_NE(beyond.second["error"].get<std::string>().find("DELETE"), std::string::npos);
    auto headers = ask("GET /v1/health HTTP/1.1\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n");
    EXPECT_EQ(headers.first.status, 431);
}

TEST_F(Framing, RoutesMethodsAndTargets) {
    EXPECT_EQ(ask("GET /v1/nothing HTTP/1.1\r\n\r\n").first.status, 404);
    auto [wrong, body] = ask("PUT /v1/health HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(wrong.status, 405);
    ASSERT_EQ(wrong.headers.size(), 1u);
    EXPECT_EQ(wrong.headers[0], (std::pair<std::string, std::string>{"Allow", "GET"}));
    auto brew = ask("BREW /v1/health HTTP/1.1\r\n\r\n");
    EXPECT_EQ(brew.first.status, 400);
    EXPECT_NE(brew.second["error"].get<std::string>().find("BREW"), std::string::npos);
    EXPECT_EQ(ask("GET /v1/%zz HTTP/1.1\r\n\r\n").first.status, 400);
    EXPECT_EQ(ask("GET http://x/v1/health HTTP/1.1\r\n\r\n").first.status, 400);
    EXPECT_EQ(ask("HEAD /v1/health HTTP/1.1\r\n\r\n").first.status, 200);
    EXPECT_EQ(ask("GET /v1/health HTTP/1.1\r\nHost: x").first.status, 400);  // incomplete
    EXPECT_EQ(ask("\x01\x02 garbage\r\n\r\n").first.status, 400);
}

TEST_F(Framing, TokenIsCheckedOnTheHeaderBeforeAnyBody) {
    limits.bearer_token = "s3cret";
    // The body is not even sent: the answer comes from the header alone.
    const std::string head = "POST /v1/echo HTTP/1.1\r\nContent-Length: 90\r\n";
    auto [missing, body] = ask(head + "\r\n");
    EXPECT_EQ(missing.status, 401);
    EXPECT_EQ(body["code"], "unauthorized");
    EXPECT_TRUE(missing.close);
    ASSERT_EQ(missing.headers.size(), 1u);
    EXPECT_EQ(missing.headers[0].first, "WWW-Authenticate");
    EXPECT_EQ(missing.headers[0].second.rfind("Bearer", 0), 0u);
    auto wrong = ask(head + "Authorization: Bearer s3cre\r\n\r\n");
    EXPECT_EQ(wrong.first.status, 401);
    EXPECT_NE(wrong.first.headers[0].second.find("invalid_token"), std::string::npos);
    EXPECT_EQ(ask(head + "Authorization: Basic s3cret\r\n\r\n").first.status, 401);
    for (const char* scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
        auto ok =
            ask(post("/v1/echo", "{}", std::string("Authorization: ") + scheme + "  s3cret \r\n"));
        EXPECT_EQ(ok.first.status, 200) << scheme << ": " << ok.first.body;
    }
    EXPECT_EQ(calls, 4);
}

TEST_F(Framing, InvalidJsonNamesItsPosition) {
    auto [response, body] = ask(post("/v1/echo", "{\n  \"a\": 1,\n  \"b\" 2\n}"));
    EXPECT_EQ(response.status, 500);  // the test router does not map errors; the text matters
    const std::string error = body["error"];
    EXPECT_NE(error.find("line 3, column 7"), std::string::npos) << error;
    EXPECT_NE(error.find("expected"), std::string::npos) << error;
    EXPECT_THROW(parse_json_body("[1]"), Error);
    EXPECT_THROW(parse_json_body(""), Error);
}

TEST_F(Framing, MultipartThroughTheWholePath) {
    const std::string form = "--b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n3\r\n--b--";
    auto [response, body] =
        ask(post("/v1/upload", form, "Content-Type: multipart/form-data; boundary=b\r\n"));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(body["parts"], 1);
}

}  // namespace
}  // namespace clipdex::server
