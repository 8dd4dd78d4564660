// HTML character references, decoded as the two Python functions in CLIP's text cleaning do.
#pragma once

#include <string>

namespace clipdex::text::detail {

// CPython 3.11 html.unescape(): numeric references (with its table of invalid code points) and
// the HTML5 named references, including the legacy names that may omit ';' (longest prefix).
std::u32string python_html_unescape(const std::u32string& text);

// ftfy 6.3 fixes.unescape_html(): only "&name;" / "&#...;" with at most 24 ASCII alphanumerics,
// HTML5 names plus ftfy's upper-case aliases ("&EACUTE;" -> "É").
std::u32string ftfy_unescape_html(const std::u32string& text);

}  // namespace clipdex::text::detail
