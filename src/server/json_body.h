// JSON request bodies: a JSON object or an error that says where the text went wrong.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace clipdex::server {

// Parses `body` as a JSON object. Throws Error(InvalidInput): empty body, text that is not JSON
// ("request body is not valid JSON at line 1, column 2 (byte 2): ... expected ..."), or a value
// that is not an object.
nlohmann::json parse_json_body(std::string_view body);

}  // namespace clipdex::server
