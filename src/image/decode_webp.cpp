// WebP through libwebp: still images (lossy, lossless, with alpha) and the first frame of
// animations (through the demuxer, composed on its canvas). EXIF orientation from the EXIF chunk.
#include <webp/decode.h>
#include <webp/demux.h>

#include <memory>

#include "image/decoders.h"

namespace clipdex::image::detail {
namespace {

struct DemuxDeleter {
    void operator()(WebPDemuxer* d) const { WebPDemuxDelete(d); }
};
struct AnimDeleter {
    void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

int webp_orientation(const WebPDemuxer* demux) {
    WebPChunkIterator it;
    int orientation = 1;
    if (WebPDemuxGetChunk(demux, "EXIF", 1, &it))
        orientation = exif_orientation({it.chunk.bytes, it.chunk.size});
    WebPDemuxReleaseChunkIterator(&it);
    return orientation;
}

Image first_animation_frame(const WebPData& data, const DecodeContext& ctx) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options))
        ctx.fail(ErrorCode::Internal, "libwebp version mismatch");
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    std::unique_ptr<WebPAnimDecoder, AnimDeleter> dec(WebPAnimDecoderNew(&data, &options));
    if (!dec) ctx.fail(ErrorCode::Corrupt, "corrupt animated WebP");
    uint8_t* frame = nullptr;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(dec.get(), &frame, &timestamp))
        ctx.fail(ErrorCode::Corrupt, "corrupt animated WebP: the first frame does not decode");
    WebPAnimInfo info;
    WebPAnimDecoderGetInfo(dec.get(), &info);
    Image out{static_cast<int>(info.canvas_width), static_cast<int>(info.canvas_height), {}};
    out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
    composite_rgba_on_white(frame, static_cast<size_t>(out.width) * out.height, out.rgb.data());
    return out;
}

}  // namespace

Image decode_webp(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
    WebPBitstreamFeatures features;
    const VP8StatusCode status = WebPGetFeatures(bytes.data(), bytes.size(), &features);
    if (status == VP8_STATUS_NOT_ENOUGH_DATA)
        ctx.fail(ErrorCode::Corrupt, "corrupt WebP: the file is truncated");
    if (status != VP8_STATUS_OK) ctx.fail(ErrorCode::Corrupt, "corrupt WebP: unreadable header");
    // For animations this is the canvas size, which bounds every frame.
    ctx.check_dimensions(features.width, features.height);

    const WebPData data{bytes.data(), bytes.size()};
    std::unique_ptr<WebPDemuxer, DemuxDeleter> demux(WebPDemux(&data));
    const int orientation = demux ? webp_orientation(demux.get()) : 1;
    // RGB output; RGBA for alpha (+1 for the lossy alpha plane); lossless keeps a whole ARGB
    // image inside libwebp; animations hold two RGBA canvases and a frame besides the output.
    const bool lossless = features.format == 2;
    const double per_pixel = features.has_animation
                                 ? 3 + 3 * 4
                                 : 3 + (features.has_alpha ? 4 : 0) + (lossless ? 4 : 0) +
                                       (features.has_alpha && !lossless ? 1 : 0);
    ctx.reserve(features.width, features.height, per_pixel,
                features.has_animation ? "animated WebP"
                : lossless             ? "lossless WebP"
                                       : "lossy WebP");
    if (features.has_animation) return ctx.orient(first_animation_frame(data, ctx), orientation);

    const size_t pixels = static_cast<size_t>(features.width) * features.height;
    Image out{features.width, features.height, std::vector<uint8_t>(pixels * 3)};
    if (features.has_alpha) {
        std::vector<uint8_t> rgba(pixels * 4);
        if (!WebPDecodeRGBAInto(bytes.data(), bytes.size(), rgba.data(), rgba.size(),
                                features.width * 4))
            ctx.fail(ErrorCode::Corrupt, "corrupt WebP: pixel data does not decode");
        composite_rgba_on_white(rgba.data(), pixels, out.rgb.data());
    } else if (!WebPDecodeRGBInto(bytes.data(), bytes.size(), out.rgb.data(), out.rgb.size(),
                                  features.width * 3)) {
        ctx.fail(ErrorCode::Corrupt, "corrupt WebP: pixel data does not decode");
    }
    return ctx.orient(std::move(out), orientation);
}

}  // namespace clipdex::image::detail
