#include "server/http_types.h"

namespace clipdex::server {

int http_status(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidInput:
            return 400;
        case ErrorCode::NotFound:
            return 404;
        case ErrorCode::AlreadyExists:
        case ErrorCode::Conflict:
            return 409;
        case ErrorCode::TooLarge:
            return 413;
        case ErrorCode::Corrupt:
            return 422;
        case ErrorCode::Unsupported:
            return 501;
        case ErrorCode::Unavailable:
            return 503;
        case ErrorCode::Io:
        case ErrorCode::Internal:
            return 500;
    }
    return 500;
}

const std::string* Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (key == name) return &value;
    return nullptr;
}

bool Request::has_param(std::string_view name) const {
    for (const auto& entry : query)
        if (entry.first == name) return true;
    return false;
}

std::string Request::param(std::string_view name) const {
    for (const auto& [key, value] : query)
        if (key == name) return value;
    return {};
}

Response json_response(int status, const nlohmann::json& body) {
    Response response;
    response.status = status;
    response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return response;
}

Response error_response(int status, std::string_view code, std::string_view message) {
    return json_response(
        status, {{"success", false}, {"error", std::string(message)}, {"code", std::string(code)}});
}

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    return a.size() == b.size() && lower_ascii(a) == lower_ascii(b);
}

}  // namespace clipdex::server
