// The network side of `clipdex serve`: one I/O thread accepts connections and reads, checks and
// writes every request asynchronously (Boost.Beast over Asio); handlers run on a worker pool,
// so a slow or hostile client holds a connection slot, never a thread. Every phase has a
// deadline (header, body, idle keep-alive, write), connections and queued requests are capped,
// and shutdown stops accepting, lets requests in flight finish within a bound, then closes.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "server/http_framing.h"
#include "server/router.h"

namespace clipdex::server {

struct ListenerOptions {
    FramingLimits framing;
    std::chrono::milliseconds header_timeout{10000};  // first byte to end of header
    std::chrono::milliseconds body_timeout{60000};    // the whole body; also each answer's write
    std::chrono::milliseconds idle_timeout{30000};    // keep-alive wait for the next request
    std::chrono::milliseconds shutdown_grace{20000};  // in-flight requests on stop
    size_t max_connections = 512;
    size_t max_keepalive_requests = 10000;
    size_t worker_threads = 8;
    size_t max_queue = 64;  // requests waiting for a worker beyond those running
    // Request bodies held in memory at once, all connections together: a body's declared length
    // (a chunked one: max_body_bytes) is reserved before it is read, released with its answer.
    size_t max_body_memory = 1ull << 30;
};

class Connection;

class Listener {
  public:
    Listener(const Router& router, const ListenerOptions& options);
    ~Listener();
    // Binds and listens; returns the port. Throws Error(Unavailable) naming host and port.
    int bind(const std::string& host, int port);
    // Runs the I/O thread in the caller until stop() and the shutdown have finished.
    void run();
    // Thread-safe; may be called before run().
    void stop();

    // For connections, on the I/O thread.
    const Router& router() const { return router_; }
    const ListenerOptions& options() const { return options_; }
    bool stopping() const { return stopping_; }
    boost::asio::io_context& io() { return io_; }
    boost::asio::thread_pool& workers() { return workers_; }
    // Counts a request for the worker pool; false when the queue is full (answer 503).
    bool try_enqueue();
    void dequeued() { --pending_; }
    // Reserves `bytes` of the body memory budget; false when it would be exceeded (answer 503).
    bool reserve_body(size_t bytes);
    void release_body(size_t bytes) { body_reserved_ -= bytes; }
    void forget(Connection* connection);

  private:
    void accept();
    void begin_shutdown();
    void finish_if_drained();

    const Router& router_;
    ListenerOptions options_;
    std::atomic<size_t> pending_{0};
    size_t body_reserved_ = 0;  // I/O thread only
    std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;
    bool stopping_ = false;
    bool destroying_ = false;  // set in the destructor: connections freed with the I/O loop
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_{io_};
    boost::asio::steady_timer retry_timer_{io_};
    boost::asio::steady_timer grace_timer_{io_};
    boost::asio::thread_pool workers_;
};

}  // namespace clipdex::server
