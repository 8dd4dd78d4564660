// Starting, talking to and ending one clipdex-svg-worker process.
#include "image/svg_worker.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace clipdex::image::detail {
namespace {

namespace fs = std::filesystem;
constexpr const char* kWorkerName = "clipdex-svg-worker";

bool executable(const std::string& path) {
    std::error_code ec;
    return !path.empty() && fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error/hang-up only.
int wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return 0;
        pollfd p{fd, events, 0};
        const int rc =
            ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30)));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return -1;
        if (rc == 0) continue;  // re-check the clock
        if (p.revents & events) return 1;
        return -1;
    }
}

int send_all(int fd, const void* data, size_t size, Clock::time_point deadline) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t put = ::send(fd, p, size, MSG_NOSIGNAL);
        if (put > 0) {
            p += put;
            size -= static_cast<size_t>(put);
            continue;
        }
        if (put < 0 && errno == EINTR) continue;
        if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const int ready = wait_fd(fd, POLLOUT, deadline);
            if (ready <= 0) return ready;
            continue;
        }
        return -1;
    }
    return 1;
}

int recv_all(int fd, void* data, size_t size, Clock::time_point deadline) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        const ssize_t got = ::recv(fd, p, size, 0);
        if (got > 0) {
            p += got;
            size -= static_cast<size_t>(got);
            continue;
        }
        if (got == 0) return -1;  // the worker is gone
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            const int ready = wait_fd(fd, POLLIN, deadline);
            if (ready <= 0) return ready;
            continue;
        }
        return -1;
    }
    return 1;
}

ExchangeOutcome outcome_of(int rc) {
    return rc == 0 ? ExchangeOutcome::TimedOut : ExchangeOutcome::Died;
}

}  // namespace

std::string find_svg_worker() {
    std::string looked;
    auto consider = [&](const std::string& path) {
        if (executable(path)) return true;
        looked += (looked.empty() ? "" : ", ") + path;
        return false;
    };
    if (const char* env = std::getenv("CLIPDEX_SVG_WORKER"); env && *env) {
        if (consider(env)) return env;
        throw Error(ErrorCode::Unavailable, std::string("the SVG renderer is missing: "
                                                        "CLIPDEX_SVG_WORKER names '") +
                                                env + "', which is not an executable file");
    }
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::string beside = (self.parent_path() / kWorkerName).string();
        if (consider(beside)) return beside;
        // An install moved to another prefix: <prefix>/bin/clipdex, <prefix>/libexec/clipdex/.
        const std::string relocated =
            (self.parent_path().parent_path() / "libexec" / "clipdex" / kWorkerName).string();
        if (consider(relocated)) return relocated;
    }
    // The file holding this code: libclipdex.so (an installed or a build-tree library) or the
    // program itself. An installed library finds the worker of its own prefix, wherever the
    // prefix was installed or moved to.
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&find_svg_worker), &info) != 0 && info.dli_fname &&
        *info.dli_fname) {
        const fs::path holder = fs::weakly_canonical(info.dli_fname, ec);
        if (!ec) {
            const std::string beside = (holder.parent_path() / kWorkerName).string();
            if (consider(beside)) return beside;
#ifdef CLIPDEX_LIB_TO_LIBEXEC
            const std::string relative =
                (holder.parent_path() / CLIPDEX_LIB_TO_LIBEXEC / kWorkerName)
                    .lexically_normal()
                    .string();
            if (consider(relative)) return relative;
#endif
        }
    }
#ifdef CLIPDEX_LIBEXEC_DIR
    if (const std::string p = std::string(CLIPDEX_LIBEXEC_DIR) + "/" + kWorkerName; consider(p))
        return p;
#endif
#ifdef CLIPDEX_BUILD_DIR
    if (const std::string p = std::string(CLIPDEX_BUILD_DIR) + "/" + kWorkerName; consider(p))
        return p;
#endif
    throw Error(ErrorCode::Unavailable,
                std::string("the SVG renderer is missing: no executable ") + kWorkerName +
                    " found (looked at " + looked +
                    "; set CLIPDEX_SVG_WORKER to its path, or install it with clipdex)");
}

SvgWorker spawn_svg_worker(const std::string& path) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        throw Error(
            ErrorCode::Unavailable,
            std::string("cannot start the SVG renderer: socketpair: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, sv[1], svg_protocol::kChannelFd);
    posix_spawn_file_actions_addclosefrom_np(&actions, svg_protocol::kChannelFd + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    const std::string parent = std::to_string(::getpid());
    std::vector<char*> argv = {const_cast<char*>(path.c_str()), const_cast<char*>("--parent"),
                               const_cast<char*>(parent.c_str()), nullptr};
    // One render per worker and one worker per hardware thread: keep librsvg's pool to 1 thread.
    std::vector<char*> envp;
    bool has_rayon = false;
    for (char** e = environ; e && *e; ++e) {
        has_rayon = has_rayon || std::strncmp(*e, "RAYON_NUM_THREADS=", 18) == 0;
        envp.push_back(*e);
    }
    if (!has_rayon) envp.push_back(const_cast<char*>("RAYON_NUM_THREADS=1"));
    envp.push_back(nullptr);

    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(sv[1]);
    if (rc != 0) {
        ::close(sv[0]);
        throw Error(ErrorCode::Unavailable,
                    "cannot start the SVG renderer '" + path + "': " + std::strerror(rc));
    }
    ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    return {pid, sv[0]};
}

SvgExchange exchange(const SvgWorker& worker, const svg_protocol::SvgRequest& request,
                     std::span<const uint8_t> svg, uint64_t max_payload,
                     Clock::time_point deadline) {
    SvgExchange out;
    int rc = send_all(worker.fd, &request, sizeof request, deadline);
    if (rc == 1) rc = send_all(worker.fd, svg.data(), svg.size(), deadline);
    if (rc == 1) rc = recv_all(worker.fd, &out.reply, sizeof out.reply, deadline);
    if (rc != 1) {
        out.outcome = outcome_of(rc);
        return out;
    }
    const bool sane = out.reply.magic == svg_protocol::kReplyMagic &&
                      out.reply.payload_bytes <=
                          (out.reply.status == 0 ? max_payload : svg_protocol::kMaxMessageBytes);
    if (!sane) return out;  // Died: the worker is not speaking the protocol
    out.payload.resize(out.reply.payload_bytes);
    rc = recv_all(worker.fd, out.payload.data(), out.payload.size(), deadline);
    out.outcome = rc == 1 ? ExchangeOutcome::Ok : outcome_of(rc);
    return out;
}

int end_worker(SvgWorker& worker) {
    int status = 0;
    if (worker.pid > 0) {
        ::kill(worker.pid, SIGKILL);
        while (::waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (worker.fd >= 0) ::close(worker.fd);
    worker = {};
    return status;
}

std::string describe_death(int status, uint64_t memory_bytes, uint64_t cpu_seconds) {
    const std::string memory = std::to_string(memory_bytes >> 20) + " MiB";
    if (WIFEXITED(status))
        return "the SVG renderer exited unexpectedly (status " +
               std::to_string(WEXITSTATUS(status)) + ")";
    if (!WIFSIGNALED(status)) return "the SVG renderer stopped unexpectedly";
    const int sig = WTERMSIG(status);
    if (sig == SIGXCPU)
        return "the SVG renderer passed its CPU time limit of " + std::to_string(cpu_seconds) +
               " s and was stopped";
    if (sig == SIGABRT)
        return "the SVG renderer crashed (SIGABRT: a panic inside librsvg, or its " + memory +
               " memory limit)";
    if (sig == SIGKILL) return "the SVG renderer was killed (SIGKILL)";
    const char* name = sigabbrev_np(sig);
    return "the SVG renderer crashed (signal " + std::to_string(sig) +
           (name ? std::string(", SIG") + name : std::string()) + ")";
}

}  // namespace clipdex::image::detail
