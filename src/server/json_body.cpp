#include "server/json_body.h"

#include <string>

#include "clipdex/error.h"

namespace clipdex::server {

namespace {

// nlohmann's parse errors read "[json.exception.parse_error.101] parse error at line 1,
// column 2: syntax error while parsing object key - invalid literal; last read: '{n'; expected
// string literal": keep the part after the position, which says what was read and expected.
std::string reason_of(const nlohmann::json::parse_error& error) {
    std::string text = error.what();
    const size_t colon = text.find(": ", text.find("parse error"));
    if (colon != std::string::npos) text = text.substr(colon + 2);
    return text;
}

}  // namespace

nlohmann::json parse_json_body(std::string_view body) {
    if (body.empty())
        throw Error(ErrorCode::InvalidInput, "request body is empty: a JSON object is expected");
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(body.begin(), body.end());
    } catch (const nlohmann::json::parse_error& error) {
        // error.byte counts from 1 and is the byte where parsing stopped.
        size_t line = 1, column = 0;
        const size_t stop = std::min<size_t>(error.byte, body.size());
        for (size_t i = 0; i < stop; ++i) {
            if (body[i] == '\n') {
                ++line;
                column = 0;
            } else {
                ++column;
            }
        }
        throw Error(ErrorCode::InvalidInput,
                    "request body is not valid JSON at line " + std::to_string(line) + ", column " +
                        std::to_string(column) + " (byte " + std::to_string(error.byte) +
                        "): " + reason_of(error));
    }
    if (!value.is_object())
        throw Error(
            ErrorCode::InvalidInput,
            std::string("request body must be a JSON object, got a JSON ") + value.type_name());
    return value;
}

}  // namespace clipdex::server
