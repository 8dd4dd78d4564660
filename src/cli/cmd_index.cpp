// `clipdex index PATH...`: incremental indexing of folders and files.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/engine_access.h"
#include "common/progress.h"

namespace clipdex::cli {

namespace {

struct IndexArgs {
    std::vector<std::string> paths;
    std::string descriptions;
    bool prune = false;
    bool no_recursive = false;
    int batch = 32;
    bool json = false;
};

void merge(IndexReport& total, const IndexReport& part) {
    total.counts.done += part.counts.done;
    total.counts.added += part.counts.added;
    total.counts.updated += part.counts.updated;
    total.counts.unchanged += part.counts.unchanged;
    total.counts.failed += part.counts.failed;
    total.pruned += part.pruned;
    total.seconds += part.seconds;
    total.failures.insert(total.failures.end(), part.failures.begin(), part.failures.end());
}

void print_report(const IndexReport& report, bool json) {
    const auto& c = report.counts;
    if (json) {
        nlohmann::json failures = nlohmann::json::array();
        for (const auto& f : report.failures)
            failures.push_back({{"path", f.path}, {"reason", f.reason}});
        std::cout << nlohmann::json{{"added", c.added},         {"updated", c.updated},
                                    {"unchanged", c.unchanged}, {"failed", c.failed},
                                    {"pruned", report.pruned},  {"seconds", report.seconds},
                                    {"failures", failures}}
                         .dump()
                  << "\n";
        return;
    }
    for (const auto& f : report.failures)
        std::fprintf(stderr, "skipped %s: %s\n", f.path.c_str(), f.reason.c_str());
    std::printf(
        "indexed: %zu added, %zu updated, %zu unchanged, %zu failed, %zu pruned in %.1f s\n",
        c.added, c.updated, c.unchanged, c.failed, report.pruned, report.seconds);
}

int run_index(const GlobalOptions& global, const IndexArgs& args) {
    // A path that does not exist is a mistake in the command, not one failed file among many:
    // refused before the model loads (exit 3), as `add --file` does.
    for (const auto& path : args.paths) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            throw Error(ErrorCode::NotFound, "index: '" + path + "': no such file or folder");
    }
    auto engine = open_engine_to_write(global, {WriteIntent::Command::Index});
    const Descriptions descriptions =
        args.descriptions.empty() ? Descriptions{} : load_descriptions(args.descriptions);
    Progress bar("indexing");
    IndexOptions options;
    options.prune = args.prune;
    options.recursive = !args.no_recursive;
    options.batch_size = args.batch;
    options.progress = [&](const IndexProgress& p) {
        // Unchanged files cost a stat: the rate and ETA count the files that were encoded.
        const std::string detail =
            p.unchanged > 0 ? std::to_string(p.unchanged) + " unchanged" : std::string();
        bar.update(p.done, p.total, detail, p.done - p.unchanged);
    };
    IndexReport total;
    std::vector<std::filesystem::path> files;
    for (const auto& path : args.paths) {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec))
            merge(total, engine->index_directory(path, descriptions, options));
        else
            files.emplace_back(path);
    }
    if (!files.empty()) merge(total, engine->index_images(files, descriptions, options));
    engine->close();
    bar.finish(std::to_string(total.counts.done) + " files");
    print_report(total, args.json);
    return total.counts.failed > 0 ? kExitSomeFailed : 0;
}

}  // namespace

void register_index(CLI::App& app, GlobalOptions& global) {
    auto args = std::make_shared<IndexArgs>();
    CLI::App* sub =
        app.add_subcommand("index", "index image folders and files (unchanged files are skipped)");
    sub->add_option("paths", args->paths, "folders and image files")->required();
    sub->add_option("--descriptions", args->descriptions,
                    "JSON file mapping file names or paths to descriptions");
    sub->add_flag("--prune", args->prune,
                  "remove rows whose files are gone from the indexed folders");
    sub->add_flag("--no-recursive", args->no_recursive, "do not descend into sub-folders");
    sub->add_option("--batch", args->batch, "images encoded together")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    sub->add_flag("--json", args->json, "print the report as JSON");
    sub->callback([&global, args] {
        const int code = run_index(global, *args);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace clipdex::cli
