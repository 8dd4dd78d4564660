// Strict standard base64 (RFC 4648 alphabet, '=' padding optional, no whitespace), for images
// sent inside JSON to the encoder service.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipdex::encoder_service {

// The decoded bytes, or the reason the text is not base64 ("character '!' at offset 17").
struct Base64Result {
    std::vector<uint8_t> bytes;
    std::string error;  // empty on success
};
Base64Result decode_base64(std::string_view text);

}  // namespace clipdex::encoder_service
