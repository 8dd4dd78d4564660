// clipdex entry point: global options, subcommand table, and the edge where errors become
// messages and exit codes.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "clipdex/error.h"
#include "clipdex/version.h"

namespace {

using Registrar = void (*)(CLI::App&, clipdex::cli::GlobalOptions&);

constexpr Registrar kCommands[] = {
    clipdex::cli::register_index,   clipdex::cli::register_search, clipdex::cli::register_rows,
    clipdex::cli::register_serve,   clipdex::cli::register_models, clipdex::cli::register_embed,
    clipdex::cli::register_migrate, clipdex::cli::register_serve_encoder,
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
        case clipdex::ErrorCode::Conflict:
            return 7;  // e.g. another process (a running `clipdex serve`) holds the database
        default:
            return 1;
    }
}

// Edit distance (insertions, deletions, substitutions), for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The first word that is not a global option or its value: what the user meant as the command.
std::optional<std::string> command_word(int argc, char** argv, const CLI::App& app) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") return std::nullopt;
        if (arg.starts_with("-")) {
            const CLI::Option* option = nullptr;
            if (arg.starts_with("--") && arg.find('=') == std::string_view::npos)
                option = app.get_option_no_throw(std::string(arg));
            if (option != nullptr && option->get_items_expected_max() > 0) ++i;  // skip its value
            continue;
        }
        return std::string(arg);
    }
    return std::nullopt;
}

// Parse errors and unknown commands are bad input: exit 2 with one line saying what to do.
int usage_error(const std::string& message) {
    std::fprintf(stderr, "clipdex: error (invalid_input): %s\n", message.c_str());
    return exit_code(clipdex::ErrorCode::InvalidInput);
}

std::string help_hint(int argc, char** argv, const CLI::App& app) {
    const auto word = command_word(argc, argv, app);
    return " (see 'clipdex " + (word ? *word + " " : std::string()) + "--help')";
}

std::optional<int> check_command(int argc, char** argv, const CLI::App& app) {
    const auto word = command_word(argc, argv, app);
    if (!word) return std::nullopt;  // no command: CLI11 says so below
    // The nearest names (at most 2 edits, 1 for words of 3 letters or less), else the names the
    // word begins.
    std::vector<std::string> nearest, prefixed;
    size_t best = std::min<size_t>(2, word->size() / 2) + 1;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        const std::string& name = sub->get_name();
        if (name == *word) return std::nullopt;
        const size_t distance = edit_distance(*word, name);
        if (distance < best) nearest.clear(), best = distance;
        if (distance == best) nearest.push_back(name);
        if (name.starts_with(*word)) prefixed.push_back(name);
    }
    const std::vector<std::string>& close = nearest.empty() ? prefixed : nearest;
    std::string message = "unknown command '" + *word + "'";
    if (close.empty() || close.size() > 3) {
        message += "; run 'clipdex --help' for the list of commands";
    } else {
        message += "; did you mean ";
        for (size_t i = 0; i < close.size(); ++i)
            message += (i == 0 ? "" : i + 1 == close.size() ? " or " : ", ") + ("'" + close[i] + "'");
        message += "?";
    }
    return usage_error(message);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"clipdex: find images by what they show"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("clipdex ") + clipdex::version());
    app.fallthrough();  // global options may also follow the subcommand's name
    clipdex::cli::GlobalOptions global;
    app.add_option("--db", global.db, "vector store URI: a file path or http(s)://host:port")
        ->capture_default_str();
    app.add_option("--model", global.model,
                   "model name or local model directory (default: the collection's own; "
                   "ViT-B-32::openai for a new collection)");
    app.add_option("--token", global.token, "token for the Milvus server");
    app.add_option("--threads", global.threads, "worker threads (0 = all cores)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--collection", global.collection, "collection name")->capture_default_str();
    app.add_flag(
        "--allow-private-urls", global.allow_private_urls,
        "let URL inputs reach loopback and private networks (off: the server is no proxy)");
    for (Registrar add : kCommands) add(app, global);
    if (auto rc = check_command(argc, argv, app)) return *rc;
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code();  // a command's own status (8: some inputs failed), already told
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::RequiredError& e) {
        if (!command_word(argc, argv, app))
            return usage_error("no command given; run 'clipdex --help' for the list of commands");
        return usage_error(std::string(e.what()) + help_hint(argc, argv, app));
    } catch (const CLI::ParseError& e) {
        return usage_error(std::string(e.what()) + help_hint(argc, argv, app));
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
