// Hand-built pickles and zip archives for the checkpoint reader tests: every byte is written
// here, so each test states exactly which construct it feeds the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace clipdex::test {

inline std::vector<std::byte> to_bytes(const std::string& s) {
    std::vector<std::byte> out(s.size());
    for (size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
    return out;
}

inline void put_le(std::string& out, uint64_t value, int width) {
    for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

inline uint32_t crc32_of(const std::string& data) {
    uint32_t crc = 0xffffffffu;
    for (char ch : data) {
        crc ^= static_cast<uint8_t>(ch);
        for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

class PickleWriter {
  public:
    PickleWriter& raw(const std::string& bytes) {
        out_ += bytes;
        return *this;
    }
    PickleWriter& op(char code) {
        out_ += code;
        return *this;
    }
    PickleWriter& proto(int version) {
        out_ += '\x80';
        out_ += static_cast<char>(version);
        return *this;
    }
    PickleWriter& str(const std::string& s) {
        out_ += 'X';
        put_le(out_, s.size(), 4);
        out_ += s;
        return *this;
    }
    PickleWriter& integer(int32_t v) {
        out_ += 'J';
        put_le(out_, static_cast<uint32_t>(v), 4);
        return *this;
    }
    PickleWriter& global(const std::string& module, const std::string& name) {
        out_ += 'c' + module + '\n' + name + '\n';
        return *this;
    }
    PickleWriter& ints_tuple(const std::vector<int64_t>& values) {
        op('(');
        for (int64_t v : values) integer(static_cast<int32_t>(v));
        return op('t');
    }
    PickleWriter& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
    PickleWriter& tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                         int64_t offset, const std::vector<int64_t>& size,
                         const std::vector<int64_t>& stride) {
        global("torch._utils", "_rebuild_tensor_v2").op('(');
        op('(')
            .str("storage")
            .global("torch", storage_type)
            .str(key)
            .str("cpu")
            .integer(static_cast<int32_t>(numel));
        op('t').op('Q');
        integer(static_cast<int32_t>(offset))
            .ints_tuple(size)
            .ints_tuple(stride)
            .op('\x89')
            .ordered_dict();
        return op('t').op('R');
    }
    std::string str() const { return out_; }

  private:
    std::string out_;
};

struct ZipFile {
    std::string name;
    std::string data;
    uint16_t method = 0;
};

// Stored entries, data aligned to 64 bytes like torch.save.
// With `zip64`, the central directory saturates its 32-bit fields and gives the real values in
// zip64 extra fields, and a zip64 end record precedes the classic one (as for files > 4 GiB).
inline std::string build_zip(const std::vector<ZipFile>& files, bool zip64 = false) {
    std::string out;
    std::string central;
    for (const auto& f : files) {
        const uint64_t header = out.size();
        const uint64_t unpadded = header + 30 + f.name.size() + 4;
        const uint64_t pad = (64 - unpadded % 64) % 64;
        put_le(out, 0x04034b50, 4);
        put_le(out, 20, 2);
        put_le(out, 0, 2);
        put_le(out, f.method, 2);
        put_le(out, 0, 4);
        put_le(out, crc32_of(f.data), 4);
        put_le(out, f.data.size(), 4);
        put_le(out, f.data.size(), 4);
        put_le(out, f.name.size(), 2);
        put_le(out, 4 + pad, 2);
        out += f.name;
        put_le(out, 0xcafe, 2);  // padding extra field, as PyTorch's writer uses
        put_le(out, pad, 2);
        out.append(pad, 'Z');
        out += f.data;
        central += std::string("\x50\x4b\x01\x02", 4);
        put_le(central, 20, 2);
        put_le(central, 20, 2);
        put_le(central, 0, 2);
        put_le(central, f.method, 2);
        put_le(central, 0, 4);
        put_le(central, crc32_of(f.data), 4);
        put_le(central, zip64 ? 0xffffffffu : f.data.size(), 4);
        put_le(central, zip64 ? 0xffffffffu : f.data.size(), 4);
        put_le(central, f.name.size(), 2);
        put_le(central, zip64 ? 28 : 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 4);
        put_le(central, zip64 ? 0xffffffffu : header, 4);
        central += f.name;
        if (zip64) {
            put_le(central, 0x0001, 2);
            put_le(central, 24, 2);
            put_le(central, f.data.size(), 8);
            put_le(central, f.data.size(), 8);
            put_le(central, header, 8);
        }
    }
    const uint64_t cd_offset = out.size();
    out += central;
    if (zip64) {
        const uint64_t z64 = out.size();
        put_le(out, 0x06064b50, 4);
        put_le(out, 44, 8);
        put_le(out, 45, 2);
        put_le(out, 45, 2);
        put_le(out, 0, 4);
        put_le(out, 0, 4);
        put_le(out, files.size(), 8);
        put_le(out, files.size(), 8);
        put_le(out, central.size(), 8);
        put_le(out, cd_offset, 8);
        put_le(out, 0x07064b50, 4);
        put_le(out, 0, 4);
        put_le(out, z64, 8);
        put_le(out, 1, 4);
    }
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, files.size(), 2);
    put_le(out, files.size(), 2);
    put_le(out, central.size(), 4);
    put_le(out, cd_offset, 4);
    put_le(out, 0, 2);
    return out;
}

}  // namespace clipdex::test
