// URL parsing and the SSRF address rule (src/hub/http_fetch.*), without any network: the input
// is judged as an IP address (address_refusal_reason) and as a URL (check_url_target with
// numeric-only resolution, the checks fetch_url makes before it connects). Invariant: nothing
// judged public or handed out as an address to connect to lies in a block that this file
// re-derives on its own (loopback, private, link-local and metadata, CGNAT, unspecified,
// multicast, reserved, and the IPv6 forms that carry such an IPv4 address). Any exception other
// than clipdex::Error is a finding.
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "clipdex/error.h"
#include "hub/http_fetch.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool in_v4(std::uint32_t address, std::uint32_t base, int prefix) {
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (address & mask) == (base & mask);
}

std::uint32_t quad(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

bool blocked_v4(std::uint32_t a) {
    return in_v4(a, quad(0, 0, 0, 0), 8) || in_v4(a, quad(10, 0, 0, 0), 8) ||
           in_v4(a, quad(100, 64, 0, 0), 10) || in_v4(a, quad(127, 0, 0, 0), 8) ||
           in_v4(a, quad(169, 254, 0, 0), 16) || in_v4(a, quad(172, 16, 0, 0), 12) ||
           in_v4(a, quad(192, 0, 0, 0), 24) || in_v4(a, quad(192, 168, 0, 0), 16) ||
           in_v4(a, quad(198, 18, 0, 0), 15) || in_v4(a, quad(224, 0, 0, 0), 4) ||
           in_v4(a, quad(240, 0, 0, 0), 4);
}

std::uint32_t v4_from(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

bool zeros(const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}

bool blocked_v6(const std::array<std::uint8_t, 16>& b) {
    if (zeros(b.data(), 16)) return true;                    // ::
    if (zeros(b.data(), 15) && b[15] == 1) return true;      // ::1
    if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 (AWS fd00:ec2::254)
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10
    if (b[0] == 0xff) return true;                           // multicast
    // IPv4 carried in IPv6: mapped, compatible, NAT64 (well-known and local-use), 6to4.
    if (zeros(b.data(), 10) && b[10] == 0xff && b[11] == 0xff) return blocked_v4(v4_from(&b[12]));
    if (zeros(b.data(), 12)) return blocked_v4(v4_from(&b[12]));
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        if (zeros(&b[4], 8)) return blocked_v4(v4_from(&b[12]));
        if (b[4] == 0x00 && b[5] == 0x01) return true;  // 64:ff9b:1::/48, RFC 8215
    }
    if (b[0] == 0x20 && b[1] == 0x02) return blocked_v4(v4_from(&b[2]));
    return false;
}

// Whether `text` (an address as inet_ntop or a user writes it) lies in a blocked range;
// false when inet_pton does not read it.
bool blocked_text(const std::string& text) {
    std::array<std::uint8_t, 16> bytes{};
    if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1)
        return blocked_v4(v4_from(bytes.data()));
    if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) return blocked_v6(bytes);
    return false;
}

void judge_address(const std::string& text) {
    std::optional<std::string> reason;
    try {
        reason = clipdex::hub::address_refusal_reason(text);
    } catch (const clipdex::Error& e) {
        check(e.code() == clipdex::ErrorCode::InvalidInput);
        return;
    }
    if (!reason)
        check(!blocked_text(text));
    else
        check(!reason->empty());
}

void judge_url(std::string_view url, const clipdex::hub::FetchOptions& options) {
    clipdex::hub::UrlTarget target;
    try {
        target = clipdex::hub::check_url_target(url, options, /*numeric_only=*/true);
    } catch (const clipdex::Error& e) {
        // Refusals and unparsable URLs are InvalidInput; names that need DNS are Unavailable.
        check(e.code() == clipdex::ErrorCode::InvalidInput ||
              e.code() == clipdex::ErrorCode::Unavailable);
        check(std::string_view(e.what()).starts_with("URL '"));
        return;
    }
    check(target.scheme == "http" || target.scheme == "https");
    check(!target.host.empty() && !target.port.empty());
    if (target.exempt) return;
    check(!target.addresses.empty());
    for (const std::string& address : target.addresses) check(!blocked_text(address));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;
    const std::string text(reinterpret_cast<const char*>(data), size);
    judge_address(text);
    clipdex::hub::FetchOptions options;
    judge_url(text, options);
    // An operator's exemption covers the host named, nothing else.
    options.allowed_hosts = {"images.intranet"};
    judge_url(text, options);
    // A bare host or address becomes a URL, so address forms also go through libcurl's parser.
    if (text.find("://") == std::string::npos) {
        judge_url("http://" + text + "/a.jpg", clipdex::hub::FetchOptions{});
        if (text.find(':') != std::string::npos)
            judge_url("https://[" + text + "]:8443/", clipdex::hub::FetchOptions{});
    }
    return 0;
}
