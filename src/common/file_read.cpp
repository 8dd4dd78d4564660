#include "common/file_read.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "clipdex/error.h"

namespace clipdex {

namespace {

// Bytes (vector<uint8_t>) or text (std::string): both are contiguous char-sized buffers.
template <typename Buffer>
Buffer read_bounded(const std::filesystem::path& path, uint64_t max_bytes, std::string_view what) {
    const std::string name(what);
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status))
        throw Error(ErrorCode::NotFound, name + ": no such file");
    if (std::filesystem::is_directory(status))
        throw Error(ErrorCode::InvalidInput, name + ": is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(ErrorCode::Io,
                    name + ": cannot open for reading (" + std::strerror(errno) + ")");
    // Read in chunks and stop one byte past the limit: enough to refuse without slurping.
    Buffer bytes;
    constexpr uint64_t kChunk = 1 << 20;
    while (bytes.size() <= max_bytes) {
        const size_t old = bytes.size();
        const uint64_t remaining = max_bytes - old;
        const auto want = static_cast<size_t>(remaining >= kChunk ? kChunk : remaining + 1);
        bytes.resize(old + want);
        in.read(reinterpret_cast<char*>(bytes.data() + old), static_cast<std::streamsize>(want));
        const auto got = static_cast<size_t>(in.gcount());
        bytes.resize(old + got);
        if (got < want) break;
    }
    if (in.bad()) throw Error(ErrorCode::Io, name + ": read failed");
    if (bytes.size() > max_bytes)
        throw Error(ErrorCode::TooLarge, name + ": the file exceeds the limit of " +
                                             std::to_string(max_bytes) + " bytes");
    return bytes;
}

}  // namespace

std::vector<uint8_t> read_file_bounded(const std::filesystem::path& path, uint64_t max_bytes,
                                       std::string_view what) {
    return read_bounded<std::vector<uint8_t>>(path, max_bytes, what);
}

std::string read_text_file_bounded(const std::filesystem::path& path, uint64_t max_bytes,
                                   std::string_view what) {
    return read_bounded<std::string>(path, max_bytes, what);
}

}  // namespace clipdex
