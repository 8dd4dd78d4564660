// `clipdex serve`: the HTTP API on port 5002 (seed 001's endpoints). SIGTERM / SIGINT stop it
// gracefully: requests in flight finish, then the store is flushed and closed.
#include <signal.h>

#include <cstdio>
#include <thread>

#include "cli/engine_access.h"
#include "server/http_server.h"

namespace clipdex::cli {

namespace {

void run_serve(const GlobalOptions& global, const server::ServerOptions& options) {
    // Block the stop signals in every thread (they inherit the mask); one thread waits for them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto engine = open_engine(global);
    server::HttpServer http(*engine, options);
    const int port = http.bind();
    std::printf("clipdex serve: listening on http://%s:%d (model %s, store %s)\n", options.host.c_str(), port,
                engine->model_name().c_str(), global.db.c_str());
    std::fflush(stdout);
    std::thread watcher([&] {
        int signal_number = 0;
        sigwait(&stop_signals, &signal_number);
        std::fprintf(stderr, "clipdex serve: signal %d, stopping\n", signal_number);
        http.stop();
    });
    http.run();
    // run() also returns when stop() came from elsewhere: wake the watcher so it can be joined.
    pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
    engine->close();
    std::fprintf(stderr, "clipdex serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<server::ServerOptions>();
    CLI::App* sub = app.add_subcommand("serve", "HTTP API (seed 001 endpoints under /api/milvus, also /v1)");
    sub->add_option("--host", options->host, "address to listen on")->capture_default_str();
    sub->add_option("--port", options->port, "port (0 = any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
    sub->add_option("--bearer-token", options->bearer_token, "require 'Authorization: Bearer TOKEN' on every request");
    sub->add_option("--max-body", options->max_body_bytes, "largest request body in bytes")->capture_default_str();
    sub->add_option("--http-threads", options->threads, "concurrent requests")->check(CLI::Range(1, 256))->capture_default_str();
    sub->callback([&global, options] { run_serve(global, *options); });
}

}  // namespace clipdex::cli
