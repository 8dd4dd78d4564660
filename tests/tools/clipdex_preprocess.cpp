// Drives clipdex's image pipeline for tests/conformance/test_preprocess.py.
//
//   clipdex_preprocess --out DIR [--size S] [--decoded] [--max-pixels N] [--max-bytes N]
//                      [--svg-min N] [--time REPEATS] FILE...
//
// For the i-th FILE (0-based) it writes into DIR:
//   i.u8.npy    (S, S, 3) uint8   pixels after resize + center crop (with --size)
//   i.f32.npy   (3, S, S) float32 the normalized tensor (with --size)
//   i.dec.npy   (H, W, 3) uint8   the decoded image (with --decoded)
//   i.err       "<code>\n<message>" when the pipeline refused the file
// With --time R it decodes and preprocesses each file R times and prints one line per file:
//   "<file>\t<best decode ms>\t<best resize+crop+normalize ms>" (process CPU time).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "image/image.h"

namespace {

using clipdex::image::Image;

void write_npy(const std::string& path, const char* dtype, const std::vector<size_t>& shape,
               const void* data, size_t bytes) {
    std::string dims;
    for (size_t d : shape) dims += std::to_string(d) + ",";
    if (shape.size() > 1) dims.pop_back();
    std::string header = "{'descr': '" + std::string(dtype) +
                         "', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Magic (6) + version (2) + length (2) + header must be a multiple of 64, ending in '\n'.
    const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
    header.append(total - 10 - header.size() - 1, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
    out.write(len_bytes, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

struct Options {
    std::string out_dir;
    int size = 0;
    bool decoded = false;
    int repeats = 0;
    clipdex::image::DecodeLimits limits;
    std::vector<std::string> files;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
            return argv[++i];
        };
        if (a == "--out")
            o.out_dir = value();
        else if (a == "--size")
            o.size = std::stoi(value());
        else if (a == "--decoded")
            o.decoded = true;
        else if (a == "--time")
            o.repeats = std::stoi(value());
        else if (a == "--max-pixels")
            o.limits.max_pixels = std::stoull(value());
        else if (a == "--max-bytes")
            o.limits.max_file_bytes = std::stoull(value());
        else if (a == "--svg-min")
            o.limits.svg_min_size = std::stoi(value());
        else
            o.files.push_back(a);
    }
    return o;
}

// Process CPU time: wall time is meaningless on a shared, loaded build machine.
double ms_since(std::clock_t t0) {
    return 1000.0 * static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
}

void time_file(const Options& o, const std::string& file) {
    double best_decode = 1e18, best_resize = 1e18;
    for (int r = 0; r < o.repeats; ++r) {
        auto t0 = std::clock();
        const Image img = clipdex::image::load_image(file, o.limits);
        best_decode = std::min(best_decode, ms_since(t0));
        t0 = std::clock();
        const std::vector<float> chw = clipdex::image::preprocess(img, o.size > 0 ? o.size : 224);
        best_resize = std::min(best_resize, ms_since(t0));
    }
    std::printf("%s\t%.3f\t%.3f\n", file.c_str(), best_decode, best_resize);
}

void process_file(const Options& o, size_t index, const std::string& file) {
    const std::string base = o.out_dir + "/" + std::to_string(index);
    try {
        const Image img = clipdex::image::load_image(file, o.limits);
        if (o.decoded)
            write_npy(base + ".dec.npy", "|u1", {size_t(img.height), size_t(img.width), 3},
                      img.rgb.data(), img.rgb.size());
        if (o.size > 0) {
            const Image crop = clipdex::image::resize_and_center_crop(img, o.size);
            const size_t s = static_cast<size_t>(o.size);
            write_npy(base + ".u8.npy", "|u1", {s, s, 3}, crop.rgb.data(), crop.rgb.size());
            const std::vector<float> chw = clipdex::image::preprocess(img, o.size);
            write_npy(base + ".f32.npy", "<f4", {3, s, s}, chw.data(), chw.size() * sizeof(float));
        }
    } catch (const clipdex::Error& e) {
        std::ofstream err(base + ".err");
        err << clipdex::error_code_name(e.code()) << "\n" << e.what();
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        if (o.files.empty() || (o.out_dir.empty() && o.repeats == 0)) {
            std::fprintf(
                stderr,
                "usage: clipdex_preprocess --out DIR [--size S] [--decoded] [--time R] FILE...\n");
            return 2;
        }
        for (size_t i = 0; i < o.files.size(); ++i) {
            if (o.repeats > 0)
                time_file(o, o.files[i]);
            else
                process_file(o, i, o.files[i]);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "clipdex_preprocess: %s\n", e.what());
        return 1;
    }
    return 0;
}
