// decode_image on arbitrary bytes: must return an image or throw clipdex::Error, never crash,
// leak, or allocate beyond the (small) limits passed here. Decoded images also go through the
// resize so the coefficient code sees odd sizes. SVGs take the same path as in clipdex: rendered
// by clipdex-svg-worker, so the corpus's librsvg panic (svg_convolve_order21_panic.svg) and
// runaway (svg_turbulence_octaves_100000000.svg) must come back as errors, not abort or hang.
#include <cstddef>
#include <cstdint>
#include <span>

#include "clipdex/error.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    clipdex::image::DecodeLimits limits;
    limits.max_pixels = 4'000'000;
    limits.max_file_bytes = 4u << 20;
    limits.svg_min_size = 64;
    limits.svg_time_limit_ms = 2000;
    try {
        const auto img =
            clipdex::image::decode_image(std::span<const uint8_t>(data, size), "fuzz", limits);
        if (img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3) __builtin_trap();
        clipdex::image::preprocess(img, 32);
    } catch (const clipdex::Error&) {
    }
    return 0;
}
