// Pillow-exact antialiased bicubic resize, torchvision-exact center crop and normalisation.
//
// The arithmetic follows Pillow's libImaging/Resample.c (8-bit path) step by step so that the
// output bytes are identical: double-precision filter weights normalised to sum 1, then
// converted to 22-bit fixed point with round-half-away-from-zero, accumulated in int32 with a
// half-unit bias, shifted and clamped. Horizontal pass first over only the rows the vertical
// pass will read, then vertical.
#include <algorithm>
#include <cmath>
#include <string>

#include "clipdex/error.h"
#include "image/image.h"

namespace clipdex::image {
namespace {

// Two bits of head room over 8-bit data times weights whose absolute sum exceeds 1.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kBicubicSupport = 2.0;

double bicubic(double x) {
    constexpr double a = -0.5;  // Pillow's choice; torch uses -0.75, which is why torch differs
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

// For each output index: first input index, tap count, and `ksize` fixed-point weights.
struct Taps {
    int ksize = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<int32_t> weights;
};

int32_t to_fixed(double w) {
    const double scaled = w * static_cast<double>(1 << kPrecisionBits);
    return static_cast<int32_t>(w < 0 ? scaled - 0.5 : scaled + 0.5);
}

Taps compute_taps(int in_size, int out_size) {
    // Pillow passes the box edges as float; image sizes are exact in float up to 2^24.
    const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = kBicubicSupport * filter_scale;
    Taps taps;
    taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    taps.first.resize(out_size);
    taps.count.resize(out_size);
    taps.weights.assign(static_cast<size_t>(out_size) * taps.ksize, 0);
    std::vector<double> w(taps.ksize);
    for (int o = 0; o < out_size; ++o) {
        const double center = (o + 0.5) * scale;
        const double inv = 1.0 / filter_scale;
        const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
        const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
        const int n = hi - lo;
        double total = 0.0;
        for (int i = 0; i < n; ++i) {
            w[i] = bicubic((i + lo - center + 0.5) * inv);
            total += w[i];
        }
        int32_t* k = &taps.weights[static_cast<size_t>(o) * taps.ksize];
        for (int i = 0; i < n; ++i) k[i] = to_fixed(total != 0.0 ? w[i] / total : w[i]);
        taps.first[o] = lo;
        taps.count[o] = n;
    }
    return taps;
}

uint8_t clip8(int32_t acc) {
    return static_cast<uint8_t>(std::clamp(acc >> kPrecisionBits, 0, 255));
}

constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// Resamples rows [row0, row0 + rows) of `in` horizontally into `out` (out_width wide).
void horizontal_pass(const Image& in, int row0, int rows, const Taps& taps, int out_width,
                     uint8_t* out) {
    const size_t in_stride = static_cast<size_t>(in.width) * 3;
    for (int y = 0; y < rows; ++y) {
        const uint8_t* src = in.rgb.data() + static_cast<size_t>(row0 + y) * in_stride;
        uint8_t* dst = out + static_cast<size_t>(y) * out_width * 3;
        for (int x = 0; x < out_width; ++x) {
            const int32_t* k = &taps.weights[static_cast<size_t>(x) * taps.ksize];
            const uint8_t* p = src + static_cast<size_t>(taps.first[x]) * 3;
            int32_t r = kHalf, g = kHalf, b = kHalf;
            for (int i = 0, n = taps.count[x]; i < n; ++i, p += 3) {
                r += p[0] * k[i];
                g += p[1] * k[i];
                b += p[2] * k[i];
            }
            dst[3 * x + 0] = clip8(r);
            dst[3 * x + 1] = clip8(g);
            dst[3 * x + 2] = clip8(b);
        }
    }
}

// Row-at-a-time so the inner loop walks memory contiguously; same sums as Pillow's order.
void vertical_pass(const uint8_t* in, int width, int row_offset, const Taps& taps, int out_height,
                   uint8_t* out) {
    const size_t stride = static_cast<size_t>(width) * 3;
    std::vector<int32_t> acc(stride);
    for (int y = 0; y < out_height; ++y) {
        std::fill(acc.begin(), acc.end(), kHalf);
        const int32_t* k = &taps.weights[static_cast<size_t>(y) * taps.ksize];
        for (int i = 0, n = taps.count[y]; i < n; ++i) {
            const uint8_t* src = in + static_cast<size_t>(taps.first[y] - row_offset + i) * stride;
            const int32_t w = k[i];
            for (size_t j = 0; j < stride; ++j) acc[j] += src[j] * w;
        }
        uint8_t* dst = out + static_cast<size_t>(y) * stride;
        for (size_t j = 0; j < stride; ++j) dst[j] = clip8(acc[j]);
    }
}

void require_valid(const Image& image, const char* what) {
    if (image.width <= 0 || image.height <= 0 ||
        image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
        throw Error(ErrorCode::InvalidInput, std::string(what) + ": image is empty or its pixel "
                                                 "buffer does not match width*height*3");
}

}  // namespace

Image resize_bicubic(const Image& image, int out_width, int out_height) {
    require_valid(image, "resize");
    if (out_width <= 0 || out_height <= 0)
        throw Error(ErrorCode::InvalidInput, "resize: target size " + std::to_string(out_width) +
                                                 "x" + std::to_string(out_height) + " is empty");
    if (out_width == image.width && out_height == image.height) return image;

    const Taps vert = compute_taps(image.height, out_height);
    Image out{out_width, out_height, {}};
    out.rgb.resize(static_cast<size_t>(out_width) * out_height * 3);

    if (out_width == image.width) {
        vertical_pass(image.rgb.data(), image.width, 0, vert, out_height, out.rgb.data());
        return out;
    }
    // Only the rows the vertical taps touch are resampled horizontally, as Pillow does.
    const int row0 = vert.first.front();
    const int row_end = vert.first.back() + vert.count.back();
    const Taps horiz = compute_taps(image.width, out_width);
    if (out_height == image.height) {
        horizontal_pass(image, 0, image.height, horiz, out_width, out.rgb.data());
        return out;
    }
    std::vector<uint8_t> temp(static_cast<size_t>(out_width) * (row_end - row0) * 3);
    horizontal_pass(image, row0, row_end - row0, horiz, out_width, temp.data());
    vertical_pass(temp.data(), out_width, row0, vert, out_height, out.rgb.data());
    return out;
}

Image resize_shortest_bicubic(const Image& image, int size) {
    require_valid(image, "resize");
    if (size <= 0) throw Error(ErrorCode::InvalidInput, "resize: size must be positive");
    const bool portrait = image.width <= image.height;
    const int short_side = portrait ? image.width : image.height;
    const int long_side = portrait ? image.height : image.width;
    // Python's `int(size * long / short)`: an exact integer product, one rounded division.
    const double exact = static_cast<double>(static_cast<int64_t>(size) * long_side) / short_side;
    if (exact > 1e8) throw Error(ErrorCode::TooLarge, "resize: the long side would exceed 10^8 pixels");
    const int new_long = static_cast<int>(exact);
    return portrait ? resize_bicubic(image, size, new_long) : resize_bicubic(image, new_long, size);
}

namespace {
// Python's round() of d/2 for an integer d: ties go to the even neighbour.
int half_to_even(int d) {
    const int q = d >= 0 ? d / 2 : -((-d + 1) / 2);  // floor(d/2)
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}
}  // namespace

Image center_crop(const Image& image, int size) {
    require_valid(image, "center crop");
    if (size <= 0) throw Error(ErrorCode::InvalidInput, "center crop: size must be positive");
    // torchvision pads a too-small image with zeros (floor on the left/top) then crops.
    Image src = image;
    if (image.width < size || image.height < size) {
        const int pw = std::max(size, image.width), ph = std::max(size, image.height);
        const int left = (pw - image.width) / 2, top = (ph - image.height) / 2;
        src = Image{pw, ph, std::vector<uint8_t>(static_cast<size_t>(pw) * ph * 3, 0)};
        for (int y = 0; y < image.height; ++y)
            std::copy_n(&image.rgb[static_cast<size_t>(y) * image.width * 3], image.width * 3,
                        &src.rgb[(static_cast<size_t>(y + top) * pw + left) * 3]);
    }
    const int top = half_to_even(src.height - size);
    const int left = half_to_even(src.width - size);
    Image out{size, size, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3)};
    for (int y = 0; y < size; ++y)
        std::copy_n(&src.rgb[(static_cast<size_t>(y + top) * src.width + left) * 3], size * 3,
                    &out.rgb[static_cast<size_t>(y) * size * 3]);
    return out;
}

void to_chw_normalized(const Image& image, const Normalization& norm, float* out) {
    require_valid(image, "normalize");
    const size_t plane = static_cast<size_t>(image.width) * image.height;
    for (int c = 0; c < 3; ++c) {
        const float mean = norm.mean[c], std = norm.std[c];
        float* dst = out + c * plane;
        for (size_t i = 0; i < plane; ++i) {
            // Two rounded float32 steps, as ToTensor (x/255) then Normalize ((x-m)/s) do.
            const float unit = static_cast<float>(image.rgb[i * 3 + c]) / 255.0f;
            dst[i] = (unit - mean) / std;
        }
    }
}

std::vector<float> preprocess(const Image& image, int size, const Normalization& norm) {
    const Image cropped = center_crop(resize_shortest_bicubic(image, size), size);
    std::vector<float> out(static_cast<size_t>(3) * size * size);
    to_chw_normalized(cropped, norm, out.data());
    return out;
}

}  // namespace clipdex::image
