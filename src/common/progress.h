// Progress for long work: a bar with count, rate and ETA on a terminal; plain lines at most
// every few seconds otherwise (logs, pipes, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace clipdex {

class Progress {
  public:
    enum class Unit { Items, Bytes };
    explicit Progress(std::string label, std::FILE* out = stderr, Unit unit = Unit::Items);
    // `total` may still grow; 0 = unknown.
    void update(uint64_t done, uint64_t total, const std::string& detail = {});
    void finish(const std::string& summary);

  private:
    void draw(uint64_t done, uint64_t total, const std::string& detail);

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
