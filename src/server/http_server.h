// clipdex's HTTP API (`clipdex serve`): seed 001's endpoints under /api/milvus/ so existing
// clients work unchanged, and the same handlers under /v1/ without the backend's name.
// docs/http-api.md describes every endpoint.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "clipdex/engine.h"

namespace clipdex::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 5002;
    std::string bearer_token;             // empty = no authentication
    size_t max_body_bytes = 64ull << 20;  // request bodies above this get 413, on any encoding
    int threads = 8;                      // worker threads running handlers
    size_t max_batch_items = 1000;        // images in one batch/add
    int max_top_k = 1000;
    size_t max_page_bytes = 32ull << 20;  // a /data page ends early (truncated) past this size
    // Slow and many clients (docs/http-api.md): each phase of a request has a deadline, and
    // connections, queued requests and requests per keep-alive connection are capped.
    double header_timeout_s = 10;           // from a request's first byte to the end of its header
    double body_timeout_s = 60;             // the whole body; also the write of each answer
    double idle_timeout_s = 30;             // a keep-alive connection waiting for its next request
    size_t max_connections = 512;           // more are answered 503 and closed
    size_t max_keepalive_requests = 10000;  // then the connection closes
    size_t max_header_bytes = 16384;        // request line and header fields (414 / 431 above)
    size_t max_body_memory = 1ull << 30;    // request bodies in memory at once; more get 503
    size_t max_queue = 64;                  // requests waiting for a worker; more get 503
};

// The engine comes last, so that `serve` binds its port before loading a model: a port in use
// fails in milliseconds, and the URL is known when the store's lock records the server.
class HttpServer {
  public:
    explicit HttpServer(const ServerOptions& options);
    ~HttpServer();
    // Binds the listening socket and returns the port (useful with port 0); throws
    // Error(Unavailable) naming host and port when it cannot. Clients that connect before run()
    // wait in the listen queue.
    int bind();
    // Serves `engine` until stop() (from any thread or a signal watcher, also before run()): no
    // new connections, idle ones close, requests in flight finish (within 20 s), then run()
    // returns.
    void run(Engine& engine);
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace clipdex::server
