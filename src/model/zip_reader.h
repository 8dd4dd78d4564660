// Read-only view of a zip archive held in memory (usually a memory-mapped file). Only what
// PyTorch checkpoints need: the central directory (zip64 included) and stored entries, which
// can then be used in place without copying. Hostile archives end in Error(Corrupt), never in
// an out-of-bounds read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace clipdex::model::zip {

struct Entry {
    std::string name;
    uint64_t data_offset = 0;  // first byte of the stored data, from the start of the archive
    uint64_t size = 0;         // uncompressed size
    uint64_t compressed_size = 0;
    uint16_t method = 0;  // 0 = stored
    uint16_t flags = 0;
    uint32_t crc32 = 0;
};

class Archive {
  public:
    // `label` names the archive in error messages (its path).
    Archive(std::span<const std::byte> bytes, std::string label);

    const std::vector<Entry>& entries() const { return entries_; }
    const Entry* find(std::string_view name) const;
    // The entry's bytes in place; throws Unsupported for compressed or encrypted entries.
    std::span<const std::byte> data(const Entry& entry) const;
    // Like data() and also checks the CRC-32 (for small entries; big ones are trusted to the
    // bounds checks because hashing gigabytes at every load costs too much).
    std::span<const std::byte> checked_data(const Entry& entry) const;
    const std::string& label() const { return label_; }

  private:
    void read_central_directory();
    void read_entry(uint64_t& pos, uint64_t end);
    uint64_t local_data_offset(const Entry& entry, uint64_t header_offset) const;

    std::span<const std::byte> bytes_;
    std::string label_;
    std::vector<Entry> entries_;
    std::unordered_map<std::string, size_t> index_;
};

// Standard CRC-32 (as zlib.crc32), continued from `crc`.
uint32_t crc32(std::span<const std::byte> bytes, uint32_t crc = 0);

// True when the bytes start like a zip archive (a local file header).
bool looks_like_zip(std::span<const std::byte> bytes);

}  // namespace clipdex::model::zip
