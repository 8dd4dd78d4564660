// Drives the Milvus backend from JSON lines, for the pytest integration tests:
//   milvus_cli URI [--token T] [--db NAME] [--timeout SECONDS]
// reads one command object per stdin line, e.g.
// {"op":"search","collection":"c","vectors":[[…]],"k":3}, and writes one answer per line:
// {"ok":true,"result":…} or {"ok":false,"code":"NotFound","message":…}.
// Rows travel in the one row shape of store/row_json.h (dynamic fields beside the fixed ones).
// {"op":"traffic"} answers what the client has sent and received so far (calls, bytes, seconds).
#include <chrono>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "store/milvus/milvus_store.h"
#include "store/row_json.h"

using clipdex::Error;
using clipdex::ErrorCode;
using nlohmann::json;
namespace cs = clipdex::store;

namespace {

std::vector<cs::Row> rows_from(const json& command) {
    std::vector<cs::Row> rows;
    for (const json& item : command.at("rows")) rows.push_back(cs::row_from_json(item));
    return rows;
}

json rows_to_json(const std::vector<cs::Row>& rows) {
    json out = json::array();
    for (const cs::Row& row : rows) out.push_back(cs::row_to_json(row, !row.vector.empty()));
    return out;
}

cs::CollectionSpec spec_from(const json& command) {
    cs::CollectionSpec spec;
    spec.name = command.at("collection").get<std::string>();
    spec.dim = command.at("dim").get<int>();
    spec.description = command.value("description", "");
    spec.properties = command.value("properties", std::map<std::string, std::string>{});
    std::string index = command.value("index", "HNSW");
    std::string metric = command.value("metric", "COSINE");
    spec.index.kind = index == "FLAT"        ? cs::IndexKind::Flat
                      : index == "IVF_FLAT"  ? cs::IndexKind::IvfFlat
                      : index == "AUTOINDEX" ? cs::IndexKind::AutoIndex
                                             : cs::IndexKind::Hnsw;
    spec.index.metric = metric == "IP"   ? cs::Metric::InnerProduct
                        : metric == "L2" ? cs::Metric::L2
                                         : cs::Metric::Cosine;
    spec.index.nlist = command.value("nlist", spec.index.nlist);
    spec.index.m = command.value("M", spec.index.m);
    spec.index.ef_construction = command.value("efConstruction", spec.index.ef_construction);
    return spec;
}

json spec_to_json(const cs::CollectionSpec& spec) {
    static const char* const kKinds[] = {"FLAT", "IVF_FLAT", "HNSW", "AUTOINDEX"};
    static const char* const kMetrics[] = {"COSINE", "IP", "L2"};
    return {{"name", spec.name},
            {"dim", spec.dim},
            {"description", spec.description},
            {"properties", spec.properties},
            {"index", kKinds[int(spec.index.kind)]},
            {"metric", kMetrics[int(spec.index.metric)]},
            {"nlist", spec.index.nlist},
            {"M", spec.index.m},
            {"efConstruction", spec.index.ef_construction}};
}

json search(cs::Store& store, const std::string& collection, const json& command) {
    std::vector<float> flat;
    for (const json& vector : command.at("vectors")) {
        for (float x : vector.get<std::vector<float>>()) flat.push_back(x);
    }
    cs::SearchRequest request;
    request.k = command.value("k", 10);
    request.filter = command.value("filter", "");
    request.output_fields = command.value("fields", cs::FieldList{});
    request.params.nprobe = command.value("nprobe", request.params.nprobe);
    request.params.ef = command.value("ef", request.params.ef);
    json out = json::array();
    for (const auto& hits : store.search(collection, flat, request)) {
        json list = json::array();
        for (const cs::Hit& hit : hits)
            list.push_back(
                {{"score", hit.score}, {"row", cs::row_to_json(hit.row, !hit.row.vector.empty())}});
        out.push_back(list);
    }
    return out;
}

json run(cs::Store& store, const json& command) {
    std::string op = command.at("op").get<std::string>();
    std::string collection = command.value("collection", "");
    cs::FieldList fields = command.value("fields", cs::FieldList{});
    if (op == "list") return store.list_collections();
    if (op == "has") return store.has_collection(collection);
    if (op == "create") return (store.create_collection(spec_from(command)), json(nullptr));
    if (op == "drop") return (store.drop_collection(collection), json(nullptr));
    if (op == "describe") {
        cs::CollectionInfo info = store.describe_collection(collection);
        return {{"spec", spec_to_json(info.spec)}, {"row_count", info.row_count}};
    }
    if (op == "stats") {
        cs::CollectionStats stats = store.stats(collection);
        return {{"row_count", stats.row_count},
                {"bytes_on_disk", stats.bytes_on_disk},
                {"index_state", stats.index_state}};
    }
    if (op == "insert") return (store.insert(collection, rows_from(command)), json(nullptr));
    if (op == "upsert") return (store.upsert(collection, rows_from(command)), json(nullptr));
    if (op == "remove")
        return store.remove(collection, command.at("ids").get<std::vector<int64_t>>());
    if (op == "remove_where")
        return store.remove_where(collection, command.at("filter").get<std::string>());
    if (op == "get")
        return rows_to_json(
            store.get(collection, command.at("ids").get<std::vector<int64_t>>(), fields));
    if (op == "query") {
        cs::QueryRequest request{command.value("filter", ""), fields,
                                 command.value("limit", int64_t(-1)),
                                 command.value("offset", int64_t(0))};
        return rows_to_json(store.query(collection, request));
    }
    if (op == "count") return store.count(collection, command.value("filter", ""));
    if (op == "search") return search(store, collection, command);
    if (op == "flush") return (store.flush(collection), json(nullptr));
    if (op == "traffic") {
        cs::milvus::Traffic traffic = cs::milvus::traffic_of(store);
        return {{"calls", traffic.calls},
                {"request_bytes", traffic.request_bytes},
                {"response_bytes", traffic.response_bytes},
                {"rpc_seconds", traffic.rpc_seconds}};
    }
    throw Error(ErrorCode::InvalidInput, "unknown op `" + op + "`");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: milvus_cli URI [--token T] [--db NAME] [--timeout SECONDS]\n";
        return 2;
    }
    cs::StoreOptions options;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--token") options.token = argv[i + 1];
        if (flag == "--db") options.db_name = argv[i + 1];
        if (flag == "--timeout") options.timeout_seconds = std::stod(argv[i + 1]);
    }
    std::unique_ptr<cs::Store> store;
    try {
        store = cs::milvus::open_milvus_store(argv[1], options);
    } catch (const Error& e) {
        std::cout << json{{"ok", false},
                          {"code", clipdex::error_code_name(e.code())},
                          {"message", e.what()}}
                  << std::endl;
        return 1;
    }
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        json answer;
        auto started = std::chrono::steady_clock::now();
        try {
            answer = {{"ok", true}, {"result", run(*store, json::parse(line))}};
        } catch (const Error& e) {
            answer = {
                {"ok", false}, {"code", clipdex::error_code_name(e.code())}, {"message", e.what()}};
        } catch (const std::exception& e) {
            answer = {{"ok", false}, {"code", "BadCommand"}, {"message", e.what()}};
        }
        answer["seconds"] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::cout << answer.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
    }
    return 0;
}
