// `clipdex search "text"` and `clipdex search --image FILE|URL`: ranked hits as a table or
// JSON (an array of {"query", "hits"}, one per query), optionally a contact sheet of the hits.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/contact_sheet.h"
#include "cli/engine_access.h"
#include "engine/hit_json.h"

namespace clipdex::cli {

namespace {

struct SearchArgs {
    std::vector<std::string> texts;
    std::string image;
    int k = 10;
    std::string filter;
    bool json = false;
    std::string grid;
};

void print_table(const std::string& query, const std::vector<SearchHit>& hits) {
    std::printf("query: %s\n", query.c_str());
    if (hits.empty()) std::printf("  (no hits)\n");
    for (size_t i = 0; i < hits.size(); ++i)
        std::printf("%3zu  %8.4f  %-20lld  %s%s%s\n", i + 1, static_cast<double>(hits[i].score),
                    static_cast<long long>(hits[i].id), hits[i].url.c_str(),
                    hits[i].description.empty() ? "" : "  — ", hits[i].description.c_str());
}

// One query's answer: {"query": text or image, "hits": the HTTP API's hits (engine/hit_json.h)}.
nlohmann::json query_json(const std::string& query, const std::vector<SearchHit>& hits) {
    return {{"query", query}, {"hits", hits_to_json(hits)}};
}

// A hit's picture through the engine (its limits and URL rule); one that cannot be loaded is
// reported and drawn as a grey box.
RgbImage load_for_sheet(Engine& engine, const std::string& url) {
    try {
        return engine.load_image(url);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "contact sheet: %s\n", e.what());
        return {};
    }
}

// The last part of a path or URL, for a label.
std::string file_name(const std::string& path_or_url) {
    std::string name = path_or_url;
    if (const size_t query = name.find_first_of("?#"); is_url(name) && query != std::string::npos)
        name.resize(query);
    while (!name.empty() && name.back() == '/') name.pop_back();
    const size_t slash = name.find_last_of('/');
    return slash == std::string::npos ? name : name.substr(slash + 1);
}

void write_grid(Engine& engine, const std::string& path, const SearchArgs& args,
                const std::vector<SearchHit>& hits) {
    SheetQuery query;
    if (args.image.empty()) {
        query.text = "\"" + args.texts.front() + "\"";
    } else {
        query.text = file_name(args.image);
        query.picture = load_for_sheet(engine, args.image);
    }
    std::vector<SheetItem> items;
    for (size_t i = 0; i < hits.size(); ++i)
        items.push_back({static_cast<int>(i + 1), hits[i].score, file_name(hits[i].url),
                         load_for_sheet(engine, hits[i].url)});
    write_png(make_contact_sheet(query, items), path);
    std::fprintf(stderr, "contact sheet written to %s\n", path.c_str());
}

void run_search(const GlobalOptions& global, const SearchArgs& args) {
    if (args.texts.empty() == args.image.empty())
        throw Error(ErrorCode::InvalidInput,
                    "search: give query text or --image FILE|URL (one of them)");
    auto engine = open_engine_to_read(global);  // NotFound, with advice, without the collection
    std::vector<std::pair<std::string, std::vector<SearchHit>>> results;
    if (!args.image.empty()) {
        auto hits = is_url(args.image)
                        ? engine->search_by_image_url(args.image, args.k, args.filter)
                        : engine->search_by_image_file(args.image, args.k, args.filter);
        results.emplace_back(args.image, std::move(hits));
    } else {
        auto lists = engine->search_batch(args.texts, args.k, args.filter);
        for (size_t i = 0; i < lists.size(); ++i)
            results.emplace_back(args.texts[i], std::move(lists[i]));
    }
    if (args.json) {
        // Always an array, one object per query, however many queries there are.
        nlohmann::json out = nlohmann::json::array();
        for (const auto& [query, hits] : results) out.push_back(query_json(query, hits));
        std::cout << out.dump() << "\n";
    } else {
        for (const auto& [query, hits] : results) print_table(query, hits);
    }
    if (!args.grid.empty()) write_grid(*engine, args.grid, args, results.front().second);
}

}  // namespace

void register_search(CLI::App& app, GlobalOptions& global) {
    auto args = std::make_shared<SearchArgs>();
    CLI::App* sub = app.add_subcommand(
        "search", "find images by text (several texts: one list each) or by an example image");
    sub->add_option("text", args->texts, "query text(s)");
    sub->add_option("--image", args->image, "example image: a file or an http(s) URL");
    sub->add_option("-k,--top-k", args->k, "hits per query")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    sub->add_option("--filter", args->filter,
                    "Milvus filter expression, e.g. 'url like \"%cat%\"'");
    sub->add_flag("--json", args->json, "print JSON");
    sub->add_option("--grid", args->grid, "write a contact sheet (PNG) of the first query's hits");
    sub->callback([&global, args] { run_search(global, *args); });
}

}  // namespace clipdex::cli
