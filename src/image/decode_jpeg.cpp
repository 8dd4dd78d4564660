// JPEG through libjpeg-turbo with the library defaults Pillow also uses (ISLOW DCT, fancy
// upsampling), so decoded pixels match Pillow's byte for byte.
//
// libjpeg reports fatal errors through a callback that must not return; it longjmps back into
// run_decoder(), whose frame and the C library frames in between hold nothing with a
// destructor. All state lives in JpegState (heap, owned by the caller), so nothing
// indeterminate is read after the jump.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "image/decoders.h"

namespace clipdex::image::detail {
namespace {

constexpr int kMaxScans = 1000;  // progressive files with endless scans are a known CPU bomb
constexpr unsigned kExifMarker = JPEG_APP0 + 1;

struct JpegState {
    jpeg_decompress_struct cinfo{};
    jpeg_error_mgr err{};
    jpeg_progress_mgr progress{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {};
    bool created = false;
    bool truncated = false;
    bool too_many_scans = false;
    ~JpegState() {
        if (created) jpeg_destroy_decompress(&cinfo);
    }
};

JpegState* state_of(j_common_ptr cinfo) {
    return static_cast<JpegState*>(cinfo->client_data);
}

void on_error(j_common_ptr cinfo) {
    JpegState* st = state_of(cinfo);
    cinfo->err->format_message(cinfo, st->message);
    std::longjmp(st->jump, 1);
}

// Warnings are ignored like Pillow does, except premature end of data: Pillow refuses
// truncated JPEGs and so do we, instead of returning a half-grey picture.
void on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        JpegState* st = state_of(cinfo);
        st->truncated = true;
        std::snprintf(st->message, sizeof st->message, "the file is truncated");
        std::longjmp(st->jump, 1);
    }
}

void on_progress(j_common_ptr cinfo) {
    auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (d->is_decompressor && d->input_scan_number > kMaxScans) {
        JpegState* st = state_of(cinfo);
        st->too_many_scans = true;
        std::snprintf(st->message, sizeof st->message, "more than %d progressive scans", kMaxScans);
        std::longjmp(st->jump, 1);
    }
}

// CMYK samples as Adobe writes them are inverted (255 = no ink); Pillow's formula follows.
uint8_t muldiv255(int a, int b) {
    const int t = a * b + 128;
    return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

void cmyk_row_to_rgb(const uint8_t* in, int width, bool inverted, uint8_t* out) {
    for (int x = 0; x < width; ++x, in += 4, out += 3) {
        const int c = inverted ? 255 - in[0] : in[0], m = inverted ? 255 - in[1] : in[1];
        const int y = inverted ? 255 - in[2] : in[2], k = inverted ? 255 - in[3] : in[3];
        const int nk = 255 - k;
        out[0] = static_cast<uint8_t>(nk - muldiv255(c, nk));
        out[1] = static_cast<uint8_t>(nk - muldiv255(m, nk));
        out[2] = static_cast<uint8_t>(nk - muldiv255(y, nk));
    }
}

struct Exif {
    int orientation = 1;
};

// Returns 0 on success, 1 after a longjmp (message in st). Throws for limit violations.
int run_decoder(JpegState* st, std::span<const uint8_t> bytes, const DecodeContext& ctx, Image* out,
                std::vector<uint8_t>* row, Exif* exif) {
    if (setjmp(st->jump)) return 1;
    jpeg_decompress_struct* ci = &st->cinfo;
    jpeg_create_decompress(ci);
    st->created = true;
    ci->client_data = st;
    ci->progress = &st->progress;
    jpeg_mem_src(ci, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_save_markers(ci, kExifMarker, 0xFFFF);
    jpeg_read_header(ci, TRUE);
    ctx.check_dimensions(ci->image_width, ci->image_height);
    // RGB output, plus libjpeg's whole-image DCT coefficients (2 bytes per sample) when the file
    // is progressive: 3 + 2 x (samples per pixel, subsampling included).
    double samples = 0;
    for (int c = 0; c < ci->num_components; ++c)
        samples += static_cast<double>(ci->comp_info[c].h_samp_factor) *
                   ci->comp_info[c].v_samp_factor /
                   (static_cast<double>(ci->max_h_samp_factor) * ci->max_v_samp_factor);
    ctx.reserve(ci->image_width, ci->image_height, 3 + (ci->progressive_mode ? 2 * samples : 0),
                ci->progressive_mode ? "progressive JPEG" : "JPEG");
    for (auto* m = ci->marker_list; m; m = m->next)
        if (m->marker == kExifMarker && m->data_length >= 6 &&
            std::memcmp(m->data, "Exif\0\0", 6) == 0) {
            exif->orientation = exif_orientation({m->data, m->data_length});
            break;
        }

    const bool cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    const bool grey = ci->jpeg_color_space == JCS_GRAYSCALE;
    ci->out_color_space = cmyk ? JCS_CMYK : grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(ci);

    const int w = static_cast<int>(ci->output_width);
    out->width = w;
    out->height = static_cast<int>(ci->output_height);
    out->rgb.resize(static_cast<size_t>(w) * out->height * 3);
    row->resize(static_cast<size_t>(w) * ci->output_components);
    while (ci->output_scanline < ci->output_height) {
        uint8_t* dst = &out->rgb[static_cast<size_t>(ci->output_scanline) * w * 3];
        JSAMPROW rows[1] = {cmyk || grey ? row->data() : dst};
        if (jpeg_read_scanlines(ci, rows, 1) != 1) {
            std::snprintf(st->message, sizeof st->message, "the file is truncated");
            return 1;
        }
        if (cmyk) {
            cmyk_row_to_rgb(row->data(), w, ci->saw_Adobe_marker, dst);
        } else if (grey) {
            for (int x = 0; x < w; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = (*row)[x];
        }
    }
    jpeg_finish_decompress(ci);
    return 0;
}

}  // namespace

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
    auto st = std::make_unique<JpegState>();
    st->cinfo.err = jpeg_std_error(&st->err);
    st->err.error_exit = on_error;
    st->err.emit_message = on_message;
    st->progress.progress_monitor = on_progress;
    Image out;
    std::vector<uint8_t> row;
    Exif exif;
    if (run_decoder(st.get(), bytes, ctx, &out, &row, &exif) != 0)
        ctx.fail(ErrorCode::Corrupt, std::string("corrupt JPEG: ") + st->message);
    return ctx.orient(std::move(out), exif.orientation);
}

}  // namespace clipdex::image::detail
