#include "store/milvus/milvus_uri.h"

#include <cctype>

#include "clipdex/error.h"

namespace clipdex::store::milvus {
namespace {

[[noreturn]] void bad_uri(const std::string& uri, const std::string& why) {
    throw Error(ErrorCode::InvalidInput, "Milvus URI `" + uri + "`: " + why);
}

bool valid_port(std::string_view port) {
    if (port.empty() || port.size() > 5) return false;
    for (char c : port) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    int value = std::stoi(std::string(port));
    return value > 0 && value < 65536;
}

}  // namespace

Endpoint parse_uri(const std::string& uri) {
    Endpoint endpoint;
    std::string_view rest(uri);
    if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
        endpoint.tls = true;
    } else {
        bad_uri(uri, "expected http://host:port or https://host:port");
    }
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash + 1);
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        if (path.find_first_of("/?#") != std::string_view::npos) {
            bad_uri(uri, "the path may only name a database");
        }
        endpoint.db_name = std::string(path);
    }
    if (authority.find('@') != std::string_view::npos) {
        bad_uri(uri, "put credentials in the token, not the URI");
    }
    std::string_view host = authority;
    std::string_view port = "19530";
    if (authority.starts_with("[")) {  // IPv6 literal
        size_t close = authority.find(']');
        if (close == std::string_view::npos) bad_uri(uri, "unterminated IPv6 address");
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') bad_uri(uri, "expected `:port` after the IPv6 address");
            port = after.substr(1);
        }
    } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) bad_uri(uri, "no host");
    if (!valid_port(port)) bad_uri(uri, "bad port `" + std::string(port) + "`");
    endpoint.target = std::string(host) + ":" + std::string(port);
    return endpoint;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                     uint32_t(uint8_t(bytes[i + 2]));
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    size_t left = bytes.size() - i;
    if (left > 0) {
        uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
        if (left == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> call_metadata(const std::string& token,
                                                               const std::string& db_name) {
    std::vector<std::pair<std::string, std::string>> metadata;
    if (!token.empty()) metadata.emplace_back("authorization", base64_encode(token));
    if (!db_name.empty()) metadata.emplace_back("dbname", db_name);
    return metadata;
}

}  // namespace clipdex::store::milvus
