// EXIF orientation: a tiny bounds-checked reader of IFD0's tag 0x0112, and the eight
// transforms. Only one tag is needed, so a full EXIF library would be more attack surface
// than help; every read goes through a checked accessor and any malformation means "1".
#include "image/decoders.h"

namespace clipdex::image::detail {
namespace {

class TiffReader {
  public:
    explicit TiffReader(std::span<const uint8_t> d) : data_(d) {}
    bool ok(size_t at, size_t n) const { return at <= data_.size() && n <= data_.size() - at; }
    uint16_t u16(size_t at) const {
        return little_ ? static_cast<uint16_t>(data_[at] | data_[at + 1] << 8)
                       : static_cast<uint16_t>(data_[at] << 8 | data_[at + 1]);
    }
    uint32_t u32(size_t at) const {
        return little_ ? static_cast<uint32_t>(u16(at)) | static_cast<uint32_t>(u16(at + 2)) << 16
                       : static_cast<uint32_t>(u16(at)) << 16 | static_cast<uint32_t>(u16(at + 2));
    }
    void set_little(bool little) { little_ = little; }

  private:
    std::span<const uint8_t> data_;
    bool little_ = true;
};

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTypeShort = 3;

}  // namespace

int exif_orientation(std::span<const uint8_t> exif) {
    if (exif.size() >= 6 && std::string_view(reinterpret_cast<const char*>(exif.data()), 6) ==
                                std::string_view("Exif\0\0", 6))
        exif = exif.subspan(6);
    TiffReader r(exif);
    if (!r.ok(0, 8)) return 1;
    if (exif[0] == 'I' && exif[1] == 'I') {
        r.set_little(true);
    } else if (exif[0] == 'M' && exif[1] == 'M') {
        r.set_little(false);
    } else {
        return 1;
    }
    if (r.u16(2) != 42) return 1;
    const size_t ifd = r.u32(4);
    if (!r.ok(ifd, 2)) return 1;
    const size_t entries = r.u16(ifd);
    for (size_t i = 0; i < entries; ++i) {
        const size_t at = ifd + 2 + i * 12;
        if (!r.ok(at, 12)) return 1;
        if (r.u16(at) != kOrientationTag) continue;
        if (r.u16(at + 2) != kTypeShort || r.u32(at + 4) < 1) return 1;
        const int value = r.u16(at + 8);  // a single SHORT is stored inline, left-justified
        return value >= 1 && value <= 8 ? value : 1;
    }
    return 1;
}

Image apply_orientation(Image image, int orientation) {
    if (orientation <= 1 || orientation > 8) return image;
    const int w = image.width, h = image.height;
    // Orientations 5..8 swap the axes.
    const bool transpose = orientation >= 5;
    Image out{transpose ? h : w, transpose ? w : h, std::vector<uint8_t>(image.rgb.size())};
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            // (sx, sy): the stored pixel shown at display position (x, y).
            int sx = x, sy = y;
            switch (orientation) {
                case 2:
                    sx = w - 1 - x;
                    break;  // mirrored
                case 3:
                    sx = w - 1 - x;
                    sy = h - 1 - y;
                    break;  // rotated 180
                case 4:
                    sy = h - 1 - y;
                    break;  // mirrored vertically
                case 5:
                    sx = y;
                    sy = x;
                    break;  // transposed
                case 6:
                    sx = y;
                    sy = h - 1 - x;
                    break;  // rotate 90 CW to view
                case 7:
                    sx = w - 1 - y;
                    sy = h - 1 - x;
                    break;  // transversed
                case 8:
                    sx = w - 1 - y;
                    sy = x;
                    break;  // rotate 90 CCW to view
                default:
                    break;
            }
            const uint8_t* s = &image.rgb[(static_cast<size_t>(sy) * w + sx) * 3];
            uint8_t* d = &out.rgb[(static_cast<size_t>(y) * out.width + x) * 3];
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        }
    }
    return out;
}

}  // namespace clipdex::image::detail
