// Safe URL fetching for image ingestion (SPEC §5).
//
// fetch_url() downloads one http(s) URL into memory under limits that make it safe to run on
// behalf of untrusted callers (the HTTP server's /add endpoint):
//   - only http and https, also for every redirect target;
//   - at most max_redirects redirects, each target re-checked from scratch;
//   - a size limit enforced from Content-Length and again on the bytes received;
//   - connect and total time limits (the total covers every redirect hop);
//   - every address the host resolves to must be public unless allow_private is set, and the
//     connection is pinned to the checked addresses, so DNS rebinding cannot slip a private
//     address in between the check and the connect.
// Errors are clipdex::Error whose message starts with "URL '<url>': ".
//
// Thread safety: fetch_url may be called from many threads at once.
//
//   clipdex::hub::FetchOptions options;           // defaults: 64 MB, 5 redirects, 10 s / 30 s
//   auto result = clipdex::hub::fetch_url("https://example.com/cat.jpg", options);
//   decode(result.body, result.content_type);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipdex::hub {

struct FetchOptions {
    std::uint64_t max_bytes = 64ull * 1024 * 1024;  // body size limit
    int max_redirects = 5;                          // 0 refuses any redirect
    double connect_timeout_s = 10;                  // per connection attempt
    double total_timeout_s = 30;                    // whole fetch, redirects included
    bool allow_private = false;                     // permit loopback/private/link-local targets
    // Hosts (as written in URLs, e.g. "images.intranet") exempt from the address rule, for an
    // operator who trusts one internal server without opening the whole network.
    std::vector<std::string> allowed_hosts;
    std::string user_agent = "clipdex/0.1";
};

struct FetchResult {
    std::vector<std::uint8_t> body;
    std::string content_type;  // as the server sent it, "" when absent
    std::string final_url;     // after redirects
};

FetchResult fetch_url(std::string_view url, const FetchOptions& options = {});

// Where a fetch of this URL would connect, judged exactly as fetch_url judges each hop before
// connecting: the URL is percent-encoded and parsed (libcurl's parser), the scheme must be
// http or https, and unless the host is exempt (allow_private, allowed_hosts) every address
// the host resolves to must be public. With numeric_only the host is only read as a numeric
// address (getaddrinfo's AI_NUMERICHOST: "127.1", "0x7f.0.0.1" and "2130706433" count, names
// do not resolve), so no DNS or network is touched; that is what the fuzz target and the unit
// tests use. Throws what fetch_url throws for the same URL.
struct UrlTarget {
    std::string scheme;                  // lower case
    std::string host;                    // as libcurl parsed it, without IPv6 brackets
    std::string port;                    // explicit or the scheme's default
    bool exempt = false;                 // the address rule was not applied
    std::vector<std::string> addresses;  // the checked addresses to connect to (none if exempt)
};
UrlTarget check_url_target(std::string_view url, const FetchOptions& options,
                           bool numeric_only = false);

// Why connecting to this numeric address is refused ("a private address", "a loopback
// address", ...), or nullopt when it is a public unicast address. Accepts IPv4 dotted quads
// and IPv6 text (v4-mapped and NAT64 forms are judged by the IPv4 address they carry).
// Throws InvalidInput when the text is no IP address.
std::optional<std::string> address_refusal_reason(std::string_view ip);

}  // namespace clipdex::hub
