// PNG through libpng, expanded to 8-bit RGBA and composited on white row by row.
//
// 16-bit samples keep their high byte (png_set_strip_16), which is what Pillow does for RGB(A);
// palette, low bit depths and tRNS are expanded. Like the JPEG decoder, libpng's fatal errors
// longjmp back into run_decoder(), whose frame holds nothing with a destructor.
#include <png.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "image/decoders.h"

namespace clipdex::image::detail {
namespace {

// Ancillary chunks (text, ICC profiles) decompress at most this much: zlib bombs stay cheap.
constexpr png_alloc_size_t kMaxChunkBytes = 8u << 20;

struct PngState {
    png_structp png = nullptr;
    png_infop info = nullptr;
    std::span<const uint8_t> bytes;
    size_t pos = 0;
    char message[256] = {};
    bool pixels_done = false;  // a damaged tail after the pixel data is tolerated, as Pillow does
    ~PngState() {
        if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    }
};

void on_error(png_structp png, png_const_charp msg) {
    auto* st = static_cast<PngState*>(png_get_error_ptr(png));
    std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep data, size_t length) {
    auto* st = static_cast<PngState*>(png_get_io_ptr(png));
    if (length > st->bytes.size() - st->pos) png_error(png, "the file is truncated");
    std::memcpy(data, st->bytes.data() + st->pos, length);
    st->pos += length;
}

const char* color_name(int color_type) {
    switch (color_type) {
        case PNG_COLOR_TYPE_GRAY:
            return "grey";
        case PNG_COLOR_TYPE_PALETTE:
            return "palette";
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            return "grey+alpha";
        case PNG_COLOR_TYPE_RGB_ALPHA:
            return "RGBA";
        default:
            return "RGB";
    }
}

// In a frame of its own: run_decoder's frame must hold nothing with a destructor (longjmp).
void reserve_memory(const PngState* st, const DecodeContext& ctx, png_uint_32 w, png_uint_32 h,
                    bool interlaced) {
    const std::string what = std::to_string(png_get_bit_depth(st->png, st->info)) + "-bit " +
                             color_name(png_get_color_type(st->png, st->info)) +
                             (interlaced ? " interlaced PNG" : " PNG");
    ctx.reserve(w, h, interlaced ? 7 : 3, what);
}

// Non-interlaced images go row by row into the RGB output (peak 3 bytes per pixel, whatever the
// file's depth); interlaced ones need the whole 8-bit RGBA image first (4 + 3).
int run_decoder(PngState* st, const DecodeContext& ctx, std::vector<uint8_t>* rgba,
                std::vector<png_bytep>* rows, Image* out, int* orientation) {
    if (setjmp(png_jmpbuf(st->png))) return 1;
    png_set_read_fn(st->png, st, on_read);
    png_set_chunk_malloc_max(st->png, kMaxChunkBytes);
    // Our own pixel limit is checked below and gives the better message.
    png_set_user_limits(st->png, 0x7FFFFFFF, 0x7FFFFFFF);
    png_read_info(st->png, st->info);
    const png_uint_32 w = png_get_image_width(st->png, st->info);
    const png_uint_32 h = png_get_image_height(st->png, st->info);
    ctx.check_dimensions(w, h);
    const bool interlaced = png_get_interlace_type(st->png, st->info) != PNG_INTERLACE_NONE;
    reserve_memory(st, ctx, w, h, interlaced);

    png_set_expand(st->png);  // palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha
    png_set_strip_16(st->png);
    png_set_gray_to_rgb(st->png);
    png_set_add_alpha(st->png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(st->png);
    png_read_update_info(st->png, st->info);
    if (png_get_rowbytes(st->png, st->info) != static_cast<size_t>(w) * 4) {
        std::snprintf(st->message, sizeof st->message, "unexpected row layout");
        return 1;
    }
    out->rgb.resize(static_cast<size_t>(w) * h * 3);
    if (interlaced) {
        rgba->resize(static_cast<size_t>(w) * h * 4);
        rows->resize(h);
        for (png_uint_32 y = 0; y < h; ++y)
            (*rows)[y] = rgba->data() + static_cast<size_t>(y) * w * 4;
        png_read_image(st->png, rows->data());
        composite_rgba_on_white(rgba->data(), static_cast<size_t>(w) * h, out->rgb.data());
        std::vector<uint8_t>().swap(*rgba);
    } else {
        rgba->resize(static_cast<size_t>(w) * 4);
        for (png_uint_32 y = 0; y < h; ++y) {
            png_read_row(st->png, rgba->data(), nullptr);
            composite_rgba_on_white(rgba->data(), w, &out->rgb[static_cast<size_t>(y) * w * 3]);
        }
    }
    out->width = static_cast<int>(w);
    out->height = static_cast<int>(h);
    st->pixels_done = true;
    png_read_end(st->png, st->info);

    png_bytep exif = nullptr;
    png_uint_32 exif_len = 0;
    if (png_get_eXIf_1(st->png, st->info, &exif_len, &exif) && exif)
        *orientation = exif_orientation({exif, exif_len});
    return 0;
}

uint32_t be32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
    // IHDR is always the first chunk: refuse oversized images before libpng reads anything else.
    if (bytes.size() >= 24 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0)
        ctx.check_dimensions(be32(bytes.data() + 16), be32(bytes.data() + 20));
    auto st = std::make_unique<PngState>();
    st->bytes = bytes;
    st->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st.get(), on_error, on_warning);
    if (!st->png) ctx.fail(ErrorCode::Internal, "libpng could not be initialised");
    st->info = png_create_info_struct(st->png);
    if (!st->info) ctx.fail(ErrorCode::Internal, "libpng could not be initialised");

    std::vector<uint8_t> rgba;
    std::vector<png_bytep> rows;
    Image out;
    int orientation = 1;
    if (run_decoder(st.get(), ctx, &rgba, &rows, &out, &orientation) != 0 && !st->pixels_done)
        ctx.fail(ErrorCode::Corrupt, std::string("corrupt PNG: ") + st->message);
    return ctx.orient(std::move(out), orientation);
}

}  // namespace clipdex::image::detail
