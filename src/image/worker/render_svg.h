// The SVG renderer itself (librsvg + cairo), run only inside clipdex-svg-worker.
//
// librsvg can abort the process (a Rust panic, e.g. feConvolveMatrix order="21" in 2.54) or
// render for minutes (feTurbulence numOctaves="1e8", huge blurs), so clipdex never calls this in
// its own process: src/image/svg_pool.cpp sends the bytes to a worker process that does, under
// CPU, memory and wall-time limits. Tests link it directly to compare pixels with the worker's.
#pragma once

#include <cstdint>
#include <span>

#include "image/image.h"

namespace clipdex::image::worker {

struct SvgRenderParams {
    int min_size = 224;  // short side of the raster, aspect kept
    uint64_t max_pixels = 100'000'000;
};

// Rasterizes on white. Throws clipdex::Error whose message is the reason only (no input name:
// the caller adds it): Corrupt (does not parse / render), TooLarge (size limits).
Image render_svg(std::span<const uint8_t> bytes, const SvgRenderParams& params);

}  // namespace clipdex::image::worker
