#include "encoder_service/base64.h"

namespace clipdex::encoder_service {

namespace {

int value_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::string describe(char c) {
    if (c >= 0x21 && c < 0x7f) return std::string("character '") + c + "'";
    static const char* hex = "0123456789abcdef";
    const auto byte = static_cast<unsigned char>(c);
    return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 15];
}

}  // namespace

Base64Result decode_base64(std::string_view text) {
    Base64Result result;
    size_t end = text.size();
    size_t padding = 0;
    while (end > 0 && text[end - 1] == '=' && padding < 2) {
        --end;
        ++padding;
    }
    if (end % 4 == 1) {
        result.error = "length " + std::to_string(text.size()) + " is not a base64 length";
        return result;
    }
    result.bytes.reserve(end / 4 * 3 + 2);
    uint32_t bits = 0;
    int count = 0;
    for (size_t i = 0; i < end; ++i) {
        const int value = value_of(text[i]);
        if (value < 0) {
            result.error = describe(text[i]) + " at offset " + std::to_string(i) +
                           " is not base64";
            result.bytes.clear();
            return result;
        }
        bits = (bits << 6) | static_cast<uint32_t>(value);
        if (++count == 4) {
            result.bytes.push_back(static_cast<uint8_t>(bits >> 16));
            result.bytes.push_back(static_cast<uint8_t>(bits >> 8));
            result.bytes.push_back(static_cast<uint8_t>(bits));
            bits = 0;
            count = 0;
        }
    }
    if (count == 2) {
        result.bytes.push_back(static_cast<uint8_t>(bits >> 4));
    } else if (count == 3) {
        result.bytes.push_back(static_cast<uint8_t>(bits >> 10));
        result.bytes.push_back(static_cast<uint8_t>(bits >> 2));
    }
    if (padding > 0 && (end + padding) % 4 != 0) {
        result.error = "padding does not end a 4-character group";
        result.bytes.clear();
    }
    return result;
}

}  // namespace clipdex::encoder_service
