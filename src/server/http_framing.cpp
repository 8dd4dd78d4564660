#include "server/http_framing.h"

#include <boost/beast/core/error.hpp>

#include "clipdex/error.h"
#include "server/query.h"

namespace clipdex::server {

namespace {

std::string size_text(size_t bytes) {
    return std::to_string(bytes) + " bytes";
}

// The method of a request line still in the buffer ("GET /very/long..." -> "GET").
std::string method_of(std::string_view buffered) {
    const size_t end = buffered.find_first_of(" \r\n");
    std::string method(buffered.substr(0, std::min<size_t>(end, 32)));
    for (char& c : method)
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    return method.empty() ? std::string("(no method)") : method;
}

Response closing(Response response) {
    response.close = true;
    return response;
}

// Compares in time independent of where the first difference is.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

}  // namespace

void prepare_parser(RequestParser& parser, const FramingLimits& limits) {
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(boost::none);
}

void set_body_limit(RequestParser& parser, const FramingLimits& limits) {
    parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
}

Response refusal_for_read_error(const boost::system::error_code& error, std::string_view buffered,
                                const FramingLimits& limits) {
    if (error == http::error::header_limit) {
        const size_t line_end = buffered.find("\r\n");
        const size_t line = line_end == std::string_view::npos ? buffered.size() : line_end;
        if (line > limits.max_target_bytes)
            return closing(error_response(
                414, "http_error",
                method_of(buffered) + " refused: the request target is longer than " +
                    size_text(limits.max_target_bytes) + " (HTTP 414 URI Too Long)"));
        return closing(error_response(431, "http_error",
                                      "request header fields exceed " +
                                          size_text(limits.max_header_bytes) +
                                          " (HTTP 431 Request Header Fields Too Large)"));
    }
    if (error == http::error::body_limit)
        return closing(error_response(413, "too_large",
                                      "request body exceeds the limit of " +
                                          size_text(limits.max_body_bytes) + " (--max-body)"));
    if (error == boost::beast::error::timeout)
        return closing(
            error_response(408, "http_error", "the request did not arrive in time (HTTP 408)"));
    if (error == http::error::bad_content_length || error == http::error::multiple_content_length)
        return closing(error_response(
            400, "http_error",
            "Content-Length must be one non-negative decimal integer (" + error.message() + ")"));
    if (error == http::error::bad_transfer_encoding)
        return closing(
            error_response(400, "http_error",
                           "Transfer-Encoding conflicts with Content-Length or repeats chunked (" +
                               error.message() + ")"));
    return closing(error_response(400, "http_error",
                                  "malformed HTTP request: " + error.message() + " (HTTP 400)"));
}

bool bearer_matches(const std::string* authorization, const std::string& token) {
    if (!authorization) return false;
    std::string_view value(*authorization);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    const size_t space = value.find_first_of(" \t");
    if (space == std::string_view::npos || !iequals_ascii(value.substr(0, space), "bearer"))
        return false;
    std::string_view credentials = value.substr(space);
    while (!credentials.empty() && (credentials.front() == ' ' || credentials.front() == '\t'))
        credentials.remove_prefix(1);
    while (!credentials.empty() && (credentials.back() == ' ' || credentials.back() == '\t'))
        credentials.remove_suffix(1);
    return same_secret(credentials, token);
}

HeadCheck check_head(const RequestParser& parser, const Router& router, const FramingLimits& limits,
                     Request& request) {
    const RequestHeader& head = parser.get().base();
    HeadCheck check;
    check.has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
    auto refuse = [&](Response response) {
        if (check.has_body) response.close = true;
        check.refusal = std::move(response);
        return check;
    };

    request.method = std::string(head.method_string());
    request.target = std::string(head.target());
    request.headers.clear();
    for (const auto& field : head)
        request.headers.emplace_back(lower_ascii(field.name_string()), std::string(field.value()));

    if (head.method() == http::verb::unknown)
        return refuse(error_response(400, "http_error",
                                     request.method + " " +
                                         std::string(head.target().substr(0, 200)) +
                                         " refused: unknown HTTP method (HTTP 400)"));
    if (request.target.size() > limits.max_target_bytes)
        return refuse(closing(error_response(414, "http_error",
                                             request.method + " refused: the request target has " +
                                                 size_text(request.target.size()) + ", more than " +
                                                 size_text(limits.max_target_bytes) +
                                                 " (HTTP 414 URI Too Long)")));
    try {
        split_target(request.target, request.path, request.query);
    } catch (const Error& e) {
        return refuse(error_response(400, "invalid_input", e.what()));
    }
    check.route = router.find(request.path);
    if (!check.route || !Router::allows(*check.route, request.method))
        return refuse(Router::refuse(check.route, request.method, request.path));

    // Framing. Beast refuses non-numeric, negative and conflicting lengths itself; a repeated
    // header (even with equal values) and a list ("5, 5") are refused here, as are transfer
    // codings other than a final chunked, which would leave the body's end unknown.
    size_t lengths = 0;
    bool transfer_encoding = false;
    for (const auto& field : head) {
        if (field.name() == http::field::content_length) {
            ++lengths;
            if (field.value().find(',') != boost::beast::string_view::npos) ++lengths;
        }
        if (field.name() == http::field::transfer_encoding) transfer_encoding = true;
    }
    if (lengths > 1)
        return refuse(
            closing(error_response(400, "http_error",
                                   request.method + " " + request.path +
                                       ": Content-Length is given more than once (HTTP 400)")));
    if (transfer_encoding && !parser.chunked())
        return refuse(closing(error_response(
            400, "http_error",
            request.method + " " + request.path +
                ": only the chunked Transfer-Encoding is accepted, got '" +
                std::string(head[http::field::transfer_encoding].substr(0, 100)) + "'")));
    if (head.method() == http::verb::post && !parser.chunked() && !parser.content_length())
        return refuse(closing(error_response(
            411, "http_error",
            request.method + " " + request.path +
                " needs a Content-Length or a chunked body (HTTP 411 Length Required)")));
    if (parser.content_length() && *parser.content_length() > limits.max_body_bytes)
        return refuse(closing(error_response(
            413, "too_large",
            request.method + " " + request.path + ": request body of " +
                size_text(static_cast<size_t>(*parser.content_length())) +
                " exceeds the limit of " + size_text(limits.max_body_bytes) + " (--max-body)")));

    if (!limits.bearer_token.empty() &&
        !bearer_matches(request.header("authorization"), limits.bearer_token)) {
        Response response = error_response(401, "unauthorized", "missing or wrong bearer token");
        response.headers.emplace_back("WWW-Authenticate",
                                      request.header("authorization")
                                          ? "Bearer realm=\"clipdex\", error=\"invalid_token\""
                                          : "Bearer realm=\"clipdex\"");
        return refuse(std::move(response));
    }
    const std::string* expect = request.header("expect");
    check.expect_continue = expect && iequals_ascii(*expect, "100-continue");
    return check;
}

Response answer_buffered(std::string_view bytes, const Router& router,
                         const FramingLimits& limits) {
    RequestParser parser;
    prepare_parser(parser, limits);
    boost::system::error_code error;
    // Feeds the parser until `done` holds, the bytes run out or it fails.
    auto feed = [&](auto done) {
        while (!error && !done() && !bytes.empty()) {
            const size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), error);
            bytes.remove_prefix(used);
            if (error == http::error::need_more) {
                error = {};
                if (used == 0) break;
            }
        }
    };
    const std::string_view all = bytes;
    parser.eager(false);
    feed([&] { return parser.is_header_done(); });
    if (error) return refusal_for_read_error(error, all, limits);
    if (!parser.is_header_done())
        return refusal_for_read_error(http::error::partial_message, all, limits);
    Request request;
    HeadCheck check = check_head(parser, router, limits, request);
    if (check.refusal) return std::move(*check.refusal);
    set_body_limit(parser, limits);
    parser.eager(true);
    feed([&] { return parser.is_done(); });
    if (!error && !parser.is_done()) {
        parser.put_eof(error);
        if (!error && !parser.is_done()) error = http::error::partial_message;
    }
    if (error) return refusal_for_read_error(error, {}, limits);
    request.body = std::move(parser.get().body());
    try {
        return check.route->handler(request);
    } catch (const std::exception& e) {
        return error_response(500, "internal", e.what());
    }
}

}  // namespace clipdex::server
