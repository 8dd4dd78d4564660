// Decode memory: the per-image limit and the budget shared by concurrent decodes.
//
// Decoders call DecodeContext::reserve() with their peak bytes per pixel right after reading the
// header; decode_image keeps only the output's 3*w*h held, attached to the Image it returns.
#include <cmath>
#include <cstdio>

#include "image/decoders.h"

namespace clipdex::image {

uint64_t DecodeBudget::in_use() const {
    std::lock_guard lock(mu_);
    return in_use_;
}

uint64_t DecodeBudget::peak() const {
    std::lock_guard lock(mu_);
    return peak_;
}

bool DecodeBudget::acquire(uint64_t bytes, std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    if (bytes > capacity_) return false;
    if (!freed_.wait_for(lock, wait, [&] { return in_use_ + bytes <= capacity_; })) return false;
    in_use_ += bytes;
    peak_ = std::max(peak_, in_use_);
    return true;
}

void DecodeBudget::release(uint64_t bytes) {
    {
        std::lock_guard lock(mu_);
        in_use_ -= std::min(bytes, in_use_);
    }
    freed_.notify_all();
}

std::shared_ptr<DecodeBudget> process_decode_budget() {
    static const auto budget = std::make_shared<DecodeBudget>(2ull << 30);
    return budget;
}

namespace detail {
namespace {

std::string mib(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return text;
}

}  // namespace

bool BudgetHold::grow_to(uint64_t bytes, std::chrono::milliseconds wait) {
    if (bytes <= bytes_) return true;
    if (!budget_->acquire(bytes - bytes_, wait)) return false;
    bytes_ = bytes;
    return true;
}

void BudgetHold::shrink_to(uint64_t bytes) {
    if (bytes >= bytes_) return;
    budget_->release(bytes_ - bytes);
    bytes_ = bytes;
}

void DecodeContext::reserve(int64_t width, int64_t height, double bytes_per_pixel,
                            std::string_view what) const {
    const double pixels = static_cast<double>(width) * static_cast<double>(height);
    const uint64_t extra = static_cast<uint64_t>(std::ceil(pixels * bytes_per_pixel));
    const uint64_t held = hold ? hold->bytes() : 0;
    const uint64_t total = held + extra;
    char per_pixel[16];
    std::snprintf(per_pixel, sizeof per_pixel, "%g", bytes_per_pixel);
    const std::string needs = "decoding " + std::to_string(width) + "x" + std::to_string(height) +
                              " (" + std::string(what) + ", " + per_pixel +
                              " bytes per pixel) needs " + mib(total);
    if (total > limits.max_decode_bytes)
        fail(ErrorCode::TooLarge,
             needs + ", over the per-image limit of " + mib(limits.max_decode_bytes));
    if (!limits.budget) return;
    if (total > limits.budget->capacity())
        fail(ErrorCode::TooLarge, needs + ", more than the whole decode memory budget of " +
                                      mib(limits.budget->capacity()));
    if (!hold) hold = std::make_shared<BudgetHold>(limits.budget);
    if (!hold->grow_to(total, std::chrono::milliseconds(std::max(limits.budget_wait_ms, 0))))
        fail(ErrorCode::Unavailable,
             needs + " and the " + mib(limits.budget->capacity()) +
                 " decode memory budget stayed in use by other images for " +
                 std::to_string(limits.budget_wait_ms) + " ms; try again later");
}

Image DecodeContext::orient(Image image, int orientation) const {
    if (orientation >= 2 && orientation <= 8) {
        if (hold) hold->shrink_to(image.rgb.size());  // the decoder's intermediates are gone
        reserve(image.width, image.height, 3, "and its rotated copy");
    }
    return apply_orientation(std::move(image), orientation);
}

}  // namespace detail
}  // namespace clipdex::image
