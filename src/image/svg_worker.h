// One clipdex-svg-worker process seen from clipdex: locating the executable, starting it,
// one request/reply exchange under a deadline, and ending it. The pool is decode_svg.cpp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "image/svg_protocol.h"

namespace clipdex::image::detail {

struct SvgWorker {
    pid_t pid = -1;
    int fd = -1;  // our end of the socket, non-blocking
};

// The worker's path (see decode_svg.cpp for the search order). Throws Unavailable naming every
// place looked at when there is none.
std::string find_svg_worker();

// posix_spawn with the socket on fd 3, stdin/stdout on /dev/null, stderr inherited, every other
// descriptor closed, signals unblocked and default. Throws Unavailable when it cannot start.
SvgWorker spawn_svg_worker(const std::string& path);

enum class ExchangeOutcome { Ok, TimedOut, Died };

struct SvgExchange {
    ExchangeOutcome outcome = ExchangeOutcome::Died;
    svg_protocol::SvgReply reply;
    std::vector<uint8_t> payload;  // RGB pixels or the error message
};

// Sends the request and waits for the whole reply until `deadline`. A reply that breaks the
// protocol (sizes over `max_payload`, bad magic) counts as Died.
SvgExchange exchange(const SvgWorker& worker, const svg_protocol::SvgRequest& request,
                     std::span<const uint8_t> svg, uint64_t max_payload,
                     std::chrono::steady_clock::time_point deadline);

// SIGKILL, reap, close. Returns the wait status (from before the kill when it had already died).
int end_worker(SvgWorker& worker);

// "crashed with SIGABRT (a panic inside librsvg, or its 512 MiB memory limit)" and the like.
std::string describe_death(int wait_status, uint64_t memory_bytes, uint64_t cpu_seconds);

}  // namespace clipdex::image::detail
