// multipart/form-data bodies (RFC 7578), as `POST /search` receives an uploaded image with the
// fields `k` and `filter`. Bounded: at most `max_parts` parts and `max_header_bytes` of headers
// per part; parts are views into the body (no copy of an uploaded image).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipdex::server {

struct MultipartLimits {
    size_t max_parts = 64;
    size_t max_header_bytes = 8192;  // one part's header block
};

struct FormPart {
    std::string name;          // Content-Disposition name
    std::string filename;      // Content-Disposition filename (or filename*=UTF-8''...), or empty
    std::string content_type;  // the part's Content-Type, or empty
    std::string_view content;  // points into the body given to parse_multipart
};

// The parameter `name` of a header value such as `multipart/form-data; boundary="x y"` or
// `form-data; name="k"`: quoted strings unescaped, names compared case-insensitively.
std::optional<std::string> header_parameter(std::string_view value, std::string_view name);

// True when a Content-Type value names multipart/form-data.
bool is_multipart_form(std::string_view content_type);

// Parses the body; throws Error(InvalidInput) saying what is wrong and where (byte offset), or
// Error(TooLarge) when a limit is exceeded.
std::vector<FormPart> parse_multipart(std::string_view content_type, std::string_view body,
                                      const MultipartLimits& limits = {});

// The first part named `name`, or nullptr.
const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace clipdex::server
