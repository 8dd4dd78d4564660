// BMP: a small parser of our own, because no maintained decoder library is packaged for
// Debian and the format is simple. Uncompressed 1/4/8-bit palette, 16/24/32-bit direct colour
// and BITFIELDS masks (with alpha); OS/2 core headers. Every read is bounds-checked against
// the buffer; pixel data must lie entirely inside the file. RLE and embedded JPEG/PNG are
// reported as Unsupported.
#include <algorithm>
#include <bit>
#include <cstring>

#include "image/decoders.h"

namespace clipdex::image::detail {
namespace {

enum class Compression : uint32_t {
    Rgb = 0,
    Rle8 = 1,
    Rle4 = 2,
    Bitfields = 3,
    Jpeg = 4,
    Png = 5,
    AlphaBitfields = 6
};

class Reader {
  public:
    Reader(std::span<const uint8_t> b, const DecodeContext& ctx) : b_(b), ctx_(ctx) {}
    uint32_t u32(size_t at) const {
        need(at, 4);
        return static_cast<uint32_t>(b_[at]) | static_cast<uint32_t>(b_[at + 1]) << 8 |
               static_cast<uint32_t>(b_[at + 2]) << 16 | static_cast<uint32_t>(b_[at + 3]) << 24;
    }
    uint16_t u16(size_t at) const {
        need(at, 2);
        return static_cast<uint16_t>(b_[at] | b_[at + 1] << 8);
    }
    int32_t i32(size_t at) const { return static_cast<int32_t>(u32(at)); }
    void need(size_t at, size_t n) const {
        if (at > b_.size() || n > b_.size() - at)
            ctx_.fail(ErrorCode::Corrupt, "corrupt BMP: the file is truncated");
    }
    const uint8_t* at(size_t pos) const { return b_.data() + pos; }

  private:
    std::span<const uint8_t> b_;
    const DecodeContext& ctx_;
};

// One colour channel described by a BITFIELDS mask, scaled to 8 bits.
struct Channel {
    uint32_t mask = 0;
    int shift = 0;
    uint32_t max = 0;
    static Channel from(uint32_t mask) {
        Channel c;
        if (mask == 0) return c;
        c.mask = mask;
        c.shift = std::countr_zero(mask);
        c.max = mask >> c.shift;
        return c;
    }
    bool contiguous() const { return mask == 0 || (max & (max + 1)) == 0; }
    uint8_t get(uint32_t px) const {
        if (max == 0) return 0;
        const uint64_t v = (px & mask) >> shift;
        return static_cast<uint8_t>((v * 255 + max / 2) / max);
    }
};

struct Header {
    int64_t width = 0, height = 0;
    bool top_down = false;
    int bpp = 0;
    Compression compression = Compression::Rgb;
    size_t palette_at = 0;
    int palette_entry = 4;  // bytes per palette entry: 3 in OS/2 core files
    uint32_t colors = 0;
    Channel r, g, b, a;
    size_t pixels_at = 0;
};

Header read_header(const Reader& rd, const DecodeContext& ctx) {
    Header h;
    h.pixels_at = rd.u32(10);
    const uint32_t dib = rd.u32(14);
    if (dib == 12) {
        h.width = rd.u16(18);
        h.height = rd.u16(20);
        h.bpp = rd.u16(24);
        h.palette_entry = 3;
        h.palette_at = 14 + 12;
        return h;
    }
    if (dib < 40 || dib > 4096)
        ctx.fail(ErrorCode::Corrupt, "corrupt BMP: unknown header size " + std::to_string(dib));
    h.width = rd.i32(18);
    const int32_t height = rd.i32(22);
    h.top_down = height < 0;
    h.height = height < 0 ? -static_cast<int64_t>(height) : height;
    h.bpp = rd.u16(28);
    h.compression = static_cast<Compression>(rd.u32(30));
    h.colors = rd.u32(46);
    size_t masks_end = 14 + dib;
    if (h.compression == Compression::Bitfields || h.compression == Compression::AlphaBitfields) {
        // With the 40-byte header the masks follow it; later headers contain them.
        const bool with_alpha = h.compression == Compression::AlphaBitfields || dib >= 56;
        if (dib == 40) masks_end += h.compression == Compression::AlphaBitfields ? 16 : 12;
        h.r = Channel::from(rd.u32(54));
        h.g = Channel::from(rd.u32(58));
        h.b = Channel::from(rd.u32(62));
        if (with_alpha) h.a = Channel::from(rd.u32(66));
    }
    // Without BITFIELDS a 32-bit file's 4th byte is ignored, as Pillow and Windows do: plain
    // writers often leave garbage or zeros there.
    h.palette_at = masks_end;
    return h;
}

void set_default_masks(Header& h) {
    if (h.compression != Compression::Rgb) return;
    if (h.bpp == 16) {
        h.r = Channel::from(0x7C00);
        h.g = Channel::from(0x03E0);
        h.b = Channel::from(0x001F);
    } else if (h.bpp == 24 || h.bpp == 32) {
        h.r = Channel::from(0xFF0000);
        h.g = Channel::from(0x00FF00);
        h.b = Channel::from(0x0000FF);
    }
}

void validate(const Header& h, const DecodeContext& ctx) {
    if (h.compression == Compression::Rle8 || h.compression == Compression::Rle4 ||
        h.compression == Compression::Jpeg || h.compression == Compression::Png)
        ctx.fail(ErrorCode::Unsupported, "BMP compression " +
                                             std::to_string(static_cast<uint32_t>(h.compression)) +
                                             " (RLE or embedded JPEG/PNG) is not supported");
    if (h.compression != Compression::Rgb && h.compression != Compression::Bitfields &&
        h.compression != Compression::AlphaBitfields)
        ctx.fail(ErrorCode::Corrupt, "corrupt BMP: unknown compression " +
                                         std::to_string(static_cast<uint32_t>(h.compression)));
    const bool palette = h.bpp == 1 || h.bpp == 4 || h.bpp == 8;
    const bool direct = h.bpp == 16 || h.bpp == 24 || h.bpp == 32;
    if (!palette && !direct)
        ctx.fail(ErrorCode::Unsupported, "BMP with " + std::to_string(h.bpp) + " bits per pixel");
    if (h.compression != Compression::Rgb && h.bpp != 16 && h.bpp != 32)
        ctx.fail(ErrorCode::Corrupt, "corrupt BMP: BITFIELDS needs 16 or 32 bits per pixel");
    if (!h.r.contiguous() || !h.g.contiguous() || !h.b.contiguous() || !h.a.contiguous())
        ctx.fail(ErrorCode::Corrupt, "corrupt BMP: non-contiguous colour mask");
    ctx.check_dimensions(h.width, h.height);
    ctx.reserve(h.width, h.height, 7, "BMP");  // RGBA, then the RGB output
}

struct Rgba {
    uint8_t r, g, b, a;
};

std::vector<Rgba> read_palette(const Reader& rd, const Header& h, size_t file_size) {
    const uint32_t max_colors = 1u << h.bpp;
    uint32_t count = h.colors == 0 || h.colors > max_colors ? max_colors : h.colors;
    // Entries that would run past the pixel data or the file are treated as black.
    const size_t end = std::min(file_size, std::max(h.pixels_at, h.palette_at));
    const size_t available = end > h.palette_at ? (end - h.palette_at) / h.palette_entry : 0;
    std::vector<Rgba> palette(max_colors, Rgba{0, 0, 0, 255});
    count = static_cast<uint32_t>(std::min<size_t>(count, available));
    for (uint32_t i = 0; i < count; ++i) {
        const uint8_t* p = rd.at(h.palette_at + static_cast<size_t>(i) * h.palette_entry);
        palette[i] = Rgba{p[2], p[1], p[0], 255};
    }
    return palette;
}

uint32_t read_le(const uint8_t* p, int bytes) {
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
    return v;
}

}  // namespace

Image decode_bmp(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
    const Reader rd(bytes, ctx);
    Header h = read_header(rd, ctx);
    validate(h, ctx);
    set_default_masks(h);

    const int w = static_cast<int>(h.width), ht = static_cast<int>(h.height);
    const uint64_t stride = (static_cast<uint64_t>(w) * h.bpp + 31) / 32 * 4;
    const uint64_t need = stride * static_cast<uint64_t>(ht);
    if (h.pixels_at > bytes.size() || need > bytes.size() - h.pixels_at)
        ctx.fail(ErrorCode::Corrupt, "corrupt BMP: the pixel data is truncated");

    const std::vector<Rgba> palette =
        h.bpp <= 8 ? read_palette(rd, h, bytes.size()) : std::vector<Rgba>{};
    std::vector<uint8_t> rgba(static_cast<size_t>(w) * ht * 4);
    bool any_alpha = false;
    for (int y = 0; y < ht; ++y) {
        const uint8_t* row =
            rd.at(h.pixels_at + stride * static_cast<uint64_t>(h.top_down ? y : ht - 1 - y));
        uint8_t* dst = &rgba[static_cast<size_t>(y) * w * 4];
        for (int x = 0; x < w; ++x, dst += 4) {
            Rgba px{};
            if (h.bpp <= 8) {
                const size_t bit = static_cast<size_t>(x) * h.bpp;
                const int shift = 8 - h.bpp - static_cast<int>(bit % 8);
                px = palette[(row[bit / 8] >> shift) & ((1u << h.bpp) - 1)];
            } else {
                const uint32_t v = read_le(row + static_cast<size_t>(x) * (h.bpp / 8), h.bpp / 8);
                px = Rgba{h.r.get(v), h.g.get(v), h.b.get(v), h.a.mask ? h.a.get(v) : uint8_t{255}};
                any_alpha = any_alpha || (h.a.mask && px.a != 0);
            }
            dst[0] = px.r;
            dst[1] = px.g;
            dst[2] = px.b;
            dst[3] = px.a;
        }
    }
    // An alpha mask over all-zero alpha is a writer that never filled it in: show the colours.
    if (h.a.mask && !any_alpha)
        for (size_t i = 3; i < rgba.size(); i += 4) rgba[i] = 255;
    Image out{w, ht, std::vector<uint8_t>(static_cast<size_t>(w) * ht * 3)};
    composite_rgba_on_white(rgba.data(), static_cast<size_t>(w) * ht, out.rgb.data());
    return out;
}

}  // namespace clipdex::image::detail
