#include "server/query.h"

#include "clipdex/error.h"

namespace clipdex::server {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space, std::string_view what) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
            const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
            if (high < 0 || low < 0)
                throw Error(ErrorCode::InvalidInput,
                            std::string(what) + ": malformed percent-escape at offset " +
                                std::to_string(i) + " (expected '%' and two hex digits)");
            out.push_back(static_cast<char>(high * 16 + low));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

Fields parse_query(std::string_view query) {
    Fields out;
    size_t start = 0;
    while (start <= query.size()) {
        size_t end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        const std::string_view piece = query.substr(start, end - start);
        if (!piece.empty()) {
            const size_t eq = piece.find('=');
            const std::string_view name = piece.substr(0, eq);
            const std::string_view value =
                eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
            std::string decoded_name = percent_decode(name, true, "query parameter name");
            std::string decoded_value =
                percent_decode(value, true, "query parameter '" + decoded_name + "'");
            out.emplace_back(std::move(decoded_name), std::move(decoded_value));
        }
        start = end + 1;
    }
    return out;
}

void split_target(std::string_view target, std::string& path, Fields& query) {
    if (target.empty() || target.front() != '/')
        throw Error(ErrorCode::InvalidInput,
                    "request target must be a path starting with '/', got '" +
                        std::string(target.substr(0, 200)) + "'");
    const size_t mark = target.find('?');
    const std::string_view raw_path = target.substr(0, mark);
    path = percent_decode(raw_path, false, "request path");
    query = mark == std::string_view::npos ? Fields() : parse_query(target.substr(mark + 1));
}

}  // namespace clipdex::server
