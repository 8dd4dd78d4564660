// Format sniffing, limits and file loading; the per-format work lives in decode_<format>.cpp.
#include <cstdio>
#include <cstring>
#include <string>

#include "common/file_read.h"
#include "image/decoders.h"

namespace clipdex::image {
namespace detail {

void DecodeContext::fail(ErrorCode code, const std::string& reason) const {
    throw Error(code, "image '" + std::string(name) + "': " + reason);
}

void DecodeContext::check_dimensions(int64_t width, int64_t height) const {
    if (width <= 0 || height <= 0)
        fail(ErrorCode::Corrupt,
             "invalid dimensions " + std::to_string(width) + "x" + std::to_string(height));
    // Both factors fit in 32 bits for every format, so the product cannot overflow.
    const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
    if (pixels > limits.max_pixels || width > (1 << 30) || height > (1 << 30)) {
        char limit[64];
        std::snprintf(limit, sizeof limit, "%g megapixels", limits.max_pixels / 1e6);
        fail(ErrorCode::TooLarge, std::to_string(width) + "x" + std::to_string(height) +
                                      " pixels exceeds the limit of " + limit);
    }
}

void composite_rgba_on_white(const uint8_t* rgba, size_t pixels, uint8_t* rgb) {
    for (size_t i = 0; i < pixels; ++i, rgba += 4, rgb += 3) {
        const uint8_t a = rgba[3];
        rgb[0] = over_white(rgba[0], a);
        rgb[1] = over_white(rgba[1], a);
        rgb[2] = over_white(rgba[2], a);
    }
}

}  // namespace detail

namespace {

enum class Format { Jpeg, Png, Webp, Gif, Bmp, Svg, Unknown };

bool starts_with(std::span<const uint8_t> b, std::string_view magic, size_t at = 0) {
    return b.size() >= at + magic.size() &&
           std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
}

// SVG is text: skip a BOM and whitespace, then accept an XML declaration, comment or doctype
// only if "<svg" appears in the first 4 KiB, or a bare <svg root.
bool looks_like_svg(std::span<const uint8_t> b) {
    size_t i = starts_with(b, "\xEF\xBB\xBF") ? 3 : 0;
    while (i < b.size() && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) ++i;
    const auto rest = b.subspan(i);
    if (starts_with(rest, "<svg")) return true;
    if (!starts_with(rest, "<?xml") && !starts_with(rest, "<!--") &&
        !starts_with(rest, "<!DOCTYPE"))
        return false;
    const std::string_view head(reinterpret_cast<const char*>(rest.data()),
                                std::min<size_t>(rest.size(), 4096));
    return head.find("<svg") != std::string_view::npos;
}

Format sniff(std::span<const uint8_t> b) {
    if (starts_with(b, "\xFF\xD8\xFF")) return Format::Jpeg;
    if (starts_with(b, "\x89PNG\r\n\x1A\n")) return Format::Png;
    if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return Format::Webp;
    if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return Format::Gif;
    if (starts_with(b, "BM")) return Format::Bmp;
    if (looks_like_svg(b)) return Format::Svg;
    return Format::Unknown;
}

// What the content is, in one word, so that "not an image" helps without echoing any of it
// (the bytes may be a secret: /etc/passwd, a key file). Text: the first 4 KiB are printable
// ASCII, whitespace or UTF-8 lead/continuation bytes.
const char* describe_kind(std::span<const uint8_t> b) {
    const auto head = b.first(std::min<size_t>(b.size(), 4096));
    for (const uint8_t c : head) {
        const bool space = c == '\t' || c == '\n' || c == '\r' || c == '\f';
        if ((c < 0x20 && !space) || c == 0x7F) return "binary";
    }
    return "text";
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, std::string_view name_for_errors,
                   const DecodeLimits& limits) {
    const detail::DecodeContext ctx{name_for_errors, limits};
    if (bytes.size() > limits.max_file_bytes)
        ctx.fail(ErrorCode::TooLarge, std::to_string(bytes.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(limits.max_file_bytes) + " bytes");
    if (bytes.empty()) ctx.fail(ErrorCode::InvalidInput, "not an image (the content is empty)");
    Image image;
    switch (sniff(bytes)) {
        case Format::Jpeg:
            image = detail::decode_jpeg(bytes, ctx);
            break;
        case Format::Png:
            image = detail::decode_png(bytes, ctx);
            break;
        case Format::Webp:
            image = detail::decode_webp(bytes, ctx);
            break;
        case Format::Gif:
            image = detail::decode_gif(bytes, ctx);
            break;
        case Format::Bmp:
            image = detail::decode_bmp(bytes, ctx);
            break;
        case Format::Svg:
            return detail::decode_svg(bytes, ctx);  // rendered in a worker process
        case Format::Unknown:
            ctx.fail(ErrorCode::InvalidInput, std::string("not an image (the content is ") +
                                                  describe_kind(bytes) +
                                                  "; supported: JPEG, PNG, WebP, GIF, BMP, SVG)");
    }
    // The intermediates are gone: keep the output's bytes held for as long as the Image lives.
    if (ctx.hold) {
        ctx.hold->shrink_to(image.rgb.size());
        image.budget_hold = std::move(ctx.hold);
    }
    return image;
}

Image load_image(const std::filesystem::path& path, const DecodeLimits& limits) {
    const auto u8 = path.u8string();
    const std::string name(reinterpret_cast<const char*>(u8.c_str()), u8.size());
    return decode_image(read_file_bounded(path, limits.max_file_bytes, "image '" + name + "'"),
                        name, limits);
}

}  // namespace clipdex::image
