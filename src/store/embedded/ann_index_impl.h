// Private to the embedded store's indexes (hnsw_index.cpp, ivf_index.cpp): the byte codec of
// their snapshots, a parallel loop, and the constructors ann_index.cpp's make_index calls.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "clipdex/error.h"
#include "common/fork_join.h"
#include "store/embedded/ann_index.h"

namespace clipdex::store::embedded {

class ByteWriter {
  public:
    template <typename T>
    void put(const T& value) {
        const auto* p = reinterpret_cast<const uint8_t*>(&value);
        bytes_.insert(bytes_.end(), p, p + sizeof(T));
    }
    void put_raw(const void* data, size_t size) {
        if (size == 0) return;  // data may be null for an empty vector
        const auto* p = static_cast<const uint8_t*>(data);
        bytes_.insert(bytes_.end(), p, p + size);
    }
    std::vector<uint8_t> take() { return std::move(bytes_); }

  private:
    std::vector<uint8_t> bytes_;
};

class ByteReader {
  public:
    ByteReader(std::span<const uint8_t> bytes, std::string what)
        : bytes_(bytes), what_(std::move(what)) {}
    template <typename T>
    T get() {
        T value;
        get_raw(&value, sizeof(T));
        return value;
    }
    void get_raw(void* out, size_t size) {
        if (size == 0) return;  // out may be null for an empty vector
        if (size > bytes_.size() - pos_) fail("truncated");
        std::memcpy(out, bytes_.data() + pos_, size);
        pos_ += size;
    }
    bool at_end() const { return pos_ == bytes_.size(); }
    size_t remaining() const { return bytes_.size() - pos_; }
    [[noreturn]] void fail(const std::string& why) const {
        throw Error(ErrorCode::Corrupt,
                    what_ + " snapshot is damaged: " + why + " at byte " + std::to_string(pos_));
    }

  private:
    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;
    std::string what_;
};

// Runs body(begin, end) over [0, n) on up to `threads` threads.
template <typename Body>
void parallel_for(size_t n, size_t min_per_thread, Body body) {
    size_t threads = std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(),
                                                          n / std::max<size_t>(1, min_per_thread)));
    fork_join_ranges(n, threads, 1, [&](size_t, size_t begin, size_t end) { body(begin, end); });
}

std::unique_ptr<AnnIndex> make_hnsw_index(const IndexSpec& spec, int dim);  // hnsw_index.cpp
std::unique_ptr<AnnIndex> make_ivf_index(const IndexSpec& spec, int dim);   // ivf_index.cpp

}  // namespace clipdex::store::embedded
