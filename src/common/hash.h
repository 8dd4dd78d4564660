// Content and identity hashes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace clipdex {

// Lower-case hex SHA-256 of bytes / of a file's content (streamed, constant memory).
std::string sha256_hex(std::span<const uint8_t> bytes);
std::string sha256_file_hex(const std::filesystem::path& path);

// 64-bit FNV-1a, for stable ids derived from text (not for security).
uint64_t fnv1a64(std::string_view text);

}  // namespace clipdex
