// multipart/form-data fuzz target (src/server/multipart.cpp). The input's first line is the
// Content-Type, the rest the body. Any bytes either fail with clipdex::Error or give parts that
// respect the limits and lie inside the body; the header-parameter reader takes any text.
// 2026-12-05: 3,144,048 executions in 181 s (clang 14, ASan+UBSan, -max_len=4096) from the 9
// seeds, 481 edges, no crash (clang++ ... tests/fuzz/fuzz_multipart.cpp
// src/server/{multipart,http_types,query}.cpp, flags as in fuzz_http_request.cpp).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "clipdex/error.h"
#include "server/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace clipdex::server;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t newline = input.find('\n');
    const std::string_view type = input.substr(0, newline);
    const std::string_view body =
        newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    (void)header_parameter(type, "boundary");
    (void)header_parameter(body.substr(0, 512), "name");
    (void)is_multipart_form(type);
    const MultipartLimits limits{8, 256};
    try {
        const auto parts = parse_multipart(type, body, limits);
        if (parts.size() > limits.max_parts) std::abort();
        for (const auto& part : parts) {
            if (part.content.data() < body.data() ||
                part.content.data() + part.content.size() > body.data() + body.size())
                std::abort();
        }
        if (!parts.empty() && find_part(parts, parts.front().name) != &parts.front()) std::abort();
    } catch (const clipdex::Error&) {
    }
    return 0;
}
