// GIF through giflib, first frame only, record by record: DGifSlurp would decode every frame
// of an animation, which costs time and memory for pixels nobody looks at.
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "image/decoders.h"

namespace clipdex::image::detail {
namespace {

struct Source {
    std::span<const uint8_t> bytes;
    size_t pos = 0;
};

int read_bytes(GifFileType* gif, GifByteType* out, int length) {
    auto* src = static_cast<Source*>(gif->UserData);
    const size_t n =
        std::min(static_cast<size_t>(std::max(length, 0)), src->bytes.size() - src->pos);
    std::memcpy(out, src->bytes.data() + src->pos, n);
    src->pos += n;
    return static_cast<int>(n);
}

struct GifCloser {
    void operator()(GifFileType* gif) const {
        int error = 0;
        DGifCloseFile(gif, &error);
    }
};
using GifPtr = std::unique_ptr<GifFileType, GifCloser>;

constexpr int kGraphicsControl = GRAPHICS_EXT_FUNC_CODE;

[[noreturn]] void fail_gif(const DecodeContext& ctx, const GifFileType* gif) {
    const char* reason = GifErrorString(gif ? gif->Error : D_GIF_ERR_READ_FAILED);
    ctx.fail(ErrorCode::Corrupt,
             std::string("corrupt GIF: ") + (reason ? reason : "unknown error"));
}

// Reads extensions up to the first image descriptor; returns the transparent index or -1.
int skip_to_first_image(GifFileType* gif, const DecodeContext& ctx) {
    int transparent = -1;
    for (;;) {
        GifRecordType type = UNDEFINED_RECORD_TYPE;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) fail_gif(ctx, gif);
        if (type == IMAGE_DESC_RECORD_TYPE) return transparent;
        if (type == TERMINATE_RECORD_TYPE)
            ctx.fail(ErrorCode::Corrupt, "corrupt GIF: it contains no image");
        if (type != EXTENSION_RECORD_TYPE) continue;
        int code = 0;
        GifByteType* ext = nullptr;
        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) fail_gif(ctx, gif);
        if (code == kGraphicsControl && ext && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
        while (ext) {
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) fail_gif(ctx, gif);
        }
    }
}

}  // namespace

Image decode_gif(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
    Source src{bytes, 0};
    int error = 0;
    GifPtr gif(DGifOpen(&src, read_bytes, &error));
    if (!gif)
        ctx.fail(ErrorCode::Corrupt,
                 std::string("corrupt GIF: ") +
                     (GifErrorString(error) ? GifErrorString(error) : "unreadable header"));
    ctx.check_dimensions(std::max(gif->SWidth, 1), std::max(gif->SHeight, 1));

    const int transparent = skip_to_first_image(gif.get(), ctx);
    if (DGifGetImageDesc(gif.get()) == GIF_ERROR) fail_gif(ctx, gif.get());
    const GifImageDesc desc = gif->Image;
    ctx.check_dimensions(desc.Width, desc.Height);
    // A frame reaching past the logical screen grows the canvas (browsers and Pillow agree).
    const int64_t cw = std::max<int64_t>(gif->SWidth, int64_t{desc.Left} + desc.Width);
    const int64_t ch = std::max<int64_t>(gif->SHeight, int64_t{desc.Top} + desc.Height);
    ctx.check_dimensions(cw, ch);
    ctx.reserve(cw, ch, 3, "GIF canvas");  // decoded line by line into the RGB output

    const ColorMapObject* map = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
    Image out{static_cast<int>(cw), static_cast<int>(ch),
              std::vector<uint8_t>(static_cast<size_t>(cw) * ch * 3, 255)};
    std::vector<GifPixelType> line(desc.Width);
    std::vector<int> order(desc.Height);
    if (desc.Interlace) {
        static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
        int i = 0;
        for (int pass = 0; pass < 4; ++pass)
            for (int y = kStart[pass]; y < desc.Height; y += kStep[pass]) order[i++] = y;
    } else {
        for (int y = 0; y < desc.Height; ++y) order[y] = y;
    }
    for (int r = 0; r < desc.Height; ++r) {
        if (DGifGetLine(gif.get(), line.data(), desc.Width) == GIF_ERROR) fail_gif(ctx, gif.get());
        uint8_t* dst = &out.rgb[(static_cast<size_t>(desc.Top + order[r]) * cw + desc.Left) * 3];
        for (int x = 0; x < desc.Width; ++x, dst += 3) {
            const int index = line[x];
            if (index == transparent) continue;  // stays white
            if (!map) {
                dst[0] = dst[1] = dst[2] = static_cast<uint8_t>(index);
            } else if (index < map->ColorCount) {
                dst[0] = map->Colors[index].Red;
                dst[1] = map->Colors[index].Green;
                dst[2] = map->Colors[index].Blue;
            } else {
                dst[0] = dst[1] = dst[2] = 0;
            }
        }
    }
    return out;
}

}  // namespace clipdex::image::detail
