// The clipdex command line: main.cpp owns the global options and the error-to-exit-code edge;
// each subcommand lives in cmd_<name>.cpp and adds itself to the app with register_<name>().
// To add a command: write cmd_<name>.cpp with `void register_<name>(CLI::App&, GlobalOptions&)`,
// declare it below and add it to the table in main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace clipdex::cli {

// Options every subcommand may read; filled by parsing before any callback runs.
struct GlobalOptions {
    std::string db = "./clipdex.db";
    std::string model;  // empty: the collection's own model, or the default for a new one
    std::string token;
    int threads = 0;  // 0 = all hardware threads
    std::string collection = "clipdex";
    bool allow_private_urls = false;
};

void register_embed(CLI::App& app, GlobalOptions& global);
void register_index(CLI::App& app, GlobalOptions& global);
void register_search(CLI::App& app, GlobalOptions& global);
void register_rows(CLI::App& app, GlobalOptions& global);  // add, remove, list, stats, info
void register_serve(CLI::App& app, GlobalOptions& global);
void register_serve_encoder(CLI::App& app, GlobalOptions& global);
void register_models(CLI::App& app, GlobalOptions& global);
void register_migrate(CLI::App& app, GlobalOptions& global);

}  // namespace clipdex::cli
