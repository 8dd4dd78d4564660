// Pillow-exact antialiased bicubic resize, torchvision-exact center crop and normalisation.
//
// The arithmetic follows Pillow's libImaging/Resample.c (8-bit path) step by step so that the
// output bytes are identical: double-precision filter weights normalised to sum 1, then
// converted to 22-bit fixed point with round-half-away-from-zero, accumulated in int32 with a
// half-unit bias, shifted and clamped. Horizontal pass first over only the rows the vertical
// pass will read, then vertical.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

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

// Taps for outputs [out_first, out_first + out_count) of a resize from in_size to out_size:
// the weights of an output depend only on its index, so a crop of the result can be computed
// without the rest of it.
Taps compute_taps(int in_size, int out_size, int out_first, int out_count) {
    // Pillow passes the box edges as float; image sizes are exact in float up to 2^24.
    const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = kBicubicSupport * filter_scale;
    Taps taps;
    taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    taps.first.resize(out_count);
    taps.count.resize(out_count);
    taps.weights.assign(static_cast<size_t>(out_count) * taps.ksize, 0);
    std::vector<double> w(taps.ksize);
    for (int o = 0; o < out_count; ++o) {
        const double center = (out_first + o + 0.5) * scale;
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
        throw Error(ErrorCode::InvalidInput, std::string(what) +
                                                 ": image is empty or its pixel "
                                                 "buffer does not match width*height*3");
}

}  // namespace

namespace {

// The w x h window of `src` at (x0, y0).
Image crop(const Image& src, int x0, int y0, int w, int h) {
    Image out{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (int y = 0; y < h; ++y)
        std::copy_n(&src.rgb[(static_cast<size_t>(y + y0) * src.width + x0) * 3],
                    static_cast<size_t>(w) * 3, &out.rgb[static_cast<size_t>(y) * w * 3]);
    return out;
}

// The window [x0, x0+w) x [y0, y0+h) of Pillow's resize of `image` to out_width x out_height.
// An axis whose size does not change is copied, as Pillow skips that pass (its identity taps
// would reproduce the input exactly anyway).
Image resize_window(const Image& image, int out_width, int out_height, int x0, int y0, int w,
                    int h) {
    const bool horizontal = out_width != image.width;
    const bool vertical = out_height != image.height;
    if (!horizontal && !vertical) return crop(image, x0, y0, w, h);
    Image out{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    if (!horizontal) {
        const Image cols =
            x0 == 0 && w == image.width ? Image{} : crop(image, x0, 0, w, image.height);
        const Image& src = cols.rgb.empty() ? image : cols;
        const Taps vert = compute_taps(image.height, out_height, y0, h);
        vertical_pass(src.rgb.data(), w, 0, vert, h, out.rgb.data());
        return out;
    }
    const Taps horiz = compute_taps(image.width, out_width, x0, w);
    if (!vertical) {
        horizontal_pass(image, y0, h, horiz, w, out.rgb.data());
        return out;
    }
    // Only the rows the vertical taps touch are resampled horizontally, as Pillow does.
    const Taps vert = compute_taps(image.height, out_height, y0, h);
    const int row0 = vert.first.front();
    const int row_end = vert.first.back() + vert.count.back();
    std::vector<uint8_t> temp(static_cast<size_t>(w) * (row_end - row0) * 3);
    horizontal_pass(image, row0, row_end - row0, horiz, w, temp.data());
    vertical_pass(temp.data(), w, row0, vert, h, out.rgb.data());
    return out;
}

// Outputs beyond this are refused: a 1x100000 strip would otherwise become 224x22400000.
constexpr uint64_t kMaxOutputPixels = 100'000'000;

void check_target(int out_width, int out_height) {
    if (out_width <= 0 || out_height <= 0)
        throw Error(ErrorCode::InvalidInput, "resize: target size " + std::to_string(out_width) +
                                                 "x" + std::to_string(out_height) + " is empty");
    if (static_cast<uint64_t>(out_width) * static_cast<uint64_t>(out_height) > kMaxOutputPixels)
        throw Error(ErrorCode::TooLarge, "resize: target size " + std::to_string(out_width) + "x" +
                                             std::to_string(out_height) +
                                             " exceeds 100 megapixels");
}

// torchvision's Resize(size) target: short side `size`, long side int(size * long / short).
std::pair<int, int> shortest_side_target(const Image& image, int size) {
    if (size <= 0) throw Error(ErrorCode::InvalidInput, "resize: size must be positive");
    const bool portrait = image.width <= image.height;
    const int short_side = portrait ? image.width : image.height;
    const int long_side = portrait ? image.height : image.width;
    // Python's `int(size * long / short)`: an exact integer product, one rounded division.
    const double exact = static_cast<double>(static_cast<int64_t>(size) * long_side) / short_side;
    const int new_long = exact >= 2e9 ? std::numeric_limits<int>::max() : static_cast<int>(exact);
    return portrait ? std::pair{size, new_long} : std::pair{new_long, size};
}

}  // namespace

Image resize_bicubic(const Image& image, int out_width, int out_height) {
    require_valid(image, "resize");
    check_target(out_width, out_height);
    return resize_window(image, out_width, out_height, 0, 0, out_width, out_height);
}

Image resize_shortest_bicubic(const Image& image, int size) {
    require_valid(image, "resize");
    const auto [w, h] = shortest_side_target(image, size);
    return resize_bicubic(image, w, h);
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

Image resize_and_center_crop(const Image& image, int size) {
    require_valid(image, "preprocess");
    const auto [w, h] = shortest_side_target(image, size);
    // Only the kept window is computed, which is exact (see compute_taps), faster, and bounded
    // in memory whatever the aspect ratio. The resized image is at least size x size, so
    // torchvision's padding never applies here.
    return resize_window(image, w, h, half_to_even(w - size), half_to_even(h - size), size, size);
}

std::vector<float> preprocess(const Image& image, int size, const Normalization& norm) {
    const Image cropped = resize_and_center_crop(image, size);
    std::vector<float> out(static_cast<size_t>(3) * size * size);
    to_chw_normalized(cropped, norm, out.data());
    return out;
}

}  // namespace clipdex::image
