#include "clipdex/error.h"

namespace clipdex {

Error::~Error() = default;

std::string_view error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidInput:
            return "invalid_input";
        case ErrorCode::NotFound:
            return "not_found";
        case ErrorCode::AlreadyExists:
            return "already_exists";
        case ErrorCode::Conflict:
            return "conflict";
        case ErrorCode::Io:
            return "io";
        case ErrorCode::Corrupt:
            return "corrupt";
        case ErrorCode::TooLarge:
            return "too_large";
        case ErrorCode::Unavailable:
            return "unavailable";
        case ErrorCode::Unsupported:
            return "unsupported";
        case ErrorCode::Internal:
            return "internal";
    }
    return "unknown";
}

}  // namespace clipdex
