#include "model/zip_reader.h"

#include <array>

#include "clipdex/error.h"

namespace clipdex::model::zip {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxComment = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kMissing32 = 0xffffffff;
constexpr uint16_t kFlagEncrypted = 0x0001;
// Far more than any checkpoint holds (one entry per storage); bounds the work per archive.
constexpr uint64_t kMaxEntries = 1u << 20;

uint64_t read_le(std::span<const std::byte> bytes, uint64_t pos, int width) {
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i)
        value = (value << 8) | static_cast<uint8_t>(bytes[pos + static_cast<uint64_t>(i)]);
    return value;
}

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t n = 0; n < 256; ++n) {
        uint32_t c = n;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
    return table;
}

constexpr auto kCrcTable = make_crc_table();

}  // namespace

uint32_t crc32(std::span<const std::byte> bytes, uint32_t crc) {
    crc = ~crc;
    for (std::byte b : bytes) crc = kCrcTable[(crc ^ static_cast<uint8_t>(b)) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

bool looks_like_zip(std::span<const std::byte> bytes) {
    return bytes.size() >= 4 && read_le(bytes, 0, 4) == kLocalHeaderSig;
}

Archive::Archive(std::span<const std::byte> bytes, std::string label)
    : bytes_(bytes), label_(std::move(label)) {
    read_central_directory();
}

const Entry* Archive::find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> Archive::data(const Entry& entry) const {
    if (entry.flags & kFlagEncrypted)
        throw Error(ErrorCode::Unsupported,
                    label_ + ": zip entry '" + entry.name + "' is encrypted");
    if (entry.method != 0)
        throw Error(ErrorCode::Unsupported,
                    label_ + ": zip entry '" + entry.name + "' is compressed (method " +
                        std::to_string(entry.method) + "); torch.save writes stored entries only");
    return bytes_.subspan(entry.data_offset, entry.size);
}

std::span<const std::byte> Archive::checked_data(const Entry& entry) const {
    auto span = data(entry);
    if (crc32(span) != entry.crc32)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": zip entry '" + entry.name + "' fails its CRC-32 check");
    return span;
}

void Archive::read_central_directory() {
    const uint64_t size = bytes_.size();
    if (size < kEndSize)
        throw Error(ErrorCode::Corrupt, label_ + ": too small to be a zip archive");
    // The end record sits after an optional comment of up to 64 KiB, so scan back for it.
    uint64_t end = size - kEndSize;
    const uint64_t lowest = end > kMaxComment ? end - kMaxComment : 0;
    while (read_le(bytes_, end, 4) != kEndSig) {
        if (end == lowest)
            throw Error(ErrorCode::Corrupt, label_ + ": no zip end-of-central-directory record");
        --end;
    }
    uint64_t count = read_le(bytes_, end + 10, 2);
    uint64_t cd_size = read_le(bytes_, end + 12, 4);
    uint64_t cd_offset = read_le(bytes_, end + 16, 4);
    if (end >= kZip64LocatorSize &&
        read_le(bytes_, end - kZip64LocatorSize, 4) == kZip64LocatorSig) {
        const uint64_t z64 = read_le(bytes_, end - kZip64LocatorSize + 8, 8);
        if (z64 > size || size - z64 < kZip64EndSize || read_le(bytes_, z64, 4) != kZip64EndSig)
            throw Error(ErrorCode::Corrupt,
                        label_ + ": zip64 end record is missing or out of bounds");
        count = read_le(bytes_, z64 + 32, 8);
        cd_size = read_le(bytes_, z64 + 40, 8);
        cd_offset = read_le(bytes_, z64 + 48, 8);
    }
    if (cd_offset > size || cd_size > size - cd_offset)
        throw Error(ErrorCode::Corrupt, label_ + ": zip central directory lies outside the file");
    if (count > kMaxEntries || count > cd_size / kCentralHeaderSize)
        throw Error(ErrorCode::Corrupt, label_ + ": zip central directory claims " +
                                            std::to_string(count) +
                                            " entries, more than it can hold");
    entries_.reserve(count);
    uint64_t pos = cd_offset;
    for (uint64_t i = 0; i < count; ++i) read_entry(pos, cd_offset + cd_size);
    for (size_t i = 0; i < entries_.size(); ++i)
        if (const auto& entry = entries_[i]; !index_.emplace(entry.name, i).second)
            throw Error(ErrorCode::Corrupt,
                        label_ + ": zip entry '" + entry.name + "' appears twice");
}

void Archive::read_entry(uint64_t& pos, uint64_t end) {
    if (end - pos < kCentralHeaderSize || read_le(bytes_, pos, 4) != kCentralHeaderSig)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": bad zip central directory header at offset " + std::to_string(pos));
    Entry entry;
    entry.flags = static_cast<uint16_t>(read_le(bytes_, pos + 8, 2));
    entry.method = static_cast<uint16_t>(read_le(bytes_, pos + 10, 2));
    entry.crc32 = static_cast<uint32_t>(read_le(bytes_, pos + 16, 4));
    entry.compressed_size = read_le(bytes_, pos + 20, 4);
    entry.size = read_le(bytes_, pos + 24, 4);
    const uint64_t name_len = read_le(bytes_, pos + 28, 2);
    const uint64_t extra_len = read_le(bytes_, pos + 30, 2);
    const uint64_t comment_len = read_le(bytes_, pos + 32, 2);
    uint64_t header_offset = read_le(bytes_, pos + 42, 4);
    const uint64_t var_len = name_len + extra_len + comment_len;
    if (end - pos - kCentralHeaderSize < var_len)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": zip central directory entry overruns the directory");
    const uint64_t name_pos = pos + kCentralHeaderSize;
    entry.name.assign(reinterpret_cast<const char*>(bytes_.data() + name_pos), name_len);
    // zip64: the 8-byte values follow in this order, each present only if its 32-bit field is
    // saturated.
    uint64_t extra = name_pos + name_len;
    const uint64_t extra_end = extra + extra_len;
    while (extra_end - extra >= 4) {
        const uint64_t id = read_le(bytes_, extra, 2);
        const uint64_t len = read_le(bytes_, extra + 2, 2);
        if (extra_end - extra - 4 < len)
            throw Error(ErrorCode::Corrupt,
                        label_ + ": zip extra field of '" + entry.name + "' overruns its entry");
        if (id == kZip64ExtraId) {
            uint64_t field = extra + 4;
            for (uint64_t* value : {&entry.size, &entry.compressed_size, &header_offset}) {
                if (*value != kMissing32) continue;
                if (field + 8 > extra + 4 + len)
                    throw Error(ErrorCode::Corrupt,
                                label_ + ": zip64 extra field of '" + entry.name + "' is short");
                *value = read_le(bytes_, field, 8);
                field += 8;
            }
        }
        extra += 4 + len;
    }
    entry.data_offset = local_data_offset(entry, header_offset);
    const uint64_t stored = entry.method == 0 ? entry.size : entry.compressed_size;
    if (entry.method == 0 && entry.compressed_size != entry.size)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": stored zip entry '" + entry.name + "' has two different sizes");
    if (stored > bytes_.size() - entry.data_offset)
        throw Error(ErrorCode::Corrupt, label_ + ": zip entry '" + entry.name + "' claims " +
                                            std::to_string(stored) +
                                            " bytes, past the end of the file");
    entries_.push_back(std::move(entry));
    pos = name_pos + var_len;
}

uint64_t Archive::local_data_offset(const Entry& entry, uint64_t header_offset) const {
    const uint64_t size = bytes_.size();
    if (header_offset > size || size - header_offset < kLocalHeaderSize ||
        read_le(bytes_, header_offset, 4) != kLocalHeaderSig)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": zip entry '" + entry.name + "' has no local header");
    const uint64_t name_len = read_le(bytes_, header_offset + 26, 2);
    const uint64_t extra_len = read_le(bytes_, header_offset + 28, 2);
    const uint64_t data = header_offset + kLocalHeaderSize + name_len + extra_len;
    if (data > size)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": zip entry '" + entry.name + "' local header overruns the file");
    const std::string_view local_name(
        reinterpret_cast<const char*>(bytes_.data() + header_offset + kLocalHeaderSize), name_len);
    if (local_name != entry.name)
        throw Error(ErrorCode::Corrupt,
                    label_ + ": zip entry '" + entry.name + "' local and central names differ");
    return data;
}

}  // namespace clipdex::model::zip
