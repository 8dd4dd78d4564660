// The HTTP layer's decisions about one request, apart from sockets so that the fuzz target
// (tests/fuzz/fuzz_http_request.cpp) and the connection take the same path: parser limits, what
// a read error is answered with, and the checks on a parsed header (method, target, route,
// Content-Length / Transfer-Encoding, body size, bearer token) before any body byte is read.
#pragma once

#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_types.h"
#include "server/router.h"

namespace clipdex::server {

namespace http = boost::beast::http;
using RequestParser = http::request_parser<http::string_body>;
using RequestHeader = http::request_header<>;

struct FramingLimits {
    size_t max_body_bytes = 64ull << 20;
    size_t max_header_bytes = 16384;  // request line and header fields together
    size_t max_target_bytes = 8192;   // the request target (path and query)
    std::string bearer_token;         // empty: no authentication
};

// A fresh parser with the header limit and no body limit yet (check_head sees the declared
// length first and answers 413 itself; set_body_limit arms the limit before the body is read).
void prepare_parser(RequestParser& parser, const FramingLimits& limits);
void set_body_limit(RequestParser& parser, const FramingLimits& limits);

// The answer to a failed header or body read. `buffered` holds the bytes received so far (to
// tell an over-long target, 414 with its method, from too many header bytes, 431).
Response refusal_for_read_error(const boost::system::error_code& error, std::string_view buffered,
                                const FramingLimits& limits);

struct HeadCheck {
    std::optional<Response> refusal;  // set: answer this and do not run a handler
    const Route* route = nullptr;     // the route to run when there is no refusal
    bool has_body = false;            // a body follows the header (length > 0 or chunked)
    bool expect_continue = false;     // the client waits for "100 Continue" before its body
};

// Checks a parsed header in this order: a known method (400), the target's length (414) and
// form (400), the route (404 / 405), framing (400 for a bad or repeated Content-Length or a
// Transfer-Encoding other than chunked; 411 for a POST with neither), the declared length
// (413), then the bearer token (401 with WWW-Authenticate). Fills request's method, target,
// path, query and headers. A refusal of a request with a body closes the connection.
HeadCheck check_head(const RequestParser& parser, const Router& router, const FramingLimits& limits,
                     Request& request);

// A connection's whole path for a request already in memory, without sockets: parse `bytes` with
// the limits, check the head, read the body, run the route's handler (exceptions become 500).
// Returns the answer a connection would write; bytes that end early give 400 (incomplete). For
// the fuzz target and unit tests.
Response answer_buffered(std::string_view bytes, const Router& router, const FramingLimits& limits);

// Whether `authorization` ("Bearer TOKEN", scheme in any case) carries `token`.
bool bearer_matches(const std::string* authorization, const std::string& token);

}  // namespace clipdex::server
