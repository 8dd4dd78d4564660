// Minimal NumPy .npy reading and writing (version 1/2 headers, little-endian, C order) for
// exchanging embeddings, pixel tensors and token ids with Python.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace clipdex::cli {

struct NpyArray {
    std::string descr;  // "<f4", "<i4", "<i8"
    std::vector<int64_t> shape;
    std::vector<std::byte> data;  // raw element bytes
};

// Throws Error(InvalidInput) naming the file for anything but a C-order little-endian array.
NpyArray read_npy(const std::filesystem::path& path);
std::vector<float> npy_as_f32(const NpyArray& a, const std::filesystem::path& path);
std::vector<int32_t> npy_as_i32(const NpyArray& a, const std::filesystem::path& path);
void write_npy_f32(const std::filesystem::path& path, std::span<const float> data, size_t rows,
                   size_t cols);

}  // namespace clipdex::cli
