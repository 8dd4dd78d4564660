// `clipdex migrate SRC_URI DST_URI`: copy a collection between two stores of any backend.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/engine_access.h"
#include "cli/writer_conflict.h"
#include "clipdex/store.h"
#include "common/progress.h"
#include "store/migrate.h"

namespace clipdex::cli {

namespace {

struct MigrateArgs {
    std::string src_uri;
    std::string dst_uri;
    std::string to_collection;
    std::string src_token;
    std::string dst_token;
    std::string index;
    int64_t batch = 1000;
    bool json = false;
};

// Exit status when the copy ran but the destination does not hold every source row.
constexpr int kExitNotVerified = kExitSomeFailed;

std::unique_ptr<store::Store> open(const std::string& uri, const std::string& token,
                                   bool read_only) {
    store::StoreOptions options;
    options.token = token;
    options.read_only = read_only;
    options.writer.program = program_name(WriteIntent::Command::Migrate);
    return store::open_store(uri, options);
}

double rate(const store::MigrateReport& report) {
    const int64_t rows = report.copied + report.skipped;
    return report.seconds > 0 ? static_cast<double>(rows) / report.seconds : 0;
}

void print_report(const store::MigrateReport& r, bool json) {
    if (json) {
        std::cout << nlohmann::json{{"source_collection", r.source_collection},
                                    {"destination_collection", r.destination_collection},
                                    {"created", r.created},
                                    {"source_rows", r.source_rows},
                                    {"copied", r.copied},
                                    {"skipped", r.skipped},
                                    {"destination_rows", r.destination_rows},
                                    {"missing", r.missing},
                                    {"verified", r.verified},
                                    {"seconds", r.seconds},
                                    {"rows_per_second", rate(r)}}
                         .dump()
                  << "\n";
        return;
    }
    std::printf(
        "migrated `%s` -> `%s`%s: %lld copied, %lld skipped (already present) in %.1f s (%.0f "
        "rows/s)\n",
        r.source_collection.c_str(), r.destination_collection.c_str(),
        r.created ? " (created)" : "", static_cast<long long>(r.copied),
        static_cast<long long>(r.skipped), r.seconds, rate(r));
    std::printf("verify: source %lld rows, destination %lld rows, %lld missing: %s\n",
                static_cast<long long>(r.source_rows), static_cast<long long>(r.destination_rows),
                static_cast<long long>(r.missing), r.verified ? "ok" : "FAILED");
}

int run_migrate(const GlobalOptions& global, const MigrateArgs& args) {
    if (args.src_uri == args.dst_uri &&
        (args.to_collection.empty() || args.to_collection == global.collection)) {
        throw Error(ErrorCode::InvalidInput,
                    "migrate: source and destination are the same collection `" +
                        global.collection + "` of " + args.src_uri);
    }
    // The source is only read, so it may be a database a running server holds; the destination
    // is refused with advice when another process holds it.
    refuse_if_held(args.dst_uri, {WriteIntent::Command::Migrate});
    auto src = open(args.src_uri, args.src_token.empty() ? global.token : args.src_token, true);
    auto dst = open(args.dst_uri, args.dst_token.empty() ? global.token : args.dst_token, false);
    store::MigrateOptions options;
    options.collection = global.collection;
    options.to_collection = args.to_collection;
    options.batch_size = args.batch;
    if (!args.index.empty()) {
        store::IndexSpec index = src->describe_collection(global.collection).spec.index;
        index.kind = store::parse_index_kind(args.index);
        options.index = index;
    }
    Progress bar("migrating");
    options.progress = [&](const store::MigrateProgress& p) {
        bar.update(static_cast<uint64_t>(p.done), static_cast<uint64_t>(p.total));
    };
    const store::MigrateReport report = store::migrate_collection(*src, *dst, options);
    bar.finish(std::to_string(report.copied + report.skipped) + " rows");
    print_report(report, args.json);
    return report.verified ? 0 : kExitNotVerified;
}

}  // namespace

void register_migrate(CLI::App& app, GlobalOptions& global) {
    auto args = std::make_shared<MigrateArgs>();
    CLI::App* sub = app.add_subcommand(
        "migrate", "copy a collection between stores (file <-> Milvus), resumable, verified");
    sub->add_option("src", args->src_uri, "source store URI: a file path or http(s)://host:port")
        ->required();
    sub->add_option("dst", args->dst_uri, "destination store URI")->required();
    sub->add_option("--to-collection", args->to_collection,
                    "destination collection (default: same as --collection)");
    sub->add_option("--batch", args->batch, "rows read and written together")
        ->check(CLI::Range(int64_t{1}, int64_t{16384}))
        ->capture_default_str();
    sub->add_option("--src-token", args->src_token,
                    "token for the source server (default: --token)");
    sub->add_option("--dst-token", args->dst_token,
                    "token for the destination server (default: --token)");
    sub->add_option("--index", args->index,
                    "index of a created destination: FLAT, IVF_FLAT, HNSW, AUTOINDEX "
                    "(default: the source's)");
    sub->add_flag("--json", args->json, "print the report as JSON");
    sub->callback([&global, args] {
        const int code = run_migrate(global, *args);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace clipdex::cli
