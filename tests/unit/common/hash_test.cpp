// SHA-256 against the FIPS 180-2 test vectors, the streamed file hash against the in-memory one,
// and FNV-1a 64 against its published vectors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/hash.h"

namespace clipdex {
namespace {

std::span<const uint8_t> bytes_of(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

TEST(Hash, Sha256KnownVectors) {
    EXPECT_EQ(sha256_hex(bytes_of("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex(bytes_of("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Hash, FileHashEqualsTheHashOfItsBytes) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("clipdex-hash-" + std::to_string(::getpid()));
    std::string content(3 * 1024 * 1024 + 17, '\0');  // spans several read chunks
    for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 % 251);
    std::ofstream(path, std::ios::binary) << content;
    EXPECT_EQ(sha256_file_hex(path), sha256_hex(bytes_of(content)));
    std::filesystem::remove(path);
}

TEST(Hash, Fnv1a64KnownVectors) {
    EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
    EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
    EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

}  // namespace
}  // namespace clipdex
