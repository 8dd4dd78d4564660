// `clipdex serve-encoder`: one model served to many clients (src/encoder_service/): its own
// /v1/encode and /v1/model, and clip-as-service's HTTP protocol so clip_client works unchanged.
// The port is bound before the model loads (a port in use fails at once). SIGTERM / SIGINT
// stop it gracefully: requests in flight finish, then it exits.
#include <cstdio>

#include "cli/engine_access.h"
#include "cli/listen_options.h"
#include "cli/stop_signals.h"
#include "encoder_service/encoder_service.h"
#include "image/image.h"

namespace clipdex::cli {

namespace {

void run_serve_encoder(const GlobalOptions& global,
                       encoder_service::EncoderServiceOptions options) {
    options.allow_private_urls = global.allow_private_urls;
    encoder_service::EncoderService service(options);
    const int port = service.bind();
    StopSignals signals("serve-encoder", [&service] {
        service.stop();
        image::stop_svg_workers();
    });
    auto embedder = open_embedder(global);
    std::printf("clipdex serve-encoder: listening on http://%s:%d (model %s, dim %d)\n",
                options.host.c_str(), port, embedder->model_name().c_str(), embedder->dim());
    std::fflush(stdout);
    service.run(*embedder);
    std::fprintf(stderr, "clipdex serve-encoder: stopped\n");
}

}  // namespace

void register_serve_encoder(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<encoder_service::EncoderServiceOptions>();
    CLI::App* sub = app.add_subcommand(
        "serve-encoder",
        "serve one model to many clients over HTTP (/v1/encode; clip-as-service's /post for "
        "clip_client); --model, --threads and --allow-private-urls apply");
    add_listen_options(sub, *options);
    sub->add_option("--max-batch", options->max_batch, "inputs encoded together at most")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    sub->add_option("--max-wait-ms", options->max_wait_ms,
                    "how long a waiting input waits for others to join its batch")
        ->check(CLI::Range(0.0, 10000.0))
        ->capture_default_str();
    sub->add_option("--http-threads", options->http_threads,
                    "handler threads (each waits for its batch)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    sub->add_option("--max-items", options->max_items, "inputs in one request")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    sub->callback([&global, options] { run_serve_encoder(global, *options); });
}

}  // namespace clipdex::cli
