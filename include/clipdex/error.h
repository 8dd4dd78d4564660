// clipdex errors: one exception type with a small set of codes.
//
// Library functions throw clipdex::Error for anything that ends the operation; the message
// names the input (file, collection, field, row, URL) and the reason. Interfaces (CLI, HTTP
// server, worker threads) catch it at their edge and turn it into an exit code, an HTTP status
// or a per-item report. Programming mistakes are assertions, never user-facing errors.
//
// Basic usage:
//   try {
//       auto engine = clipdex::Engine::open(options);
//   } catch (const clipdex::Error& e) {
//       std::cerr << clipdex::error_code_name(e.code()) << ": " << e.what() << "\n";
//   }
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "clipdex/export.h"

namespace clipdex {

enum class ErrorCode {
    InvalidInput,   // the caller's input is malformed or out of range (HTTP 400)
    NotFound,       // a named thing does not exist (404)
    AlreadyExists,  // creating something that exists (409)
    Conflict,  // refused because of state held elsewhere: a second writer, a model mismatch (409)
    Io,        // the operating system failed a read or write (500)
    Corrupt,   // stored or downloaded bytes are damaged or hostile (422 / 500)
    TooLarge,  // a size or pixel limit was exceeded (413)
    Unavailable,  // a server or network peer is unreachable or busy; may succeed later (503)
    Unsupported,  // valid input that this build or backend does not handle (501)
    Internal,     // a bug: an invariant did not hold (500)
};

// "invalid_input", "not_found", ... (the names the HTTP API and the CLI print).
CLIPDEX_API std::string_view error_code_name(ErrorCode code);

class CLIPDEX_API Error : public std::runtime_error {
  public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ~Error() override;  // out of line: one type_info, in the library, for every catch
    ErrorCode code() const noexcept { return code_; }

  private:
    ErrorCode code_;
};

}  // namespace clipdex
