// Reading a whole file with a size bound that holds while reading, not after: /dev/zero, a FIFO
// or a file that grows stop at `max_bytes + 1` bytes instead of exhausting memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace clipdex {

// The file's bytes. Throws clipdex::Error naming the path as `what` ('image "a.png"' reads
// better than a bare path): NotFound (no such file), InvalidInput (a directory), Io (cannot
// open or read), TooLarge (more than max_bytes, found while reading).
std::vector<uint8_t> read_file_bounded(const std::filesystem::path& path, uint64_t max_bytes,
                                       std::string_view what);
// The same, as text (configs, tokenizer files, descriptions JSON).
std::string read_text_file_bounded(const std::filesystem::path& path, uint64_t max_bytes,
                                   std::string_view what);

}  // namespace clipdex
