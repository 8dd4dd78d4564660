#include "hub/http_fetch.h"

#include "clipdex/error.h"
#include "hub/curl_util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include "common/ascii.h"

namespace clipdex::hub {

namespace {

using Clock = std::chrono::steady_clock;
using detail::CurlEasy;
using detail::is_redirect;

const std::string kAllowHint = " (use --allow-private-urls)";

// ---- address classification --------------------------------------------------------------

struct V4Range {
    std::uint32_t base;
    int prefix;
    const char* reason;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

// Everything that is not globally routable unicast, so that no URL can reach the network the
// server itself lives in (IANA special-purpose registry, RFC 6890).
constexpr std::array<V4Range, 15> kV4Blocked{{
    {v4(0, 0, 0, 0), 8, "an unspecified address"},
    {v4(10, 0, 0, 0), 8, "a private address"},
    {v4(100, 64, 0, 0), 10, "a shared (CGNAT) address"},
    {v4(127, 0, 0, 0), 8, "a loopback address"},
    {v4(169, 254, 0, 0), 16, "a link-local address"},
    {v4(172, 16, 0, 0), 12, "a private address"},
    {v4(192, 0, 0, 0), 24, "a reserved address"},
    {v4(192, 0, 2, 0), 24, "a documentation address"},
    {v4(192, 88, 99, 0), 24, "a reserved (6to4 relay) address"},
    {v4(192, 168, 0, 0), 16, "a private address"},
    {v4(198, 18, 0, 0), 15, "a reserved (benchmarking) address"},
    {v4(198, 51, 100, 0), 24, "a documentation address"},
    {v4(203, 0, 113, 0), 24, "a documentation address"},
    {v4(224, 0, 0, 0), 4, "a multicast address"},
    {v4(240, 0, 0, 0), 4, "a reserved address"},
}};

std::optional<std::string> classify_v4(std::uint32_t address) {
    for (const V4Range& range : kV4Blocked) {
        const std::uint32_t mask = range.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - range.prefix);
        if ((address & mask) == range.base) {
            return std::string(range.reason);
        }
    }
    return std::nullopt;
}

using V6Bytes = std::array<std::uint8_t, 16>;

std::uint32_t v4_at(const V6Bytes& bytes, std::size_t offset) {
    return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
           (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

bool has_prefix(const V6Bytes& bytes, std::initializer_list<std::uint8_t> prefix) {
    return std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

bool all_zero(const V6Bytes& bytes, std::size_t begin, std::size_t end) {
    return std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(begin),
                       bytes.begin() + static_cast<std::ptrdiff_t>(end),
                       [](std::uint8_t b) { return b == 0; });
}

// IPv6 forms that carry an IPv4 address are judged by that address, so ::ffff:127.0.0.1 or
// 64:ff9b::a00:1 cannot reach what 127.0.0.1 or 10.0.0.1 would be refused for.
std::optional<std::uint32_t> embedded_v4(const V6Bytes& bytes) {
    if (all_zero(bytes, 0, 10) && bytes[10] == 0xff && bytes[11] == 0xff) {
        return v4_at(bytes, 12);  // ::ffff:a.b.c.d (v4-mapped)
    }
    if (all_zero(bytes, 0, 12)) {
        return v4_at(bytes, 12);  // ::a.b.c.d (v4-compatible, deprecated)
    }
    if (has_prefix(bytes, {0x00, 0x64, 0xff, 0x9b}) && all_zero(bytes, 4, 12)) {
        return v4_at(bytes, 12);  // 64:ff9b::/96 NAT64
    }
    if (has_prefix(bytes, {0x20, 0x02})) {
        return v4_at(bytes, 2);  // 2002::/16 6to4
    }
    return std::nullopt;
}

std::optional<std::string> classify_v6(const V6Bytes& bytes) {
    if (all_zero(bytes, 0, 16)) {
        return "an unspecified address";
    }
    if (all_zero(bytes, 0, 15) && bytes[15] == 1) {
        return "a loopback address";
    }
    if (auto inner = embedded_v4(bytes)) {
        return classify_v4(*inner);
    }
    if (has_prefix(bytes, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01})) {
        // 64:ff9b:1::/48 (RFC 8215): a network's own NAT64 translator, which carries the IPv4
        // address at an offset of the operator's choosing, so it may reach any private address.
        return "a local-use NAT64 address";
    }
    if ((bytes[0] & 0xfe) == 0xfc) {
        return "a unique-local address";
    }
    if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) {
        return "a link-local address";
    }
    if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0xc0) {
        return "a site-local address";
    }
    if (bytes[0] == 0xff) {
        return "a multicast address";
    }
    if (has_prefix(bytes, {0x20, 0x01, 0x0d, 0xb8})) {
        return "a documentation address";
    }
    if (has_prefix(bytes, {0x20, 0x01, 0x00, 0x00})) {
        return "a reserved (Teredo) address";
    }
    if (has_prefix(bytes, {0x01, 0x00}) && all_zero(bytes, 2, 8)) {
        return "a reserved (discard) address";
    }
    return std::nullopt;
}

std::optional<std::string> classify_sockaddr(const sockaddr* address) {
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof in);
        return classify_v4(ntohl(in.sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof in6);
        V6Bytes bytes{};
        std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
        return classify_v6(bytes);
    }
    return std::string("not an IP address");
}

std::string sockaddr_text(const sockaddr* address) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* raw = nullptr;
    sockaddr_in in{};
    sockaddr_in6 in6{};
    if (address->sa_family == AF_INET) {
        std::memcpy(&in, address, sizeof in);
        raw = &in.sin_addr;
    } else if (address->sa_family == AF_INET6) {
        std::memcpy(&in6, address, sizeof in6);
        raw = &in6.sin6_addr;
    }
    if (raw == nullptr || inet_ntop(address->sa_family, raw, text.data(), text.size()) == nullptr) {
        return "?";
    }
    return text.data();
}

// ---- one request -------------------------------------------------------------------------

[[noreturn]] void fail(ErrorCode code, std::string_view url, const std::string& reason) {
    throw Error(code, "URL '" + std::string(url) + "': " + reason);
}

struct UrlParts {
    std::string scheme;
    std::string host;  // without IPv6 brackets
    std::string port;
};

struct CurlUrlDeleter {
    void operator()(CURLU* handle) const noexcept { curl_url_cleanup(handle); }
};

std::string url_part(CURLU* handle, CURLUPart part, unsigned flags) {
    char* raw = nullptr;
    if (curl_url_get(handle, part, &raw, flags) != CURLUE_OK || raw == nullptr) {
        return "";
    }
    std::string value(raw);
    curl_free(raw);
    return value;
}

UrlParts parse_url(const std::string& encoded, std::string_view original) {
    detail::ensure_curl_initialised();
    std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
    if (!handle) {
        throw Error(ErrorCode::Internal, "libcurl: curl_url failed");
    }
    if (curl_url_set(handle.get(), CURLUPART_URL, encoded.c_str(), 0) != CURLUE_OK) {
        fail(ErrorCode::InvalidInput, original, "not a valid URL");
    }
    UrlParts parts;
    parts.scheme = url_part(handle.get(), CURLUPART_SCHEME, 0);
    parts.host = url_part(handle.get(), CURLUPART_HOST, 0);
    parts.port = url_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    if (parts.host.size() >= 2 && parts.host.front() == '[' && parts.host.back() == ']') {
        parts.host = parts.host.substr(1, parts.host.size() - 2);
    }
    if (parts.host.empty()) {
        fail(ErrorCode::InvalidInput, original, "no host name");
    }
    return parts;
}

struct AddrinfoDeleter {
    void operator()(addrinfo* list) const noexcept { freeaddrinfo(list); }
};

std::vector<std::string> resolve_host(const UrlParts& parts, std::string_view original,
                                      bool numeric_only) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = numeric_only ? AI_NUMERICHOST : 0;
    addrinfo* raw = nullptr;
    const int status = getaddrinfo(parts.host.c_str(), parts.port.c_str(), &hints, &raw);
    std::unique_ptr<addrinfo, AddrinfoDeleter> list(raw);
    if (status != 0) {
        fail(ErrorCode::Unavailable, original,
             "could not resolve host '" + parts.host + "': " + gai_strerror(status));
    }
    std::vector<std::string> addresses;
    for (const addrinfo* entry = list.get(); entry != nullptr; entry = entry->ai_next) {
        std::string text = sockaddr_text(entry->ai_addr);
        if (auto reason = classify_sockaddr(entry->ai_addr)) {
            fail(ErrorCode::InvalidInput, original,
                 "refused: " + text + " is " + *reason + kAllowHint);
        }
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
            addresses.push_back(std::move(text));
        }
    }
    if (addresses.empty()) {
        fail(ErrorCode::Unavailable, original, "host '" + parts.host + "' has no address");
    }
    return addresses;
}

bool is_ip_literal(const std::string& host) {
    std::array<unsigned char, sizeof(in6_addr)> buffer{};
    return inet_pton(AF_INET, host.c_str(), buffer.data()) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buffer.data()) == 1;
}

// "host:port:addr,[v6addr]" tells curl to use exactly the addresses checked above.
std::string resolve_entry(const UrlParts& parts, const std::vector<std::string>& addresses) {
    std::string entry = parts.host + ":" + parts.port + ":";
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        const bool v6 = addresses[i].find(':') != std::string::npos;
        entry += (i == 0 ? "" : ",") + (v6 ? "[" + addresses[i] + "]" : addresses[i]);
    }
    return entry;
}

struct Transfer {
    std::vector<std::uint8_t> body;
    std::uint64_t max_bytes = 0;
    bool too_large = false;
    bool check_addresses = false;
    std::string refused;  // set by the socket callback when it refused an address
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t length = size * count;
    if (transfer->body.size() + length > transfer->max_bytes) {
        transfer->too_large = true;
        return 0;  // makes curl abort with CURLE_WRITE_ERROR
    }
    transfer->body.insert(transfer->body.end(), data, data + length);
    return length;
}

// Last line of defence: whatever address curl is about to connect to is checked again here,
// so no resolution path (cache, happy eyeballs, a future option) can bypass the rule.
curl_socket_t on_open_socket(void* user, curlsocktype /*purpose*/, curl_sockaddr* address) {
    auto* transfer = static_cast<Transfer*>(user);
    if (transfer->check_addresses) {
        if (auto reason = classify_sockaddr(&address->addr)) {
            transfer->refused = sockaddr_text(&address->addr) + " is " + *reason;
            return CURL_SOCKET_BAD;
        }
    }
    return socket(address->family, address->socktype, address->protocol);
}

struct Hop {
    long status = 0;
    std::string redirect_url;
    std::string content_type;
    std::vector<std::uint8_t> body;
};

long remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<long>(std::max<long long>(left, 0));
}

bool host_exempt(const UrlParts& parts, const FetchOptions& options) {
    return options.allow_private ||
           std::any_of(options.allowed_hosts.begin(), options.allowed_hosts.end(),
                       [&](const std::string& host) { return ascii_iequals(host, parts.host); });
}

void check_curl_result(CURLcode code, const Transfer& transfer, const FetchOptions& options,
                       std::string_view original,
                       const std::array<char, CURL_ERROR_SIZE>& message) {
    if (code == CURLE_OK) {
        return;
    }
    if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED) {
        fail(ErrorCode::TooLarge, original, "exceeded " + detail::describe_size(options.max_bytes));
    }
    if (!transfer.refused.empty()) {
        fail(ErrorCode::InvalidInput, original, "refused: " + transfer.refused + kAllowHint);
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
        fail(ErrorCode::Unavailable, original,
             "timed out after " + detail::describe_seconds(options.total_timeout_s));
    }
    if (code == CURLE_UNSUPPORTED_PROTOCOL) {
        fail(ErrorCode::InvalidInput, original, "unsupported protocol (only http and https)");
    }
    const std::string detail_text = message[0] != '\0' ? message.data() : curl_easy_strerror(code);
    fail(ErrorCode::Unavailable, original, detail_text);
}

// The checks of one hop before any connection: scheme, URL syntax, and the address rule.
UrlTarget target_of(const std::string& url, const FetchOptions& options, std::string_view original,
                    bool numeric_only) {
    const std::string scheme = detail::url_scheme(url);
    if (scheme != "http" && scheme != "https") {
        const std::string shown = scheme.empty() ? "no scheme" : "scheme '" + scheme + "'";
        fail(ErrorCode::InvalidInput, original, "refused: " + shown + " (only http and https)");
    }
    UrlParts parts = parse_url(url, original);
    UrlTarget target;
    target.exempt = host_exempt(parts, options);
    if (!target.exempt) {
        // A literal is classified here too, for a clear message.
        target.addresses = resolve_host(parts, original, numeric_only);
    }
    target.scheme = scheme;
    target.host = std::move(parts.host);
    target.port = std::move(parts.port);
    return target;
}

Hop perform_hop(const std::string& url, const FetchOptions& options, Clock::time_point deadline,
                std::string_view original) {
    const UrlTarget target = target_of(url, options, original, false);
    Transfer transfer;
    transfer.max_bytes = options.max_bytes;
    transfer.check_addresses = !target.exempt;

    CurlEasy handle = detail::make_easy_handle();
    CURL* curl = handle.get();
    curl_slist pin_node{};
    std::string pin;
    if (transfer.check_addresses && !is_ip_literal(target.host)) {
        pin = resolve_entry(UrlParts{target.scheme, target.host, target.port}, target.addresses);
        pin_node.data = pin.data();
        curl_easy_setopt(curl, CURLOPT_RESOLVE, &pin_node);
    }
    const long left = remaining_ms(deadline);
    if (left == 0) {
        fail(ErrorCode::Unavailable, original,
             "timed out after " + detail::describe_seconds(options.total_timeout_s));
    }
    std::array<char, CURL_ERROR_SIZE> message{};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    // A proxy would connect on our behalf to addresses we never see, so none is used here.
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     std::min(left, static_cast<long>(options.connect_timeout_s * 1000)));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, left);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &on_open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, message.data());
    check_curl_result(curl_easy_perform(curl), transfer, options, original, message);

    Hop hop;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &hop.status);
    const char* location = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
        hop.redirect_url = location;
    }
    const char* type = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
        hop.content_type = type;
    }
    hop.body = std::move(transfer.body);
    return hop;
}

void check_status(long status, std::string_view original) {
    if (status >= 200 && status < 300) {
        return;
    }
    const std::string reason = "HTTP " + std::to_string(status);
    if (status == 404 || status == 410) {
        fail(ErrorCode::NotFound, original, reason);
    }
    if (status >= 500 || status == 429 || status == 408) {
        fail(ErrorCode::Unavailable, original, reason);
    }
    fail(ErrorCode::InvalidInput, original, reason);
}

}  // namespace

std::optional<std::string> address_refusal_reason(std::string_view ip) {
    const std::string text(ip);
    in_addr addr4{};
    if (inet_pton(AF_INET, text.c_str(), &addr4) == 1) {
        return classify_v4(ntohl(addr4.s_addr));
    }
    V6Bytes bytes{};
    if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
        return classify_v6(bytes);
    }
    throw Error(ErrorCode::InvalidInput, "'" + text + "' is not an IP address");
}

UrlTarget check_url_target(std::string_view url, const FetchOptions& options, bool numeric_only) {
    return target_of(detail::encode_url(url), options, url, numeric_only);
}

FetchResult fetch_url(std::string_view url, const FetchOptions& options) {
    const auto deadline =
        Clock::now() +
        std::chrono::milliseconds(static_cast<long long>(options.total_timeout_s * 1000));
    std::string current = detail::encode_url(url);
    std::string label(url);  // how errors name the request: the URL, and the hop if redirected
    for (int redirects = 0;; ++redirects) {
        Hop hop = perform_hop(current, options, deadline, label);
        if (!is_redirect(hop.status)) {
            check_status(hop.status, url);
            return FetchResult{std::move(hop.body), std::move(hop.content_type),
                               std::move(current)};
        }
        if (hop.redirect_url.empty()) {
            fail(ErrorCode::InvalidInput, url,
                 "HTTP " + std::to_string(hop.status) + " redirect without a Location");
        }
        if (redirects >= options.max_redirects) {
            fail(ErrorCode::InvalidInput, url,
                 "more than " + std::to_string(options.max_redirects) + " redirects");
        }
        current = detail::encode_url(hop.redirect_url);
        label = std::string(url) + "' redirected to '" + current;
    }
}

}  // namespace clipdex::hub
