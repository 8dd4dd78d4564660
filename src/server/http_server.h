// clipdex's HTTP API (`clipdex serve`): seed 001's endpoints under /api/milvus/ so existing
// clients work unchanged, and the same handlers under /v1/ without the backend's name.
// docs/http-api.md describes every endpoint.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "clipdex/engine.h"

namespace clipdex::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 5002;
    std::string bearer_token;             // empty = no authentication
    size_t max_body_bytes = 64ull << 20;  // request bodies above this get 413
    int threads = 8;                      // concurrent requests
    size_t max_batch_items = 1000;        // images in one batch/add
    int max_top_k = 1000;
};

class HttpServer {
  public:
    HttpServer(Engine& engine, const ServerOptions& options);
    ~HttpServer();
    // Binds the listening socket and returns the port (useful with port 0); throws
    // Error(Unavailable) naming host and port when it cannot.
    int bind();
    // Serves until stop() (from any thread or a signal watcher); requests in flight finish first.
    void run();
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace clipdex::server
