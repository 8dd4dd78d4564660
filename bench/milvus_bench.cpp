// clipdex's side of the Milvus client benchmark (bench/milvus_bench.py runs pymilvus beside it
// on the same server and data). Vectors come from raw little-endian float32 files so that both
// clients send the same bytes.
//
//   milvus_bench insert URI COLLECTION BASE.f32 N DIM BATCH INDEX METRIC
//   milvus_bench search URI COLLECTION QUERIES.f32 NQ DIM PER_CALL K FIELDS WARMUP
//
// FIELDS is a comma list of output fields ("id", "id,url"). Each prints one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "clipdex/store.h"
#include "store/milvus/milvus_store.h"

namespace cs = clipdex::store;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<float> read_floats(const std::string& path, size_t count) {
    std::vector<float> data(count);
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(data.data()), std::streamsize(count * sizeof(float)));
    if (!in)
        throw clipdex::Error(clipdex::ErrorCode::InvalidInput,
                             path + ": fewer than " + std::to_string(count) + " floats");
    return data;
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    size_t begin = 0;
    while (begin <= text.size()) {
        size_t end = text.find(sep, begin);
        if (end == std::string::npos) end = text.size();
        if (end > begin) parts.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return parts;
}

std::unique_ptr<cs::Store> connect(const std::string& uri) {
    cs::StoreOptions options;
    options.timeout_seconds = 300;
    if (const char* token = std::getenv("CLIPDEX_MILVUS_TOKEN")) options.token = token;
    return cs::milvus::open_milvus_store(uri, options);
}

// The rows a seed-001 user writes: id, url, vector; the store adds the timestamps.
std::vector<cs::Row> make_batch(const std::vector<float>& base, int dim, size_t begin, size_t end) {
    std::vector<cs::Row> batch;
    batch.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
        cs::Row row;
        row.id = int64_t(i);
        row.url = "/bench/" + std::to_string(i) + ".jpg";
        row.vector.assign(base.begin() + long(i * size_t(dim)),
                          base.begin() + long((i + 1) * size_t(dim)));
        batch.push_back(std::move(row));
    }
    return batch;
}

int run_insert(char** argv) {
    std::string uri = argv[0], name = argv[1];
    size_t n = std::stoul(argv[3]), batch_rows = std::stoul(argv[5]);
    int dim = std::stoi(argv[4]);
    std::vector<float> base = read_floats(argv[2], n * size_t(dim));
    auto store = connect(uri);
    cs::CollectionSpec spec;
    spec.name = name;
    spec.dim = dim;
    spec.index.kind = cs::parse_index_kind(argv[6]);
    spec.index.metric = cs::parse_metric(argv[7]);
    if (store->has_collection(name)) store->drop_collection(name);
    store->create_collection(spec);
    // batches are built outside the clock: a caller hands the store rows it already has
    std::vector<std::vector<cs::Row>> batches;
    for (size_t begin = 0; begin < n; begin += batch_rows)
        batches.push_back(make_batch(base, dim, begin, std::min(n, begin + batch_rows)));
    cs::milvus::Traffic before = cs::milvus::traffic_of(*store);
    auto start = Clock::now();
    for (const auto& batch : batches) store->insert(name, batch);
    double insert_s = seconds_since(start);
    cs::milvus::Traffic during = cs::milvus::traffic_of(*store);
    start = Clock::now();
    store->flush(name);
    double flush_s = seconds_since(start);
    nlohmann::json out = {{"client", "clipdex"},
                          {"rows", n},
                          {"insert_s", insert_s},
                          {"insert_rpcs", during.calls - before.calls},
                          {"insert_rpc_s", during.rpc_seconds - before.rpc_seconds},
                          {"flush_s", flush_s},
                          {"insert_rows_per_s", double(n) / insert_s},
                          {"count", store->count(name)}};
    std::cout << out.dump() << std::endl;
    return 0;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    size_t at = std::min(values.size() - 1, size_t(p * double(values.size())));
    return values[at];
}

int run_search(char** argv) {
    std::string uri = argv[0], name = argv[1];
    size_t nq = std::stoul(argv[3]), per_call = std::stoul(argv[5]), warmup = std::stoul(argv[8]);
    int dim = std::stoi(argv[4]);
    std::vector<float> queries = read_floats(argv[2], nq * size_t(dim));
    auto store = connect(uri);
    cs::SearchRequest request;
    request.k = std::stoi(argv[6]);
    request.output_fields = split(argv[7], ',');
    auto call = [&](size_t begin) {
        size_t count = std::min(per_call, nq - begin);
        return store->search(
            name, std::span<const float>(queries.data() + begin * size_t(dim), count * size_t(dim)),
            request);
    };
    for (size_t i = 0; i < warmup; ++i) call((i * per_call) % nq);
    std::vector<double> latencies_ms;
    size_t hits = 0;
    auto start = Clock::now();
    for (size_t begin = 0; begin < nq; begin += per_call) {
        auto one = Clock::now();
        for (const auto& list : call(begin)) hits += list.size();
        latencies_ms.push_back(seconds_since(one) * 1000);
    }
    double total_s = seconds_since(start);
    nlohmann::json out = {{"client", "clipdex"},
                          {"queries", nq},
                          {"per_call", per_call},
                          {"hits", hits},
                          {"qps", double(nq) / total_s},
                          {"p50_ms", percentile(latencies_ms, 0.5)},
                          {"p99_ms", percentile(latencies_ms, 0.99)}};
    std::cout << out.dump() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    try {
        if (mode == "insert" && argc == 10) return run_insert(argv + 2);
        if (mode == "search" && argc == 11) return run_search(argv + 2);
    } catch (const clipdex::Error& e) {
        std::cerr << "milvus_bench " << mode << ": " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: milvus_bench insert URI COLLECTION BASE.f32 N DIM BATCH INDEX METRIC\n"
                 "       milvus_bench search URI COLLECTION QUERIES.f32 NQ DIM PER_CALL K FIELDS "
                 "WARMUP\n";
    return 2;
}
