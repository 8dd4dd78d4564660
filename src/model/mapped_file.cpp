#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "clipdex/error.h"

namespace clipdex::model {

namespace {
Error io_error(const std::filesystem::path& path, const char* what) {
    return Error(ErrorCode::Io, path.string() + ": " + what + ": " + std::strerror(errno));
}
}  // namespace

void release_mapped_pages(std::span<const std::byte> mapping, const std::byte* data, size_t n) {
    const auto lo = reinterpret_cast<uintptr_t>(mapping.data());
    const auto hi = lo + mapping.size();
    const auto begin = reinterpret_cast<uintptr_t>(data);
    if (mapping.empty() || begin < lo || n > hi - begin) return;
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t first = (begin + page - 1) / page * page, last = (begin + n) / page * page;
    if (first >= last) return;
    // Advice only: a failure leaves the pages resident, which is merely what happens without it.
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) throw Error(ErrorCode::NotFound, path.string() + ": no such file");
        throw io_error(path, "cannot open");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        Error err = io_error(path, "cannot stat");
        ::close(fd);
        throw err;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(ErrorCode::InvalidInput, path.string() + ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) {  // mmap refuses empty ranges; an empty span is all we need
        ::close(fd);
        return;
    }
    void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
        Error err = io_error(path, "cannot map");
        ::close(fd);
        throw err;
    }
    ::close(fd);  // the mapping keeps the file alive
    data_ = static_cast<const std::byte*>(addr);
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace clipdex::model
