// clipdex image pipeline: bytes -> 8-bit RGB -> the model's input tensor.
//
// Decoding sniffs the content (JPEG, PNG, WebP, GIF first frame, BMP, SVG) and never trusts a
// file extension. Every decoder reads the header first and refuses images over the limits
// before allocating pixel memory. Output is always 8-bit RGB with alpha composited on white
// and EXIF orientation applied (JPEG APP1, PNG eXIf, WebP EXIF).
//
// Preprocessing reproduces open_clip's inference transform bit for bit on opaque images:
// Pillow's antialiased BICUBIC resize (short side to S), torchvision's CenterCrop, ToTensor
// and Normalize. Two deliberate differences from `Image.open(p)` + open_clip, both because
// they give the picture a person sees: open_clip ignores EXIF orientation (Pillow does not
// transpose on open) and drops alpha (`convert("RGB")` keeps the hidden colour under
// transparent pixels); clipdex rotates and composites on white. 16-bit greyscale PNGs keep
// their high byte where Pillow's I;16 -> RGB conversion clips every value above 255 to white.
//
// SVGs are rendered in clipdex-svg-worker processes (a process-wide pool started on the first
// SVG), so a crash or a runaway inside librsvg fails that one image; see decode_svg.cpp.
//
// Memory: each decode takes its peak bytes from a DecodeBudget (process-wide by default) before
// allocating, so concurrent decodes of large images wait or are refused instead of adding up.
//
// Thread safety: every function is reentrant; the SVG worker pool and the process decode budget
// are the only global state, both thread-safe.
//
// Basic usage:
//     auto img = clipdex::image::load_image("photos/cat.jpg");
//     std::vector<float> chw = clipdex::image::preprocess(img, 224, {});  // 3*224*224 floats
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

namespace clipdex::image {

// Row-major, 3 bytes per pixel, no padding: rgb.size() == 3 * width * height.
struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
    // From decode_image: the decode budget's hold on rgb's bytes, released with the last copy.
    std::shared_ptr<const void> budget_hold;
};

// Decode memory shared by concurrent decodes: each decode takes its peak bytes (computed from
// the header) before allocating and gives them back when done; its output keeps 3*w*h until the
// Image is destroyed. A decode that does not fit waits; past the wait it is refused.
class DecodeBudget {
  public:
    explicit DecodeBudget(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}
    uint64_t capacity() const { return capacity_; }
    uint64_t in_use() const;
    uint64_t peak() const;  // the most ever in use at once
    // Takes `bytes` once they fit, waiting at most `wait`; false (nothing taken) otherwise.
    bool acquire(uint64_t bytes, std::chrono::milliseconds wait);
    void release(uint64_t bytes);

  private:
    const uint64_t capacity_;
    mutable std::mutex mu_;
    std::condition_variable freed_;
    uint64_t in_use_ = 0, peak_ = 0;
};

// The budget every DecodeLimits uses unless given another: 2 GiB for the whole process.
std::shared_ptr<DecodeBudget> process_decode_budget();

struct DecodeLimits {
    uint64_t max_file_bytes = 64ull << 20;  // larger inputs are refused before decoding (TooLarge)
    uint64_t max_pixels = 100'000'000;  // width*height of the stored image (decompression bombs)
    int svg_min_size = 224;             // SVGs are rasterized with this short side, aspect kept
    // Peak memory of one decode: pixels times the bytes per pixel of the decoder's buffers
    // (output, intermediate RGBA, progressive JPEG coefficients, orientation copy), computed from
    // the header before allocating. Over it: TooLarge, naming both sizes.
    uint64_t max_decode_bytes = 1ull << 30;
    // Shared by concurrent decodes (null: none). A decode that does not fit waits up to
    // budget_wait_ms, then is refused with Unavailable (TooLarge if it could never fit).
    std::shared_ptr<DecodeBudget> budget = process_decode_budget();
    int budget_wait_ms = 10'000;
    // Each SVG renders in a worker process under these limits; passing one fails that image
    // (Corrupt) and replaces the worker. The CPU-time limit is the wall limit rounded up + 2 s.
    int svg_time_limit_ms = 10'000;            // wall time, enforced by killing the worker
    uint64_t svg_memory_bytes = 512ull << 20;  // the worker's address space (RLIMIT_AS)
};

// Throws clipdex::Error naming `name_for_errors`: InvalidInput (not an image), Corrupt
// (truncated or damaged; an SVG that crashes its renderer or passes its time limit), TooLarge
// (a limit), Unsupported (a valid variant not handled), Unavailable (no SVG worker could run).
Image decode_image(std::span<const uint8_t> bytes, std::string_view name_for_errors,
                   const DecodeLimits& limits = {});
// Reads the file (Io / NotFound / TooLarge before reading) and decodes it.
Image load_image(const std::filesystem::path& path, const DecodeLimits& limits = {});

// Kills every SVG worker now, so that a stopping process never waits for a render: renders in
// flight or waiting for a worker fail with Unavailable. Later SVGs start new workers. Safe from
// any thread.
void stop_svg_workers();
// Process ids of the SVG workers alive now (idle or busy), for tests and diagnostics.
std::vector<int> svg_worker_pids();

// Pillow's Image.resize(BICUBIC) to exactly out_width x out_height (antialiased when shrinking).
Image resize_bicubic(const Image& image, int out_width, int out_height);
// The short side becomes `size`, the long side int(size * long / short) as torchvision computes it.
// Outputs over 100 megapixels are refused (TooLarge); preprocess() has no such limit.
Image resize_shortest_bicubic(const Image& image, int size);
// size x size from the middle, top = round((H - size) / 2) with ties to even like torchvision.
// An image smaller than `size` is padded with black first, as torchvision does.
Image center_crop(const Image& image, int size);

// resize_shortest_bicubic then center_crop, computing only the kept window: identical pixels,
// less work, and memory bounded by size*size even for 1x100000 strips.
Image resize_and_center_crop(const Image& image, int size);

struct Normalization {
    float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};  // OpenAI CLIP
    float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
};

// Writes 3*H*W floats, channel-major: out[c*H*W + y*W + x] = (v/255 - mean[c]) / std[c],
// computed in float32 in the same order as torchvision so results are identical.
void to_chw_normalized(const Image& image, const Normalization& norm, float* out);
// open_clip's inference transform for image size `size`: resize_and_center_crop, then normalize.
std::vector<float> preprocess(const Image& image, int size, const Normalization& norm = {});

}  // namespace clipdex::image
