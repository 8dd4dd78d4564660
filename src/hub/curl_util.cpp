#include "hub/curl_util.h"

#include "clipdex/error.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <mutex>

namespace clipdex::hub::detail {

void ensure_curl_initialised() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error(ErrorCode::Internal, "libcurl: curl_global_init failed");
        }
    });
}

void CurlHeaders::append(const std::string& line) {
    curl_slist* head = curl_slist_append(list_.get(), line.c_str());
    if (head == nullptr) {
        throw Error(ErrorCode::Internal, "libcurl: out of memory building request headers");
    }
    if (!list_) {
        list_.reset(head);
    }
}

CurlEasy make_easy_handle() {
    ensure_curl_initialised();
    CurlEasy handle(curl_easy_init());
    if (!handle) {
        throw Error(ErrorCode::Internal, "libcurl: curl_easy_init failed");
    }
    return handle;
}

namespace {

bool is_hex(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// RFC 3986 unreserved + reserved characters pass through; everything else is escaped.
bool is_url_safe(unsigned char c) {
    if (std::isalnum(c) != 0) {
        return true;
    }
    constexpr std::string_view allowed = "-._~:/?#[]@!$&'()*+,;=";
    return allowed.find(static_cast<char>(c)) != std::string_view::npos;
}

void append_escaped(std::string& out, unsigned char c) {
    constexpr std::string_view digits = "0123456789ABCDEF";
    out.push_back('%');
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0x0F]);
}

// Index where the path starts: after "scheme://authority", or 0 for scheme-less input.
std::size_t path_start(std::string_view url) {
    const std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return 0;
    }
    const std::size_t authority = scheme_end + 3;
    const std::size_t end = url.find_first_of("/?#", authority);
    return end == std::string_view::npos ? url.size() : end;
}

}  // namespace

std::string encode_url(std::string_view url) {
    const std::size_t start = path_start(url);
    std::string out(url.substr(0, start));
    out.reserve(url.size() + 16);
    for (std::size_t i = start; i < url.size(); ++i) {
        const auto c = static_cast<unsigned char>(url[i]);
        if (c == '%' && i + 2 < url.size() && is_hex(url[i + 1]) && is_hex(url[i + 2])) {
            out.push_back('%');
        } else if (c == '%' || !is_url_safe(c)) {
            append_escaped(out, c);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

std::string url_scheme(std::string_view url) {
    const std::size_t colon = url.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return "";
    }
    std::string scheme;
    for (char c : url.substr(0, colon)) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) == 0 && c != '+' && c != '-' && c != '.') {
            return "";
        }
        scheme.push_back(static_cast<char>(std::tolower(u)));
    }
    return scheme;
}

std::string describe_size(std::uint64_t bytes) {
    constexpr std::uint64_t kb = 1024;
    constexpr std::uint64_t mb = kb * 1024;
    constexpr std::uint64_t gb = mb * 1024;
    if (bytes >= gb && bytes % gb == 0) {
        return std::to_string(bytes / gb) + " GB";
    }
    if (bytes >= mb && bytes % mb == 0) {
        return std::to_string(bytes / mb) + " MB";
    }
    if (bytes >= kb && bytes % kb == 0) {
        return std::to_string(bytes / kb) + " KB";
    }
    return std::to_string(bytes) + " bytes";
}

std::string describe_seconds(double seconds) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%g s", seconds);
    return text.data();
}

namespace {

std::string_view trim(std::string_view s) {
    constexpr std::string_view space = " \t\r\n";
    const std::size_t begin = s.find_first_not_of(space);
    if (begin == std::string_view::npos) {
        return {};
    }
    const std::size_t end = s.find_last_not_of(space);
    return s.substr(begin, end - begin + 1);
}

}  // namespace

bool split_header(std::string_view line, std::string& name, std::string& value) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return false;
    }
    name = std::string(trim(line.substr(0, colon)));
    value = std::string(trim(line.substr(colon + 1)));
    return !name.empty();
}

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace clipdex::hub::detail
