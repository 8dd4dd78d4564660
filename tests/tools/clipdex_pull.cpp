// Test driver for the model registry and hub downloads (what `clipdex models pull/list` do).
//   clipdex_pull NAME [--retries N] [--stall-timeout S]   prints the snapshot directory
//   clipdex_pull --list                                    one "name<TAB>repo<TAB>dim<TAB>cached"
//   line each
// Progress goes to stderr as "progress FILE DONE TOTAL RATE" lines. Reads the HF_* variables.
// Exit status 0 on success, 1 with "error (CODE): message" on stderr otherwise.
#include "clipdex/error.h"
#include "hub/model_registry.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

int list(const clipdex::hub::HubConfig& config) {
    for (const auto& model : clipdex::hub::list_models(config)) {
        std::cout << model.name << '\t' << model.repo << '\t' << model.embed_dim << '\t'
                  << (model.cached ? "cached" : "not-cached")
                  << (model.is_default ? "\tdefault" : "") << '\n';
    }
    return 0;
}

int pull(const std::string& name, const clipdex::hub::HubConfig& config) {
    const auto report = [](const clipdex::hub::DownloadProgress& p) {
        std::fprintf(stderr, "progress %s %llu %llu %.0f%s\n", p.file.c_str(),
                     static_cast<unsigned long long>(p.done),
                     static_cast<unsigned long long>(p.total), p.bytes_per_second,
                     p.finished ? " done" : "");
    };
    std::cout << clipdex::hub::ensure_model(name, report, config).string() << '\n';
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        auto config = clipdex::hub::HubConfig::from_environment();
        std::string name;
        bool want_list = false;
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i] == "--list") {
                want_list = true;
            } else if (args[i] == "--retries" && i + 1 < args.size()) {
                config.retries = std::stoi(args[++i]);
            } else if (args[i] == "--stall-timeout" && i + 1 < args.size()) {
                config.stall_timeout_s = std::stod(args[++i]);
            } else {
                name = args[i];
            }
        }
        if (want_list) {
            return list(config);
        }
        if (name.empty()) {
            std::cerr << "usage: clipdex_pull NAME [--retries N] [--stall-timeout S] | --list\n";
            return 2;
        }
        return pull(name, config);
    } catch (const clipdex::Error& error) {
        std::cerr << "error (" << clipdex::error_code_name(error.code()) << "): " << error.what()
                  << '\n';
    } catch (const std::exception& error) {
        std::cerr << "error (Internal): " << error.what() << '\n';
    }
    return 1;
}
