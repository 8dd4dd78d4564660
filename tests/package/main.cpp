// A program outside clipdex: indexes the images given, searches for a text, prints the hits.
//   package_demo MODEL_DIR DB_PATH QUERY IMAGE...
// Prints the versions, one line per hit ("hit <file name> <score>"), the stats, and the paths of
// the SVG worker processes the library started (so the test can check which worker it found).
#include <clipdex/engine.h>
#include <clipdex/error.h>
#include <clipdex/version.h>

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Executables of this process's children, read from /proc.
std::vector<std::string> child_executables() {
    std::vector<std::string> out;
    DIR* proc = opendir("/proc");
    if (!proc) return out;
    while (const dirent* entry = readdir(proc)) {
        const std::string pid = entry->d_name;
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat("/proc/" + pid + "/stat");
        std::string line;
        std::getline(stat, line);
        const size_t close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        long ppid = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) continue;
        if (ppid != static_cast<long>(getpid())) continue;
        std::error_code ec;
        const auto exe = std::filesystem::read_symlink("/proc/" + pid + "/exe", ec);
        if (!ec) out.push_back(exe.string());
    }
    closedir(proc);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: package_demo MODEL_DIR DB_PATH QUERY IMAGE...\n";
        return 2;
    }
    std::cout << "headers " << CLIPDEX_VERSION << " library " << clipdex::version() << "\n";
    if (std::string_view(clipdex::version()) != CLIPDEX_VERSION) return 3;
    try {
        clipdex::EngineOptions options;
        options.model = argv[1];
        options.db_uri = argv[2];
        auto engine = clipdex::Engine::open(options);
        const std::vector<std::filesystem::path> images(argv + 4, argv + argc);
        const clipdex::IndexReport report = engine->index_images(images);
        std::cout << "added " << report.counts.added << " failed " << report.counts.failed << "\n";
        for (const auto& failure : report.failures)
            std::cout << "failure " << failure.path << ": " << failure.reason << "\n";
        for (const clipdex::SearchHit& hit : engine->search(argv[3], 3))
            std::cout << "hit " << std::filesystem::path(hit.url).filename().string() << " "
                      << hit.score << "\n";
        const clipdex::DatabaseStats stats = engine->get_database_stats();
        std::cout << "records " << stats.total_records << " dimension " << stats.dimension
                  << " metric " << clipdex::store::metric_name(stats.metric_type) << "\n";
        for (const std::string& exe : child_executables()) std::cout << "worker " << exe << "\n";
        engine->close();
        // An error from inside the library is caught here as clipdex::Error, with its code.
        try {
            clipdex::EngineOptions missing = options;
            missing.db_uri = std::string(argv[2]) + ".other";
            missing.model = "/no/such/model";
            clipdex::Engine::open(missing)->load_model();  // opening alone loads no model
        } catch (const clipdex::Error& e) {
            std::cout << "error " << clipdex::error_code_name(e.code()) << "\n";
        }
    } catch (const clipdex::Error& e) {
        std::cerr << "clipdex error (" << clipdex::error_code_name(e.code()) << "): " << e.what()
                  << "\n";
        return 1;
    }
    return 0;
}
