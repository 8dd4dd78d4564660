// `clipdex serve`: the HTTP API on port 5002 (seed 001's endpoints). SIGTERM / SIGINT stop it
// gracefully: no new connections, idle ones close, requests in flight finish (within 20 s; an
// SVG render in flight is cancelled rather than waited for), then the store is flushed and closed.
#include <cstdio>
#include <optional>

#include "cli/engine_access.h"
#include "cli/listen_options.h"
#include "cli/stop_signals.h"
#include "image/image.h"
#include "server/http_server.h"

namespace clipdex::cli {

namespace {

void run_serve(const GlobalOptions& global, const server::ServerOptions& options) {
    // Refused before anything else when another process holds the store (see writer_conflict.h);
    // then the port, so that a port in use fails before the model loads, and the store's lock
    // records the URL the server answers on.
    refuse_if_held(global.db, {WriteIntent::Command::Serve});
    server::HttpServer http(options);
    const int port = http.bind();
    // From here a signal stops the server (before run() too: run() then returns at once).
    std::optional<StopSignals> signals;
    signals.emplace("serve", [&http] {
        http.stop();
        image::stop_svg_workers();  // renders in flight fail now (503) instead of running on
    });
    const std::string url = local_url(options.host, port);
    auto engine = open_engine_to_write(global, {WriteIntent::Command::Serve}, url,
                                       !options.bearer_token.empty());
    engine->load_model();  // a bad model fails now, and the first request is not slow
    std::printf("clipdex serve: listening on http://%s:%d (model %s, store %s)\n",
                options.host.c_str(), port, engine->model_name().c_str(), global.db.c_str());
    std::fflush(stdout);
    http.run(*engine);
    signals.reset();  // run() also returns when it failed or was stopped elsewhere
    engine->close();
    std::fprintf(stderr, "clipdex serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<server::ServerOptions>();
    CLI::App* sub =
        app.add_subcommand("serve", "HTTP API (seed 001 endpoints under /api/milvus, also /v1)");
    add_listen_options(sub, *options);
    sub->add_option("--http-threads", options->threads,
                    "worker threads running requests (health answers without one)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    sub->add_option("--header-timeout", options->header_timeout_s,
                    "seconds from a request's first byte to the end of its header (else 408)")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    sub->add_option("--body-timeout", options->body_timeout_s,
                    "seconds to receive a whole request body (else 408); also each answer's write")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    sub->add_option("--idle-timeout", options->idle_timeout_s,
                    "seconds a keep-alive connection may wait for its next request")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    sub->add_option("--max-connections", options->max_connections,
                    "open connections; more are answered 503 and closed")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    sub->add_option("--max-keepalive-requests", options->max_keepalive_requests,
                    "requests on one connection before it is closed")
        ->check(CLI::Range(1, 100000000))
        ->capture_default_str();
    sub->add_option("--max-header-bytes", options->max_header_bytes,
                    "request line and header fields (414 / 431 above)")
        ->check(CLI::Range(1024, 1048576))
        ->capture_default_str();
    sub->add_option("--max-body-memory", options->max_body_memory,
                    "bytes of request bodies held at once, all connections together; a body "
                    "that does not fit is answered 503 with Retry-After before it is read")
        ->capture_default_str();
    sub->add_option("--max-queue", options->max_queue,
                    "requests waiting for a worker thread; more are answered 503 with Retry-After")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    sub->callback([&global, options] { run_serve(global, *options); });
}

}  // namespace clipdex::cli
