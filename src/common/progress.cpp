#include "common/progress.h"

#include <unistd.h>

#include <cmath>

namespace clipdex {

namespace {
constexpr int kBarWidth = 28;
}

std::string human_bytes(double bytes) {
    static const char* const kUnits[] = {"B", "KB", "MB", "GB", "TB"};
    int unit = 0;
    while (bytes >= 1000 && unit < 4) {
        bytes /= 1000;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
    return text;
}

std::string human_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const long total = std::lround(seconds);
    char text[32];
    if (total >= 3600)
        std::snprintf(text, sizeof text, "%ldh%02ldm", total / 3600, total / 60 % 60);
    else if (total >= 60)
        std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
    else
        std::snprintf(text, sizeof text, "%lds", total);
    return text;
}

Progress::Progress(std::string label, std::FILE* out, Unit unit)
    : label_(std::move(label)),
      out_(out),
      unit_(unit),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(uint64_t done, uint64_t total, const std::string& detail,
                      std::optional<uint64_t> costly) {
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
        // Redraw at most 10 times a second, and always the last step.
        if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done != total) return;
    } else {
        // A line every 5 s of work; a job done sooner prints only finish()'s summary, and the
        // last step is never printed beside that summary.
        const auto since = drawn_ ? last_draw_ : start_;
        if (now - since < std::chrono::seconds(5)) return;
    }
    last_draw_ = now;
    drawn_ = true;
    draw(done, total, detail, costly.value_or(done));
}

void Progress::draw(uint64_t done, uint64_t total, const std::string& detail, uint64_t costly) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(costly) / elapsed : 0;
    const double eta = (total > done && rate > 0) ? static_cast<double>(total - done) / rate : 0;
    char numbers[160];
    if (unit_ == Unit::Bytes)
        std::snprintf(numbers, sizeof numbers, "%s/%s  %s/s  ETA %s",
                      human_bytes(double(done)).c_str(),
                      total > 0 ? human_bytes(double(total)).c_str() : "?",
                      human_bytes(rate).c_str(), human_duration(eta).c_str());
    else if (total > 0)
        std::snprintf(numbers, sizeof numbers, "%llu/%llu  %.1f/s  ETA %s",
                      static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                      rate, human_duration(eta).c_str());
    else
        std::snprintf(numbers, sizeof numbers, "%llu  %.1f/s",
                      static_cast<unsigned long long>(done), rate);
    if (!tty_) {
        std::fprintf(out_, "%s: %s%s%s\n", label_.c_str(), numbers, detail.empty() ? "" : "  ",
                     detail.c_str());
        std::fflush(out_);
        return;
    }
    const int filled =
        total > 0
            ? static_cast<int>(kBarWidth * std::min<double>(1.0, double(done) / double(total)))
            : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kBarWidth, '.');
    std::fprintf(out_, "\r\033[K%s [%s] %s%s%s", label_.c_str(), bar.c_str(), numbers,
                 detail.empty() ? "" : "  ", detail.c_str());
    std::fflush(out_);
}

void Progress::finish(const std::string& summary) {
    if (tty_ && drawn_) std::fprintf(out_, "\r\033[K");
    std::fprintf(out_, "%s: %s\n", label_.c_str(), summary.c_str());
    std::fflush(out_);
}

}  // namespace clipdex
