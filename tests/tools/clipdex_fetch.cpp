// Test driver for the safe URL fetcher (what `clipdex add --url` uses).
//   clipdex_fetch URL [--allow-private] [--max-bytes N] [--timeout S] [--redirects N] [-o FILE]
// Prints "content-type<TAB>final-url<TAB>bytes" and writes the body to FILE when given.
#include "clipdex/error.h"
#include "hub/http_fetch.h"

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        clipdex::hub::FetchOptions options;
        std::string url;
        std::string output;
        for (std::size_t i = 0; i < args.size(); ++i) {
            const bool has_value = i + 1 < args.size();
            if (args[i] == "--allow-private") {
                options.allow_private = true;
            } else if (args[i] == "--max-bytes" && has_value) {
                options.max_bytes = std::stoull(args[++i]);
            } else if (args[i] == "--timeout" && has_value) {
                options.total_timeout_s = std::stod(args[++i]);
            } else if (args[i] == "--redirects" && has_value) {
                options.max_redirects = std::stoi(args[++i]);
            } else if (args[i] == "-o" && has_value) {
                output = args[++i];
            } else {
                url = args[i];
            }
        }
        const auto result = clipdex::hub::fetch_url(url, options);
        if (!output.empty()) {
            std::ofstream(output, std::ios::binary)
                .write(reinterpret_cast<const char*>(result.body.data()),
                       static_cast<std::streamsize>(result.body.size()));
        }
        std::cout << result.content_type << '\t' << result.final_url << '\t' << result.body.size()
                  << '\n';
        return 0;
    } catch (const clipdex::Error& error) {
        std::cerr << "error (" << clipdex::error_code_name(error.code()) << "): " << error.what()
                  << '\n';
    } catch (const std::exception& error) {
        std::cerr << "error (Internal): " << error.what() << '\n';
    }
    return 1;
}
