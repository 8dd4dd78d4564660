// Row-level commands: add, remove, list, stats, info.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/engine_access.h"
#include "common/file_read.h"
#include "engine/info_json.h"
#include "store/row_json.h"

namespace clipdex::cli {

namespace {

struct RowArgs {
    std::string id;  // parsed by parse_row_id: CLI11 would clamp out-of-range text
    bool id_given = false;
    std::string url, file, description;
    std::vector<std::string> ids;
    int64_t limit = 20, offset = 0;
    bool vectors = false;
    bool json = false;
};

void run_add(const GlobalOptions& global, const RowArgs& args) {
    if (args.url.empty() == args.file.empty())
        throw Error(ErrorCode::InvalidInput, "add: give --url or --file (one)");
    if (!args.url.empty() && !args.id_given)
        throw Error(ErrorCode::InvalidInput,
                    "add: --url needs --id (a file's id comes from its path; a URL has none)");
    std::optional<int64_t> id;
    if (args.id_given) id = parse_row_id(args.id, "add: --id");
    std::optional<std::string> description;
    if (!args.description.empty()) description = args.description;
    // Read (bounded) before loading the model: a bad --file fails in milliseconds.
    if (!args.file.empty())
        read_file_bounded(args.file, engine_options(global).max_image_bytes,
                          "add: --file '" + args.file + "'");
    WriteIntent intent;
    intent.command =
        args.url.empty() ? WriteIntent::Command::AddFile : WriteIntent::Command::AddUrl;
    intent.id = id.value_or(0);
    intent.url = args.url;
    intent.description = args.description;
    auto engine = open_engine_to_write(global, intent);
    if (!args.url.empty()) {
        engine->add_image_by_url(*id, args.url, args.description);
    } else {
        id = engine->add_image_file(std::filesystem::absolute(args.file).lexically_normal(), id,
                                    description);
    }
    engine->close();
    std::printf("added id %lld\n", static_cast<long long>(*id));
}

void run_remove(const GlobalOptions& global, const RowArgs& args) {
    std::vector<int64_t> ids;
    for (const std::string& text : args.ids) ids.push_back(parse_row_id(text, "remove: id"));
    WriteIntent intent;
    intent.command = WriteIntent::Command::Remove;
    intent.ids = ids;
    auto engine = open_engine_to_write(global, intent);
    size_t missing = 0;
    for (int64_t id : ids)
        if (!engine->remove_by_id(id)) {
            std::fprintf(stderr, "no row with id %lld\n", static_cast<long long>(id));
            ++missing;
        }
    engine->close();
    std::printf("removed %zu of %zu\n", ids.size() - missing, ids.size());
    if (missing > 0) throw CLI::RuntimeError(kExitSomeFailed);
}

void run_list(const GlobalOptions& global, const RowArgs& args) {
    auto engine = open_engine_to_read(global);
    const auto rows = engine->get_all_data(args.vectors, args.limit, args.offset);
    if (args.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& row : rows) out.push_back(store::row_to_json(row, args.vectors));
        std::cout << out.dump() << "\n";
        return;
    }
    for (const auto& row : rows)
        std::printf("%-20lld  %s  %s%s%s\n", static_cast<long long>(row.id), row.added_at.c_str(),
                    row.url.c_str(), row.description.empty() ? "" : "  — ",
                    row.description.c_str());
}

void print_object(const nlohmann::json& object, bool json) {
    if (json) {
        std::cout << object.dump() << "\n";
        return;
    }
    for (const auto& [key, value] : object.items())
        std::printf("%-20s %s\n", key.c_str(),
                    value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
}

}  // namespace

void register_rows(CLI::App& app, GlobalOptions& global) {
    auto args = std::make_shared<RowArgs>();
    CLI::App* add = app.add_subcommand(
        "add", "add one image from a URL (under --id, replacing) or a file (its one row, updated)");
    CLI::Option* id = add->add_option(
        "--id", args->id, "row id (required with --url; with --file: default the path's id)");
    add->add_option("--url", args->url, "http(s) URL of the image");
    add->add_option("--file", args->file,
                    "image file: its row is found by path, so adding it again makes no second row");
    add->add_option("--description", args->description,
                    "caption stored with the image (a file without one keeps its stored caption)");
    add->callback([&global, args, id] {
        args->id_given = id->count() > 0;
        run_add(global, *args);
    });

    CLI::App* remove = app.add_subcommand("remove", "remove rows by id");
    remove->add_option("ids", args->ids, "row ids")->required();
    remove->callback([&global, args] { run_remove(global, *args); });

    CLI::App* list = app.add_subcommand("list", "list stored rows in id order");
    list->add_option("--limit", args->limit, "rows to show (-1 = all)")->capture_default_str();
    list->add_option("--offset", args->offset, "rows to skip")->check(CLI::NonNegativeNumber);
    list->add_flag("--vectors", args->vectors, "include vectors (with --json)");
    list->add_flag("--json", args->json, "print JSON");
    list->callback([&global, args] { run_list(global, *args); });

    CLI::App* stats = app.add_subcommand("stats", "record count, model, dimension, index");
    stats->add_flag("--json", args->json, "print JSON");
    stats->callback([&global, args] {
        print_object(engine::stats_json(open_engine_to_read(global)->get_database_stats()),
                     args->json);
    });

    CLI::App* info = app.add_subcommand("info", "collection schema, index and metric");
    info->add_flag("--json", args->json, "print JSON");
    info->callback([&global, args] {
        print_object(engine::collection_json(open_engine_to_read(global)->collection_info()),
                     args->json);
    });
}

}  // namespace clipdex::cli
