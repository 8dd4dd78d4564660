#include "cli/npy.h"

#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "clipdex/error.h"

namespace clipdex::cli {

namespace {

Error bad(const std::filesystem::path& path, const std::string& why) {
    return Error(ErrorCode::InvalidInput, path.string() + ": " + why);
}

// The header is a Python dict literal; only the three keys numpy writes are read.
std::string dict_value(const std::string& header, const std::string& key) {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) return {};
    size_t colon = header.find(':', k);
    if (colon == std::string::npos) return {};
    size_t begin = header.find_first_not_of(' ', colon + 1);
    if (begin == std::string::npos) return {};
    char open = header[begin];
    size_t end = open == '('    ? header.find(')', begin)
                 : open == '\'' ? header.find('\'', begin + 1)
                                : header.find_first_of(",}", begin);
    if (end == std::string::npos) return {};
    return open == '\'' ? header.substr(begin + 1, end - begin - 1)
                        : header.substr(begin, end - begin + (open == '(' ? 1 : 0));
}

}  // namespace

NpyArray read_npy(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::NotFound, path.string() + ": cannot open");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
        throw bad(path, "not a .npy file");
    const int major = static_cast<unsigned char>(bytes[6]);
    size_t header_len = 0, start = 0;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) |
                     (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        start = 10;
    } else if (bytes.size() >= 12) {
        for (int i = 3; i >= 0; --i)
            header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
        start = 12;
    }
    if (start == 0 || header_len > bytes.size() - start) throw bad(path, "truncated .npy header");
    std::string header(bytes.data() + start, header_len);
    NpyArray a;
    a.descr = dict_value(header, "descr");
    if (dict_value(header, "fortran_order") != "False")
        throw bad(path, "only C-order arrays are supported");
    std::string shape = dict_value(header, "shape");
    if (shape.size() < 2) throw bad(path, "no shape in .npy header");
    size_t count = 1;
    for (size_t i = 1; i < shape.size() - 1;) {
        size_t j = shape.find_first_of(",)", i);
        std::string item = shape.substr(i, j - i);
        if (item.find_first_not_of(' ') != std::string::npos) {
            size_t first = item.find_first_not_of(' ');
            int64_t d = -1;
            auto [end, ec] = std::from_chars(item.data() + first, item.data() + item.size(), d);
            if (ec != std::errc() || end != item.data() + item.size() || d < 0 ||
                d > (int64_t{1} << 40))
                throw bad(path, "invalid shape");
            a.shape.push_back(d);
            // A product past 64 bits would wrap (to 0 for 2^40 * 2^24) and match a short file.
            if (__builtin_mul_overflow(count, static_cast<size_t>(d), &count))
                throw bad(path, "shape " + shape + " has more elements than fit in 64 bits");
        }
        i = j + 1;
    }
    size_t esize = a.descr == "<f4" || a.descr == "<i4" ? 4 : a.descr == "<i8" ? 8 : 0;
    if (esize == 0) throw bad(path, "dtype " + a.descr + " is not float32, int32 or int64");
    const size_t offset = start + header_len;
    size_t data_bytes = 0;
    if (__builtin_mul_overflow(count, esize, &data_bytes) || bytes.size() - offset != data_bytes)
        throw bad(path, "data size does not match the shape");
    a.data.resize(data_bytes);
    std::memcpy(a.data.data(), bytes.data() + offset, a.data.size());
    return a;
}

std::vector<float> npy_as_f32(const NpyArray& a, const std::filesystem::path& path) {
    if (a.descr != "<f4") throw bad(path, "expected float32 data, got " + a.descr);
    std::vector<float> out(a.data.size() / 4);
    std::memcpy(out.data(), a.data.data(), a.data.size());
    return out;
}

std::vector<int32_t> npy_as_i32(const NpyArray& a, const std::filesystem::path& path) {
    std::vector<int32_t> out;
    if (a.descr == "<i4") {
        out.resize(a.data.size() / 4);
        std::memcpy(out.data(), a.data.data(), a.data.size());
    } else if (a.descr == "<i8") {
        out.resize(a.data.size() / 8);
        for (size_t i = 0; i < out.size(); ++i) {
            int64_t v;
            std::memcpy(&v, a.data.data() + 8 * i, 8);
            if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
                throw bad(path, "token id out of range");
            out[i] = static_cast<int32_t>(v);
        }
    } else {
        throw bad(path, "expected integer token ids, got " + a.descr);
    }
    return out;
}

void write_npy_f32(const std::filesystem::path& path, std::span<const float> data, size_t rows,
                   size_t cols) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                         std::to_string(rows) + ", " + std::to_string(cols) + "), }";
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::Io, path.string() + ": cannot create");
    const unsigned char prefix[10] = {0x93,
                                      'N',
                                      'U',
                                      'M',
                                      'P',
                                      'Y',
                                      1,
                                      0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(prefix), sizeof prefix);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(float)));
    if (!out) throw Error(ErrorCode::Io, path.string() + ": write failed");
}

}  // namespace clipdex::cli
