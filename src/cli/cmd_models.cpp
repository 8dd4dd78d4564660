// `clipdex models list` and `clipdex models pull NAME`.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/progress.h"
#include "hub/model_registry.h"

namespace clipdex::cli {

namespace {

void run_list(bool json) {
    const auto models = hub::list_models();
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& m : models)
            out.push_back({{"name", m.name},
                           {"repo", m.repo},
                           {"embed_dim", m.embed_dim},
                           {"default", m.is_default},
                           {"cached", m.cached},
                           {"snapshot", m.snapshot.string()}});
        std::cout << out.dump() << "\n";
        return;
    }
    std::printf("%-30s %-45s %5s  %s\n", "NAME", "REPO", "DIM", "CACHED");
    for (const auto& m : models)
        std::printf("%-30s %-45s %5d  %s%s\n", m.name.c_str(), m.repo.c_str(), m.embed_dim,
                    m.cached ? "yes" : "no", m.is_default ? "  (default)" : "");
}

void run_pull(const std::string& name) {
    std::unique_ptr<Progress> bar;
    std::string current;
    const auto dir = hub::ensure_model(name, [&](const hub::DownloadProgress& p) {
        if (p.file != current) {
            if (bar) bar->finish(current + " done");
            current = p.file;
            bar = std::make_unique<Progress>(p.file, stderr, Progress::Unit::Bytes);
        }
        bar->update(p.done, p.total);
    });
    if (bar) bar->finish(current + " done");
    std::printf("%s\n", dir.string().c_str());
}

}  // namespace

void register_models(CLI::App& app, GlobalOptions& global) {
    CLI::App* models = app.add_subcommand(
        "models", "list known models or download one into the Hugging Face cache");
    models->require_subcommand(1);
    auto json = std::make_shared<bool>(false);
    CLI::App* list =
        models->add_subcommand("list", "known model names and whether they are cached");
    list->add_flag("--json", *json, "print JSON");
    list->callback([json] { run_list(*json); });
    auto name = std::make_shared<std::string>();
    CLI::App* pull = models->add_subcommand(
        "pull", "download a model (HF_ENDPOINT, HF_HOME, HF_TOKEN are honoured)");
    pull->add_option("name", *name, "model name (default: --model, else ViT-B-32::openai)");
    pull->callback([&global, name] {
        if (!name->empty())
            run_pull(*name);
        else
            run_pull(global.model.empty() ? std::string(hub::kDefaultModel) : global.model);
    });
}

}  // namespace clipdex::cli
