// Read-only memory mapping of a whole file, released on destruction.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace clipdex::model {

// madvise(MADV_DONTNEED) on the pages of `mapping` (a read-only MAP_PRIVATE file mapping) that
// lie wholly inside [data, data + n); later reads fault them back in from the file. Does
// nothing when the range is not inside the mapping.
void release_mapped_pages(std::span<const std::byte> mapping, const std::byte* data, size_t n);

class MappedFile {
  public:
    // Throws Error(Io) naming the file when it cannot be opened or mapped.
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::byte> bytes() const { return {data_, size_}; }
    const std::filesystem::path& path() const { return path_; }
    void release_pages(const std::byte* data, size_t n) const {
        release_mapped_pages(bytes(), data, n);
    }

  private:
    std::filesystem::path path_;
    const std::byte* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace clipdex::model
