// Content and identity hashes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace clipdex {

// SHA-256 fed piece by piece (OpenSSL's EVP digest).
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    std::string hex();  // lower-case hex digest; ends the hash

  private:
    struct Context;
    std::unique_ptr<Context> context_;
};

// Lower-case hex SHA-256 of bytes / of a file's content (streamed, constant memory).
std::string sha256_hex(std::span<const uint8_t> bytes);
std::string sha256_file_hex(const std::filesystem::path& path);

// 64-bit FNV-1a, for stable ids derived from text (not for security).
uint64_t fnv1a64(std::string_view text);

}  // namespace clipdex
