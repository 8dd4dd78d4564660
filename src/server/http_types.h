// The request and response that clipdex's HTTP handlers see: plain strings and vectors, no
// HTTP library types, so handlers, the multipart and query parsers and their tests do not depend
// on the network layer (http_connection.cpp turns Beast's messages into these and back).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"

namespace clipdex::server {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method;  // as sent, upper case for the methods HTTP defines ("GET", "POST")
    std::string target;  // as sent, still percent-encoded
    std::string path;    // target before '?', percent-decoded
    Fields query;        // decoded name/value pairs in order; '+' is a space
    Fields headers;      // names lower-cased, values as sent
    std::string body;

    // First header named `name` (give it lower-case), or nothing.
    const std::string* header(std::string_view name) const;
    bool has_param(std::string_view name) const;
    // First value of the query parameter, empty when absent.
    std::string param(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    Fields headers;  // extra headers (Allow, WWW-Authenticate, Retry-After)
    std::string body;
    bool close = false;  // close the connection after this answer
};

Response json_response(int status, const nlohmann::json& body);
// {"success": false, "error": message, "code": code}, the shape of every refusal.
Response error_response(int status, std::string_view code, std::string_view message);

// The HTTP status that answers an error of this code (InvalidInput 400, NotFound 404,
// TooLarge 413, Unavailable 503, ...).
int http_status(ErrorCode code);

// ASCII lower case, for header names and auth schemes.
std::string lower_ascii(std::string_view text);
bool iequals_ascii(std::string_view a, std::string_view b);

}  // namespace clipdex::server
