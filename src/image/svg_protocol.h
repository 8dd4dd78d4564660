// The frames clipdex and clipdex-svg-worker exchange over a Unix socket (the worker's fd 3).
//
// One request, one reply, strictly in turn. Both ends are the same build on the same machine, so
// the headers are native-endian structs of fixed-width fields (no padding, checked below).
//   request:  SvgRequest, then `svg_bytes` bytes of SVG.
//   reply:    SvgReply, then `payload_bytes` bytes: width*height*3 RGB when status == 0, else
//             the error's reason (UTF-8), status being 1 + the clipdex::ErrorCode.
#pragma once

#include <cstdint>

namespace clipdex::image::svg_protocol {

inline constexpr uint32_t kRequestMagic = 0x52535843;  // "CXSR"
inline constexpr uint32_t kReplyMagic = 0x50535843;    // "CXSP"
inline constexpr int kChannelFd = 3;                   // the worker's end of the socket
// Caps each end checks before allocating what the other end announces.
inline constexpr uint64_t kMaxSvgBytes = 1ull << 30;
inline constexpr uint64_t kMaxMessageBytes = 4096;

struct SvgRequest {
    uint32_t magic = kRequestMagic;
    int32_t min_size = 0;       // DecodeLimits::svg_min_size
    uint64_t max_pixels = 0;    // DecodeLimits::max_pixels
    uint64_t memory_bytes = 0;  // RLIMIT_AS for this render
    uint64_t cpu_seconds = 0;   // RLIMIT_CPU for this render (on top of what the worker used)
    uint64_t svg_bytes = 0;
};

struct SvgReply {
    uint32_t magic = kReplyMagic;
    uint32_t status = 0;  // 0: pixels follow; else 1 + ErrorCode and a message follows
    int32_t width = 0;
    int32_t height = 0;
    uint64_t payload_bytes = 0;
};

static_assert(sizeof(SvgRequest) == 40 && sizeof(SvgReply) == 24, "frames have no padding");

}  // namespace clipdex::image::svg_protocol
