// clipdex-svg-worker: renders SVGs for one clipdex process, one at a time, until its socket closes.
//
// Started by src/image/svg_pool.cpp with posix_spawn (never fork of the multi-threaded parent),
// the socket on fd 3 and nothing else open. It dies with its parent (PR_SET_PDEATHSIG, and an
// EOF on the socket), and each render runs under the limits its request carries: RLIMIT_AS for
// memory and RLIMIT_CPU for CPU time, reset before every render. A panic, a limit or a kill ends
// this process only; the parent reports that item and starts another worker.
//
// Usage (by clipdex only): clipdex-svg-worker --parent <pid>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "image/svg_protocol.h"
#include "image/worker/render_svg.h"

namespace proto = clipdex::image::svg_protocol;

namespace {

bool read_all(void* data, size_t size) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        const ssize_t got = ::read(proto::kChannelFd, p, size);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        p += got;
        size -= static_cast<size_t>(got);
    }
    return true;
}

bool write_all(const void* data, size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t put = ::write(proto::kChannelFd, p, size);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return false;
        p += put;
        size -= static_cast<size_t>(put);
    }
    return true;
}

// Soft limits only: the hard limits stay where they were so that the next render may raise them.
// AddressSanitizer reserves terabytes of shadow address space, so sanitizer builds cannot limit
// RLIMIT_AS; they keep the CPU and wall limits.
#if defined(__SANITIZE_ADDRESS__)  // GCC
#define CLIPDEX_WORKER_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define CLIPDEX_WORKER_ASAN 1
#endif
#endif

void apply_limits(const proto::SvgRequest& req) {
#ifndef CLIPDEX_WORKER_ASAN
    rlimit mem{};
    getrlimit(RLIMIT_AS, &mem);
    mem.rlim_cur =
        req.memory_bytes == 0 ? mem.rlim_max : std::min<rlim_t>(req.memory_bytes, mem.rlim_max);
    setrlimit(RLIMIT_AS, &mem);
#endif
    if (req.cpu_seconds > 0) {
        rusage used{};
        getrusage(RUSAGE_SELF, &used);
        const uint64_t spent =
            static_cast<uint64_t>(used.ru_utime.tv_sec + used.ru_stime.tv_sec) + 1;
        rlimit cpu{};
        getrlimit(RLIMIT_CPU, &cpu);
        cpu.rlim_cur = std::min<rlim_t>(spent + req.cpu_seconds, cpu.rlim_max);
        setrlimit(RLIMIT_CPU, &cpu);
    }
}

bool reply_error(clipdex::ErrorCode code, const std::string& message) {
    const std::string text = message.substr(0, proto::kMaxMessageBytes);
    proto::SvgReply reply;
    reply.status = 1 + static_cast<uint32_t>(code);
    reply.payload_bytes = text.size();
    return write_all(&reply, sizeof reply) && write_all(text.data(), text.size());
}

bool serve_one() {
    proto::SvgRequest req;
    if (!read_all(&req, sizeof req)) return false;  // the parent closed the socket: done
    if (req.magic != proto::kRequestMagic || req.svg_bytes > proto::kMaxSvgBytes) return false;
    std::vector<uint8_t> svg(req.svg_bytes);
    if (!read_all(svg.data(), svg.size())) return false;
    apply_limits(req);
    try {
        clipdex::image::worker::SvgRenderParams params;
        params.min_size = req.min_size;
        params.max_pixels = req.max_pixels;
        const auto image = clipdex::image::worker::render_svg(svg, params);
        proto::SvgReply reply;
        reply.width = image.width;
        reply.height = image.height;
        reply.payload_bytes = image.rgb.size();
        return write_all(&reply, sizeof reply) && write_all(image.rgb.data(), image.rgb.size());
    } catch (const clipdex::Error& e) {
        return reply_error(e.code(), e.what());
    } catch (const std::bad_alloc&) {
        return reply_error(clipdex::ErrorCode::TooLarge, "the SVG needs more memory than allowed");
    } catch (const std::exception& e) {
        return reply_error(clipdex::ErrorCode::Internal, e.what());
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || std::strcmp(argv[1], "--parent") != 0) return 2;
    // Die with the parent; if it is already gone (it died before prctl), leave at once.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != static_cast<pid_t>(std::strtol(argv[2], nullptr, 10))) return 0;
    std::signal(SIGPIPE, SIG_IGN);
    // One malloc arena: RLIMIT_AS counts address space, and each extra arena reserves 64 MiB.
    mallopt(M_ARENA_MAX, 1);
    while (serve_one()) {
    }
    return 0;
}
