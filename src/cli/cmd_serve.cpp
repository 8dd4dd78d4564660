// `clipdex serve`: the HTTP API on port 5002 (seed 001's endpoints). SIGTERM / SIGINT stop it
// gracefully: requests in flight finish (an SVG render in flight is cancelled rather than waited
// for), then the store is flushed and closed.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "cli/engine_access.h"
#include "image/image.h"
#include "server/http_server.h"

namespace clipdex::cli {

namespace {

// The signal handler only writes a byte to a pipe (async-signal-safe); a watcher thread reads
// it and stops the server. A handler rather than a blocked mask, because threads created before
// main (OpenBLAS's pool) would otherwise take the signal and its default action.
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int signal_number) {
    const char byte = static_cast<char>(signal_number);
    [[maybe_unused]] const ssize_t written = write(g_stop_pipe[1], &byte, 1);
}

void install_stop_handlers() {
    if (pipe(g_stop_pipe) != 0) throw Error(ErrorCode::Io, "serve: cannot create the signal pipe");
    struct sigaction action = {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
}

void run_serve(const GlobalOptions& global, const server::ServerOptions& options) {
    install_stop_handlers();
    auto engine = open_engine(global);
    server::HttpServer http(*engine, options);
    const int port = http.bind();
    std::printf("clipdex serve: listening on http://%s:%d (model %s, store %s)\n",
                options.host.c_str(), port, engine->model_name().c_str(), global.db.c_str());
    std::fflush(stdout);
    std::thread watcher([&] {
        char byte = 0;
        if (read(g_stop_pipe[0], &byte, 1) == 1 && byte != 0)
            std::fprintf(stderr, "clipdex serve: signal %d, finishing requests in flight\n", byte);
        http.stop();
        image::stop_svg_workers();  // renders in flight fail now (503) instead of running on
    });
    http.run();
    // run() also returns when it failed or was stopped elsewhere: wake the watcher to join it.
    const char wake = 0;
    [[maybe_unused]] const ssize_t written = write(g_stop_pipe[1], &wake, 1);
    watcher.join();
    engine->close();
    std::fprintf(stderr, "clipdex serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<server::ServerOptions>();
    CLI::App* sub =
        app.add_subcommand("serve", "HTTP API (seed 001 endpoints under /api/milvus, also /v1)");
    sub->add_option("--host", options->host, "address to listen on")->capture_default_str();
    sub->add_option("--port", options->port, "port (0 = any free port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    sub->add_option("--bearer-token", options->bearer_token,
                    "require 'Authorization: Bearer TOKEN' on every request");
    sub->add_option("--max-body", options->max_body_bytes, "largest request body in bytes")
        ->capture_default_str();
    sub->add_option("--http-threads", options->threads, "concurrent requests")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    sub->callback([&global, options] { run_serve(global, *options); });
}

}  // namespace clipdex::cli
