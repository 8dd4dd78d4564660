// `clipdex serve-encoder`: one model (the engine's public Embedder) served to many clients over
// HTTP, on the same Boost.Beast listener as `clipdex serve` (limits, deadlines, slow clients).
// Endpoints (docs/http-api.md, "Encoder service"): POST /v1/encode, GET /v1/model, /healthz,
// /readyz, and clip-as-service's HTTP protocol (GET /openapi.json, POST /post) for clip_client.
// Requests arriving together are encoded as one batch (batcher.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "clipdex/embedder.h"

namespace clipdex::encoder_service {

struct EncoderServiceOptions {
    std::string host = "127.0.0.1";
    int port = 51000;
    std::string bearer_token;  // empty = no authentication
    size_t max_batch = 32;     // inputs encoded together at most
    double max_wait_ms = 5;    // how long the first waiting input waits for others
    int http_threads = 64;     // handler threads; they mostly wait for their batch
    size_t max_items = 1024;   // inputs in one request
    size_t max_body_bytes = 256ull << 20;
    uint64_t max_image_bytes = 64ull << 20;  // also the URL fetch limit
    bool allow_private_urls = false;
};

class EncoderService {
  public:
    explicit EncoderService(const EncoderServiceOptions& options);
    ~EncoderService();
    // Binds and returns the port (useful with port 0); throws Error(Unavailable).
    int bind();
    // Serves `embedder` until stop(); requests in flight finish first.
    void run(Embedder& embedder);
    void stop();  // thread-safe, also before run()

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace clipdex::encoder_service
