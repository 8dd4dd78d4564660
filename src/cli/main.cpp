// clipdex entry point: global options, subcommand table, and the edge where errors become
// messages and exit codes.
#include <cstdio>
#include <exception>

#include "cli/cli.h"
#include "clipdex/error.h"

namespace {

using Registrar = void (*)(CLI::App&, clipdex::cli::GlobalOptions&);

constexpr Registrar kCommands[] = {
    clipdex::cli::register_index,   clipdex::cli::register_search, clipdex::cli::register_rows,
    clipdex::cli::register_serve,   clipdex::cli::register_models, clipdex::cli::register_embed,
    clipdex::cli::register_migrate,
};

int exit_code(clipdex::ErrorCode code) {
    switch (code) {
        case clipdex::ErrorCode::InvalidInput:
            return 2;
        case clipdex::ErrorCode::NotFound:
            return 3;
        case clipdex::ErrorCode::Corrupt:
            return 4;
        case clipdex::ErrorCode::Unsupported:
            return 5;
        case clipdex::ErrorCode::Unavailable:
            return 6;
        default:
            return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"clipdex: find images by what they show"};
    app.require_subcommand(1);
    app.fallthrough();  // global options may also follow the subcommand's name
    clipdex::cli::GlobalOptions global;
    app.add_option("--db", global.db, "vector store URI: a file path or http(s)://host:port")
        ->capture_default_str();
    app.add_option("--model", global.model, "model name or local model directory")
        ->capture_default_str();
    app.add_option("--token", global.token, "token for the Milvus server");
    app.add_option("--threads", global.threads, "worker threads (0 = all cores)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--collection", global.collection, "collection name")->capture_default_str();
    app.add_flag(
        "--allow-private-urls", global.allow_private_urls,
        "let URL inputs reach loopback and private networks (off: the server is no proxy)");
    for (Registrar add : kCommands) add(app, global);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const clipdex::Error& e) {
        std::fprintf(stderr, "clipdex: error (%s): %s\n",
                     std::string(clipdex::error_code_name(e.code())).c_str(), e.what());
        return exit_code(e.code());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "clipdex: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
