// Request targets: the path and the query string, percent-decoded. Malformed escapes ("%zz",
// a lone "%") are errors naming the text, never silently kept.
#pragma once

#include <string>
#include <string_view>

#include "server/http_types.h"

namespace clipdex::server {

// Decodes %XX escapes; with plus_is_space, '+' becomes ' ' (query strings, form encoding).
// Throws Error(InvalidInput) naming `what` and the offset of a malformed escape.
std::string percent_decode(std::string_view text, bool plus_is_space, std::string_view what);

// "a=1&b=x%20y&flag" -> {("a","1"), ("b","x y"), ("flag","")}; empty pieces are skipped.
Fields parse_query(std::string_view query);

// Splits a request target into its decoded path and query. Only origin-form targets ("/path?q")
// are accepted; anything else (absolute URLs, "*") throws Error(InvalidInput).
void split_target(std::string_view target, std::string& path, Fields& query);

}  // namespace clipdex::server
