#include "hub/http_fetch.h"

#include "clipdex/error.h"
#include "hub/curl_util.h"
#include "loopback_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace clipdex::hub {
namespace {

using test::http_response;
using test::LoopbackServer;
using test::Request;

// Runs fn, expects a clipdex::Error with this code whose message contains every fragment.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, std::initializer_list<std::string> fragments) {
    try {
        fn();
        ADD_FAILURE() << "expected an error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), code) << error.what();
        for (const std::string& fragment : fragments) {
            EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
                << "'" << error.what() << "' lacks '" << fragment << "'";
        }
    }
}

FetchOptions loopback_options() {
    FetchOptions options;
    options.allow_private = true;
    options.total_timeout_s = 10;
    return options;
}

std::string text_of(const FetchResult& result) {
    return std::string(result.body.begin(), result.body.end());
}

std::string chunked_response(std::size_t total) {
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: "
        "chunked\r\n"
        "Connection: close\r\n\r\n";
    for (std::size_t sent = 0; sent < total; sent += 1000) {
        out += "3e8\r\n" + std::string(1000, 'y') + "\r\n";
    }
    return out + "0\r\n\r\n";
}

std::string redirect(const std::string& location) {
    return http_response(302, "", "text/plain", {"Location: " + location});
}

class FetchTest : public ::testing::Test {
  protected:
    void SetUp() override {
        server_.route("/ok",
                      [](const Request&) { return http_response(200, "hello", "image/png"); });
        server_.route("/redirect/", [](const Request& req) {
            const int left = std::stoi(req.path.substr(std::string("/redirect/").size()));
            return redirect(left == 0 ? "/ok" : "/redirect/" + std::to_string(left - 1));
        });
        server_.route("/slow", [this](const Request&) {
            for (int i = 0; i < 100 && !server_.stopping(); ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            return http_response(200, "late");
        });
        server_.route("/big",
                      [](const Request&) { return http_response(200, std::string(5000, 'x')); });
        server_.route("/big-chunked", [](const Request&) { return chunked_response(50000); });
        server_.route("/to-private",
                      [](const Request&) { return redirect("http://10.0.0.1/secret"); });
        server_.route("/to-file", [](const Request&) { return redirect("file:///etc/passwd"); });
        server_.route("/to-localhost", [this](const Request&) {
            return redirect("http://localhost:" + std::to_string(server_.port()) + "/ok");
        });
        server_.route("/u/", [](const Request& req) {
            return http_response(200, req.path, "text/plain; charset=utf-8");
        });
        server_.start();
    }
    void TearDown() override { server_.stop(); }

    LoopbackServer server_;
};

TEST_F(FetchTest, FetchesBodyAndContentType) {
    const FetchResult result = fetch_url(server_.url("/ok"), loopback_options());
    EXPECT_EQ(text_of(result), "hello");
    EXPECT_EQ(result.content_type, "image/png");
    EXPECT_EQ(result.final_url, server_.url("/ok"));
}

TEST_F(FetchTest, NotFoundNamesUrlAndStatus) {
    const std::string url = server_.url("/x/y.svg");
    expect_error([&] { fetch_url(url, loopback_options()); }, ErrorCode::NotFound,
                 {"URL '" + url + "'", "HTTP 404"});
}

TEST_F(FetchTest, FollowsRedirectChainWithinLimit) {
    const FetchResult result = fetch_url(server_.url("/redirect/4"), loopback_options());
    EXPECT_EQ(text_of(result), "hello");
    EXPECT_EQ(result.final_url, server_.url("/ok"));
}

TEST_F(FetchTest, RefusesTooManyRedirects) {
    expect_error([&] { fetch_url(server_.url("/redirect/5"), loopback_options()); },
                 ErrorCode::InvalidInput, {"more than 5 redirects"});
    FetchOptions none = loopback_options();
    none.max_redirects = 0;
    expect_error([&] { fetch_url(server_.url("/redirect/0"), none); }, ErrorCode::InvalidInput,
                 {"more than 0 redirects"});
}

TEST_F(FetchTest, TimesOutOnSlowServer) {
    FetchOptions options = loopback_options();
    options.total_timeout_s = 0.5;
    const auto start = std::chrono::steady_clock::now();
    expect_error([&] { fetch_url(server_.url("/slow"), options); }, ErrorCode::Unavailable,
                 {"timed out after 0.5 s"});
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(FetchTest, RefusesOversizedBodyFromContentLength) {
    FetchOptions options = loopback_options();
    options.max_bytes = 1024;
    expect_error([&] { fetch_url(server_.url("/big"), options); }, ErrorCode::TooLarge,
                 {"exceeded 1 KB"});
}

TEST_F(FetchTest, RefusesOversizedChunkedBody) {
    FetchOptions options = loopback_options();
    options.max_bytes = 4096;
    expect_error([&] { fetch_url(server_.url("/big-chunked"), options); }, ErrorCode::TooLarge,
                 {"exceeded 4 KB"});
}

TEST_F(FetchTest, DefaultLimitIs64Megabytes) {
    EXPECT_EQ(FetchOptions{}.max_bytes, 64ull * 1024 * 1024);
    EXPECT_EQ(detail::describe_size(FetchOptions{}.max_bytes), "64 MB");
}

TEST_F(FetchTest, RefusesLoopbackUnlessAllowed) {
    const std::string url = server_.url("/ok");
    expect_error(
        [&] { fetch_url(url, FetchOptions{}); }, ErrorCode::InvalidInput,
        {"URL '" + url + "'", "refused: 127.0.0.1 is a loopback address", "--allow-private-urls"});
    EXPECT_EQ(text_of(fetch_url(url, loopback_options())), "hello");
}

TEST_F(FetchTest, RefusesHostNameResolvingToLoopback) {
    const std::string url = "http://localhost:" + std::to_string(server_.port()) + "/ok";
    expect_error([&] { fetch_url(url, FetchOptions{}); }, ErrorCode::InvalidInput,
                 {"refused:", "loopback address"});
}

TEST_F(FetchTest, RefusesMappedAndUnspecifiedLiterals) {
    const std::string port = std::to_string(server_.port());
    expect_error([&] { fetch_url("http://[::ffff:127.0.0.1]:" + port + "/ok", FetchOptions{}); },
                 ErrorCode::InvalidInput, {"::ffff:127.0.0.1 is a loopback address"});
    expect_error([&] { fetch_url("http://0.0.0.0:" + port + "/ok", FetchOptions{}); },
                 ErrorCode::InvalidInput, {"0.0.0.0 is an unspecified address"});
    expect_error([&] { fetch_url("http://169.254.169.254/latest/meta-data/", FetchOptions{}); },
                 ErrorCode::InvalidInput, {"169.254.169.254 is a link-local address"});
}

TEST_F(FetchTest, RedirectFromAllowedHostToPrivateIsRefused) {
    FetchOptions options;
    options.allowed_hosts = {"127.0.0.1"};  // trusted like a public host would be
    EXPECT_EQ(text_of(fetch_url(server_.url("/ok"), options)), "hello");
    expect_error(
        [&] { fetch_url(server_.url("/to-private"), options); }, ErrorCode::InvalidInput,
        {"redirected to 'http://10.0.0.1/secret'", "refused: 10.0.0.1 is a private address"});
    expect_error([&] { fetch_url(server_.url("/to-localhost"), options); }, ErrorCode::InvalidInput,
                 {"refused:", "loopback address"});
}

TEST_F(FetchTest, RedirectToFileSchemeIsRefused) {
    expect_error([&] { fetch_url(server_.url("/to-file"), loopback_options()); },
                 ErrorCode::InvalidInput, {"refused"});
}

TEST_F(FetchTest, RefusesNonHttpSchemes) {
    for (const char* url :
         {"file:///etc/passwd", "ftp://example.com/a.png", "gopher://example.com/",
          "dict://127.0.0.1:11211/", "javascript:alert(1)", "/etc/passwd"}) {
        expect_error([&] { fetch_url(url, loopback_options()); }, ErrorCode::InvalidInput,
                     {"refused", "only http and https"});
    }
}

TEST_F(FetchTest, UnicodeAndSpacesInPath) {
    const FetchResult result = fetch_url(server_.url("/u/图片 文件/猫 😺.png"), loopback_options());
    EXPECT_EQ(text_of(result), "/u/图片 文件/猫 😺.png");
    EXPECT_EQ(result.final_url.find(' '), std::string::npos);
    EXPECT_NE(result.final_url.find("%E5%9B%BE"), std::string::npos);
}

TEST_F(FetchTest, AlreadyEncodedPathIsNotEncodedTwice) {
    EXPECT_EQ(text_of(fetch_url(server_.url("/u/a%20b%E7%8C%AB"), loopback_options())), "/u/a b猫");
    EXPECT_EQ(text_of(fetch_url(server_.url("/u/100%"), loopback_options())), "/u/100%");
}

TEST(EncodeUrl, EscapesOnlyWhatNeedsIt) {
    EXPECT_EQ(detail::encode_url("https://h.example/a b/猫.png?q=x y"),
              "https://h.example/a%20b/%E7%8C%AB.png?q=x%20y");
    EXPECT_EQ(detail::encode_url("https://h.example/a%20b"), "https://h.example/a%20b");
    EXPECT_EQ(detail::encode_url("https://h.example/50%zz"), "https://h.example/50%25zz");
    EXPECT_EQ(detail::encode_url("https://user@h.example:8080/ok?a=1&b=2#f"),
              "https://user@h.example:8080/ok?a=1&b=2#f");
}

TEST(AddressRefusal, ClassifiesSpecialRanges) {
    const std::pair<const char*, const char*> refused[] = {
        {"127.0.0.1", "loopback"},
        {"127.8.9.1", "loopback"},
        {"10.0.0.1", "private"},
        {"172.16.5.4", "private"},
        {"172.31.255.255", "private"},
        {"192.168.1.1", "private"},
        {"0.0.0.0", "unspecified"},
        {"169.254.169.254", "link-local"},
        {"100.64.0.1", "CGNAT"},
        {"100.127.255.254", "CGNAT"},
        {"224.0.0.1", "multicast"},
        {"255.255.255.255", "reserved"},
        {"::", "unspecified"},
        {"::1", "loopback"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:10.1.2.3", "private"},
        {"::ffff:169.254.0.1", "link-local"},
        {"64:ff9b::a00:1", "private"},
        {"2002:7f00:1::", "loopback"},
        {"fc00::1", "unique-local"},
        {"fd12:3456::1", "unique-local"},
        {"fe80::1", "link-local"},
        {"febf::1", "link-local"},
        {"ff02::1", "multicast"},
        {"2001:db8::1", "documentation"},
    };
    for (const auto& [ip, kind] : refused) {
        const auto reason = address_refusal_reason(ip);
        ASSERT_TRUE(reason.has_value()) << ip;
        EXPECT_NE(reason->find(kind), std::string::npos) << ip << ": " << *reason;
    }
    for (const char* ip : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "93.184.216.34",
                           "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8"}) {
        EXPECT_FALSE(address_refusal_reason(ip).has_value()) << ip;
    }
    EXPECT_THROW(address_refusal_reason("example.com"), Error);
}

}  // namespace
}  // namespace clipdex::hub
