// Text made into one POSIX shell word, for the commands that error messages advise (a model
// path, a database, a curl line), so that following the advice literally works.
#pragma once

#include <string>

namespace clipdex {

// `text` in single quotes; a single quote inside becomes '\''.
std::string shell_quote(const std::string& text);

// `text` unchanged when it is plain (letters, digits and /._-:+@=,), else shell_quote(text).
std::string shell_word(const std::string& text);

}  // namespace clipdex
