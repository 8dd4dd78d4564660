// SVG through librsvg (the GNOME renderer), rasterized on white with cairo.
//
// Safety: the document is loaded from memory with no base file. librsvg resolves every
// external reference (<image href>, <use> of another file, xml-stylesheet, CSS @import)
// against the base URL and refuses all of them when there is none, so neither file: nor
// network URLs are ever read; only self-contained data: URLs render. The UNLIMITED flag is
// not set, so libxml2's and librsvg's limits on size, nesting and element counts stay on.
#include "image/worker/render_svg.h"

#include <cairo.h>
#include <gio/gio.h>
#include <librsvg/rsvg.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "clipdex/error.h"

namespace clipdex::image::worker {
namespace {

struct GObjectUnref {
    void operator()(void* p) const { g_object_unref(p); }
};
struct ErrorFree {
    void operator()(GError* e) const { g_error_free(e); }
};
struct SurfaceFree {
    void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct CairoFree {
    void operator()(cairo_t* c) const { cairo_destroy(c); }
};

constexpr int kCairoMaxSide = 32767;

[[noreturn]] void fail(ErrorCode code, const std::string& reason) {
    throw Error(code, reason);
}

// The drawing's width/height ratio: explicit absolute size first, else the viewBox, else 1.
double aspect_ratio(RsvgHandle* handle) {
    double w = 0, h = 0;
    if (rsvg_handle_get_intrinsic_size_in_pixels(handle, &w, &h) && w > 0 && h > 0) return w / h;
    gboolean has_w = FALSE, has_h = FALSE, has_vb = FALSE;
    RsvgLength lw{}, lh{};
    RsvgRectangle vb{};
    rsvg_handle_get_intrinsic_dimensions(handle, &has_w, &lw, &has_h, &lh, &has_vb, &vb);
    if (has_vb && vb.width > 0 && vb.height > 0) return vb.width / vb.height;
    return 1.0;
}

}  // namespace

Image render_svg(std::span<const uint8_t> bytes, const SvgRenderParams& params) {
    std::unique_ptr<GInputStream, GObjectUnref> stream(g_memory_input_stream_new_from_data(
        bytes.data(), static_cast<gssize>(bytes.size()), nullptr));
    GError* raw_error = nullptr;
    std::unique_ptr<RsvgHandle, GObjectUnref> handle(rsvg_handle_new_from_stream_sync(
        stream.get(), /*base_file=*/nullptr, RSVG_HANDLE_FLAGS_NONE, nullptr, &raw_error));
    std::unique_ptr<GError, ErrorFree> error(raw_error);
    if (!handle)
        fail(ErrorCode::Corrupt,
             std::string("corrupt SVG: ") + (error ? error->message : "does not parse"));

    const double aspect = aspect_ratio(handle.get());
    if (!std::isfinite(aspect) || aspect <= 0)
        fail(ErrorCode::Corrupt, "corrupt SVG: invalid size");
    const int short_side = std::max(params.min_size, 1);
    const double long_exact = short_side * std::max(aspect, 1.0 / aspect);
    if (long_exact > kCairoMaxSide)
        fail(ErrorCode::TooLarge,
             "SVG aspect ratio " + std::to_string(aspect) + " is too extreme to rasterize");
    const int long_side = std::max(static_cast<int>(std::lround(long_exact)), 1);
    const int w = aspect >= 1 ? long_side : short_side;
    const int h = aspect >= 1 ? short_side : long_side;
    if (static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > params.max_pixels) {
        char limit[64];
        std::snprintf(limit, sizeof limit, "%g megapixels", params.max_pixels / 1e6);
        fail(ErrorCode::TooLarge,
             std::to_string(w) + "x" + std::to_string(h) + " pixels exceeds the limit of " + limit);
    }

    std::unique_ptr<cairo_surface_t, SurfaceFree> surface(
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h));
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
        fail(ErrorCode::TooLarge, "cannot allocate a " + std::to_string(w) + "x" +
                                      std::to_string(h) +
                                      " canvas within the renderer's memory limit");
    {
        std::unique_ptr<cairo_t, CairoFree> cr(cairo_create(surface.get()));
        cairo_set_source_rgb(cr.get(), 1, 1, 1);
        cairo_paint(cr.get());
        const RsvgRectangle viewport{0, 0, static_cast<double>(w), static_cast<double>(h)};
        GError* render_error = nullptr;
        if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &render_error)) {
            std::unique_ptr<GError, ErrorFree> owned(render_error);
            fail(ErrorCode::Corrupt,
                 std::string("SVG does not render: ") + (owned ? owned->message : "unknown error"));
        }
    }
    cairo_surface_flush(surface.get());
    const uint8_t* data = cairo_image_surface_get_data(surface.get());
    const int stride = cairo_image_surface_get_stride(surface.get());
    Image out{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (int y = 0; y < h; ++y) {
        const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(y) * stride);
        uint8_t* dst = &out.rgb[static_cast<size_t>(y) * w * 3];
        for (int x = 0; x < w; ++x) {
            // Native-endian premultiplied ARGB; opaque everywhere because we painted white first.
            const uint32_t px = row[x];
            dst[3 * x + 0] = static_cast<uint8_t>(px >> 16);
            dst[3 * x + 1] = static_cast<uint8_t>(px >> 8);
            dst[3 * x + 2] = static_cast<uint8_t>(px);
        }
    }
    return out;
}

}  // namespace clipdex::image::worker
