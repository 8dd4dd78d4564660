// Private to src/image: one decoder per format, plus the helpers they share.
//
// Every decoder receives the whole file in memory, checks the header's dimensions with
// check_dimensions() before allocating pixels, and returns RGB with alpha already composited
// on white. Errors name the input through DecodeContext::fail().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "clipdex/error.h"
#include "image/image.h"

namespace clipdex::image::detail {

// Bytes taken from a DecodeBudget, given back on destruction.
class BudgetHold {
  public:
    explicit BudgetHold(std::shared_ptr<DecodeBudget> budget) : budget_(std::move(budget)) {}
    BudgetHold(const BudgetHold&) = delete;
    BudgetHold& operator=(const BudgetHold&) = delete;
    ~BudgetHold() { shrink_to(0); }
    uint64_t bytes() const { return bytes_; }
    bool grow_to(uint64_t bytes, std::chrono::milliseconds wait);
    void shrink_to(uint64_t bytes);

  private:
    std::shared_ptr<DecodeBudget> budget_;
    uint64_t bytes_ = 0;
};

struct DecodeContext {
    std::string_view name;
    const DecodeLimits& limits;
    mutable std::shared_ptr<BudgetHold> hold;  // this decode's share of limits.budget

    [[noreturn]] void fail(ErrorCode code, const std::string& reason) const;
    // Throws TooLarge (or Corrupt for zero/negative sizes) before any pixel allocation.
    void check_dimensions(int64_t width, int64_t height) const;
    // Before allocating: this decode's peak will be `bytes_per_pixel` per pixel of a width x
    // height image (`what` says which form, for the message), on top of what it holds already.
    // Throws TooLarge over limits.max_decode_bytes or the whole budget, Unavailable when the
    // budget stays full past limits.budget_wait_ms.
    void reserve(int64_t width, int64_t height, double bytes_per_pixel,
                 std::string_view what) const;
    // apply_orientation, with the copy it makes reserved first.
    Image orient(Image image, int orientation) const;
};

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeContext& ctx);
Image decode_png(std::span<const uint8_t> bytes, const DecodeContext& ctx);
Image decode_webp(std::span<const uint8_t> bytes, const DecodeContext& ctx);
Image decode_gif(std::span<const uint8_t> bytes, const DecodeContext& ctx);
Image decode_bmp(std::span<const uint8_t> bytes, const DecodeContext& ctx);
Image decode_svg(std::span<const uint8_t> bytes, const DecodeContext& ctx);

// Value 1..8 of the EXIF Orientation tag in a TIFF-structured blob ("II*\0" / "MM\0*"),
// optionally preceded by "Exif\0\0"; 1 when absent or unreadable (a bad EXIF never fails a decode).
int exif_orientation(std::span<const uint8_t> exif);
// Rotates/flips so that the image displays upright (EXIF orientation 2..8).
Image apply_orientation(Image image, int orientation);

// Straight (non-premultiplied) RGBA -> RGB over white, rounding to nearest.
void composite_rgba_on_white(const uint8_t* rgba, size_t pixels, uint8_t* rgb);
inline uint8_t over_white(uint8_t value, uint8_t alpha) {
    return static_cast<uint8_t>((value * alpha + 255 * (255 - alpha) + 127) / 255);
}

}  // namespace clipdex::image::detail
