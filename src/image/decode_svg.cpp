// SVG: rendered by librsvg in clipdex-svg-worker processes, never in this one.
//
// librsvg 2.54 can abort its process (a Rust panic: feConvolveMatrix order="21") and render for
// minutes (feTurbulence numOctaves="1e8", large blurs). A pool of worker processes confines
// both to one item: a crash, a limit or a runaway becomes that image's Error and the worker is
// replaced. The pool is process-wide and lazy: the first SVG starts one worker, later renders
// reuse idle ones or start more, up to the hardware thread count. The parent enforces the wall
// time with poll() and SIGKILL; the worker sets RLIMIT_AS / RLIMIT_CPU for each render.
// Workers are spawned from one thread that lives as long as the process, because
// PR_SET_PDEATHSIG fires when the spawning *thread* ends.
//
// The worker is found by, in order: $CLIPDEX_SVG_WORKER; clipdex-svg-worker beside
// /proc/self/exe, or in ../libexec/clipdex/ from it; beside the file holding this code
// (libclipdex.so) or in its prefix's libexec/clipdex/; the configured install's libexec dir;
// the build dir. Without one an SVG fails with Unavailable naming what is missing: there is no
// in-process fallback.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "image/decoders.h"
#include "image/svg_worker.h"

namespace clipdex::image {
namespace detail {
namespace {

using Clock = std::chrono::steady_clock;

class SvgPool {
  public:
    static SvgPool& instance() {
        static SvgPool* pool = new SvgPool();  // never destroyed: workers die with the process
        return *pool;
    }

    Image render(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
        const DecodeLimits& limits = ctx.limits;
        const auto limit = std::chrono::milliseconds(std::max(limits.svg_time_limit_ms, 1));
        SvgWorker worker = acquire(ctx, Clock::now() + 3 * limit);
        svg_protocol::SvgRequest request;
        request.min_size = limits.svg_min_size;
        request.max_pixels = limits.max_pixels;
        request.memory_bytes = limits.svg_memory_bytes;
        request.cpu_seconds = cpu_seconds(limits);
        request.svg_bytes = bytes.size();
        const uint64_t max_payload = std::min<uint64_t>(limits.max_pixels, 1ull << 40) * 3;
        SvgExchange got = exchange(worker, request, bytes, max_payload, Clock::now() + limit);
        if (got.outcome == ExchangeOutcome::Ok) {
            release(worker);
            return image_from(got, ctx);
        }
        const pid_t pid = worker.pid;
        const int status = discard(worker);
        if (was_cancelled(pid))
            ctx.fail(ErrorCode::Unavailable,
                     "SVG rendering was cancelled (the process is stopping)");
        if (got.outcome == ExchangeOutcome::TimedOut)
            ctx.fail(ErrorCode::Corrupt, "SVG rendering took longer than the limit of " +
                                             seconds_text(limits.svg_time_limit_ms) +
                                             " and was stopped");
        ctx.fail(ErrorCode::Corrupt,
                 describe_death(status, limits.svg_memory_bytes, request.cpu_seconds));
    }

    void stop_all() {
        std::lock_guard lock(mu_);
        for (auto& w : idle_) end_worker(w);
        live_ -= static_cast<int>(idle_.size());
        idle_.clear();
        for (const pid_t pid : busy_) {
            cancelled_.insert(pid);
            ::kill(pid, SIGKILL);
        }
        ++generation_;
        cv_.notify_all();
    }

    std::vector<int> pids() {
        std::lock_guard lock(mu_);
        std::vector<int> out(busy_.begin(), busy_.end());
        for (const auto& w : idle_) out.push_back(w.pid);
        return out;
    }

  private:
    SvgPool()
        : capacity_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
          spawner_([this] { spawn_loop(); }) {
        spawner_.detach();
    }

    static uint64_t cpu_seconds(const DecodeLimits& limits) {
        // RLIMIT_CPU counts whole seconds: a little above the wall limit, so the wall limit and
        // its clearer message come first, and the CPU limit holds if this process stalls.
        return static_cast<uint64_t>(std::max(limits.svg_time_limit_ms, 1)) / 1000 + 2;
    }

    static std::string seconds_text(int ms) {
        return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    }

    static Image image_from(SvgExchange& got, const DecodeContext& ctx) {
        const auto& reply = got.reply;
        if (reply.status != 0) {
            const auto code = static_cast<ErrorCode>(reply.status - 1);
            const bool known = reply.status - 1 <= static_cast<uint32_t>(ErrorCode::Internal);
            ctx.fail(known ? code : ErrorCode::Internal,
                     std::string(got.payload.begin(), got.payload.end()));
        }
        if (reply.width <= 0 || reply.height <= 0 ||
            static_cast<uint64_t>(reply.width) * static_cast<uint64_t>(reply.height) * 3 !=
                reply.payload_bytes)
            ctx.fail(ErrorCode::Internal, "the SVG renderer replied with an inconsistent image");
        ctx.check_dimensions(reply.width, reply.height);
        return Image{reply.width, reply.height, std::move(got.payload)};
    }

    SvgWorker acquire(const DecodeContext& ctx, Clock::time_point give_up) {
        std::unique_lock lock(mu_);
        const uint64_t generation = generation_;
        for (;;) {
            if (generation_ != generation)  // stop_all() ran while this render waited
                ctx.fail(ErrorCode::Unavailable,
                         "SVG rendering was cancelled (the process is stopping)");
            while (!idle_.empty()) {
                SvgWorker w = idle_.back();
                idle_.pop_back();
                // An idle worker killed from outside (OOM killer, an operator) is replaced
                // here instead of failing the next innocent image.
                int status = 0;
                if (::waitpid(w.pid, &status, WNOHANG) == w.pid) {
                    w.pid = -1;  // reaped: never signal that pid again
                    end_worker(w);
                    --live_;
                    continue;
                }
                busy_.insert(w.pid);
                return w;
            }
            if (live_ < capacity_) break;
            if (cv_.wait_until(lock, give_up) == std::cv_status::timeout && idle_.empty() &&
                live_ >= capacity_)
                ctx.fail(ErrorCode::Unavailable, "all " + std::to_string(capacity_) +
                                                     " SVG renderers stayed busy; try again later");
        }
        ++live_;
        lock.unlock();
        SvgWorker w;
        try {
            w = spawn();
        } catch (const Error& e) {
            lock.lock();
            --live_;
            cv_.notify_one();
            ctx.fail(e.code(), e.what());
        }
        lock.lock();
        busy_.insert(w.pid);
        return w;
    }

    void release(SvgWorker w) {
        std::lock_guard lock(mu_);
        busy_.erase(w.pid);
        if (cancelled_.count(w.pid)) {  // stop_all() killed it after its reply arrived
            cancelled_.erase(w.pid);
            end_worker(w);
            --live_;
        } else {
            idle_.push_back(w);
        }
        cv_.notify_one();
    }

    int discard(SvgWorker& w) {
        const pid_t pid = w.pid;
        const int status = end_worker(w);
        std::lock_guard lock(mu_);
        busy_.erase(pid);
        --live_;
        cv_.notify_one();
        return status;
    }

    bool was_cancelled(pid_t pid) {
        std::lock_guard lock(mu_);
        return cancelled_.erase(pid) > 0;
    }

    // Runs on spawner_, the thread every worker is started from (see the file comment).
    SvgWorker spawn() {
        std::packaged_task<SvgWorker()> task([] { return spawn_svg_worker(find_svg_worker()); });
        auto result = task.get_future();
        {
            std::lock_guard lock(spawn_mu_);
            spawn_jobs_.push_back(std::move(task));
        }
        spawn_cv_.notify_one();
        return result.get();
    }

    void spawn_loop() {
        for (;;) {
            std::unique_lock lock(spawn_mu_);
            spawn_cv_.wait(lock, [this] { return !spawn_jobs_.empty(); });
            auto task = std::move(spawn_jobs_.front());
            spawn_jobs_.pop_front();
            lock.unlock();
            task();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    const int capacity_;
    int live_ = 0;                 // started and not yet ended, idle or busy
    std::vector<SvgWorker> idle_;  // reused most recent first
    std::set<pid_t> busy_;
    std::set<pid_t> cancelled_;  // killed by stop_all() while busy
    uint64_t generation_ = 0;    // counts stop_all() calls: renders waiting for a worker give up

    std::mutex spawn_mu_;
    std::condition_variable spawn_cv_;
    std::deque<std::packaged_task<SvgWorker()>> spawn_jobs_;
    std::thread spawner_;
};

}  // namespace

Image decode_svg(std::span<const uint8_t> bytes, const DecodeContext& ctx) {
    return SvgPool::instance().render(bytes, ctx);
}

}  // namespace detail

void stop_svg_workers() {
    detail::SvgPool::instance().stop_all();
}

std::vector<int> svg_worker_pids() {
    return detail::SvgPool::instance().pids();
}

}  // namespace clipdex::image
