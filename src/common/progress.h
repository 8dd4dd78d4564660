// Progress for long work: a bar with count, rate and ETA on a terminal; otherwise (logs, pipes,
// CI) a plain line every 5 s while the work lasts, and the summary once at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace clipdex {

class Progress {
  public:
    enum class Unit { Items, Bytes };
    explicit Progress(std::string label, std::FILE* out = stderr, Unit unit = Unit::Items);
    // `total` may still grow; 0 = unknown. `costly`: how many of the `done` items took real work
    // (indexing: encoded, not skipped as unchanged); the rate and ETA count those only, so
    // thousands of skipped files do not show as "40141.1/s". Unset = all of them.
    void update(uint64_t done, uint64_t total, const std::string& detail = {},
                std::optional<uint64_t> costly = std::nullopt);
    void finish(const std::string& summary);

  private:
    void draw(uint64_t done, uint64_t total, const std::string& detail, uint64_t costly);

    std::string label_;
    std::FILE* out_;
    Unit unit_;
    bool tty_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
    bool drawn_ = false;
};

// "1.2 MB", "340 B"
std::string human_bytes(double bytes);
// "3m05s", "12s"
std::string human_duration(double seconds);

}  // namespace clipdex
