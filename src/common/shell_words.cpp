#include "common/shell_words.h"

#include <cctype>
#include <string_view>

namespace clipdex {

std::string shell_quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'')
            quoted += "'\\''";
        else
            quoted += c;
    }
    return quoted + "'";
}

std::string shell_word(const std::string& text) {
    bool plain = !text.empty();
    for (char c : text)
        if (!(std::isalnum(static_cast<unsigned char>(c)) ||
              std::string_view("/._-:+@=,").find(c) != std::string_view::npos))
            plain = false;
    return plain ? text : shell_quote(text);
}

}  // namespace clipdex
