// The options every listening command (`serve`, `serve-encoder`) takes the same way: where to
// listen, the bearer token and the largest request body.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

namespace clipdex::cli {

template <class Options>
void add_listen_options(CLI::App* sub, Options& options) {
    sub->add_option("--host", options.host, "address to listen on")->capture_default_str();
    sub->add_option("--port", options.port, "port (0 = any free port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    sub->add_option("--bearer-token", options.bearer_token,
                    "require 'Authorization: Bearer TOKEN' on every request");
    sub->add_option("--max-body", options.max_body_bytes, "largest request body in bytes")
        ->capture_default_str();
}

}  // namespace clipdex::cli
