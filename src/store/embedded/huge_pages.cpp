#include "store/embedded/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older C library headers lack the name
#endif

namespace clipdex::store::embedded {

namespace {
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
}  // namespace

int collapse_to_huge_pages(void* data, size_t bytes) {
    auto begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
    auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
    if (end <= begin) return 0;
    return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_COLLAPSE) == 0 ? 0 : errno;
}

size_t collapse_piece(std::span<const uint8_t> range, size_t offset, size_t max_bytes, int& error) {
    auto at = reinterpret_cast<uintptr_t>(range.data()) + offset;
    size_t piece = std::min(((at + max_bytes) & ~(kHugePage - 1)) - at, range.size() - offset);
    error = collapse_to_huge_pages(reinterpret_cast<void*>(at), piece);
    return piece;
}

std::string paging_description(Paging paging, int error) {
    switch (paging) {
        case Paging::Small:
            return "";
        case Paging::Moving:
            return "memory moving to 2 MiB pages";
        case Paging::Huge:
            return "memory in 2 MiB pages";
        case Paging::Refused:
            return "memory in 4 KiB pages (the kernel refused 2 MiB pages: " +
                   std::string(std::strerror(error)) + ")";
    }
    return "";
}

HugePageWorker::~HugePageWorker() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void HugePageWorker::post(Step step) {
    {
        std::lock_guard lock(mutex_);
        jobs_.emplace_back(std::chrono::steady_clock::now() + delay_, std::move(step));
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    wake_.notify_all();
}

void HugePageWorker::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        auto due = jobs_.front().first;
        if (wake_.wait_until(lock, due, [&] { return stopping_; })) return;
        Step step = std::move(jobs_.front().second);
        jobs_.pop_front();
        while (!stopping_) {
            lock.unlock();
            bool more = false;
            try {
                more = step();
            } catch (...) {
                more = false;  // a job that fails only leaves its memory in 4 KiB pages
            }
            lock.lock();
            if (!more) break;
        }
    }
}

}  // namespace clipdex::store::embedded
