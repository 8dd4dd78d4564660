// Moving the bulk memory of opened collections to 2 MiB pages, later and in the background.
//
// HNSW and IVF_FLAT searches read vectors scattered over gigabytes. With 4 KiB pages nearly
// every vector read also misses the TLB and walks the page tables; with 2 MiB pages 1M-vector
// searches ran 7-27% faster on the benchmark machine. Asking for huge pages while an open
// populates the memory (MADV_HUGEPAGE) made that open 3-4x slower there, because each fresh
// 2 MiB page came from memory the VM's host had taken back. So opens keep 4 KiB pages, and
// once a collection has been open a little while this worker collapses its memory into huge
// pages (MADV_COLLAPSE, contents kept) one piece at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>

namespace clipdex::store::embedded {

// Backs the whole 2 MiB pages inside [data, data + bytes) with huge pages, keeping their
// contents. Returns 0, or the errno of the kernel's refusal (EINVAL: a kernel without
// MADV_COLLAPSE or with transparent huge pages switched off).
int collapse_to_huge_pages(void* data, size_t bytes);

// One step of moving `range` to huge pages: collapses about `max_bytes` from `offset`, ending on
// a 2 MiB boundary (or at the range's end) so that consecutive steps lose no page at their
// edges. Returns the bytes the step covered; `error` gets the kernel's refusal, or 0.
size_t collapse_piece(std::span<const uint8_t> range, size_t offset, size_t max_bytes, int& error);

// How the memory of a collection is paged, for stats.
enum class Paging { Small, Moving, Huge, Refused };
std::string paging_description(Paging paging, int error);

// One background thread running jobs in the order posted, each from `delay` after its post. A
// job is called repeatedly, one short step per call, until it returns false; the destructor
// stops the worker after the step in progress and drops what is left.
class HugePageWorker {
  public:
    using Step = std::function<bool()>;
    explicit HugePageWorker(std::chrono::milliseconds delay) : delay_(delay) {}
    ~HugePageWorker();
    HugePageWorker(const HugePageWorker&) = delete;
    HugePageWorker& operator=(const HugePageWorker&) = delete;

    void post(Step step);

  private:
    void run();

    std::chrono::milliseconds delay_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::pair<std::chrono::steady_clock::time_point, Step>> jobs_;
    bool stopping_ = false;
    std::thread thread_;  // started by the first post
};

}  // namespace clipdex::store::embedded
