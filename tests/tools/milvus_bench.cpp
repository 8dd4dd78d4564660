// Insert throughput and search latency of the Milvus backend, to set beside pymilvus's
// (tests/integration/milvus_bench_pymilvus.py) on the same server:
//   milvus_bench URI ROWS DIM QUERIES   -> one JSON line
#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "store/milvus/milvus_store.h"

namespace cs = clipdex::store;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<float> random_unit_vectors(size_t n, int dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> data(n * size_t(dim));
    for (size_t i = 0; i < n; ++i) {
        float norm = 0;
        for (int j = 0; j < dim; ++j) norm += (data[i * dim + j] = normal(rng)) * data[i * dim + j];
        norm = std::sqrt(norm);
        for (int j = 0; j < dim; ++j) data[i * dim + j] /= norm;
    }
    return data;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: milvus_bench URI ROWS DIM QUERIES\n";
        return 2;
    }
    try {
        size_t rows = std::stoul(argv[2]);
        int dim = std::stoi(argv[3]);
        size_t queries = std::stoul(argv[4]);
        cs::StoreOptions options;
        options.timeout_seconds = 120;
        auto store = cs::milvus::open_milvus_store(argv[1], options);
        cs::CollectionSpec spec;
        spec.name = "bench_clipdex";
        spec.dim = dim;
        spec.index.kind = cs::IndexKind::Flat;
        spec.index.metric = cs::Metric::InnerProduct;
        if (store->has_collection(spec.name)) store->drop_collection(spec.name);
        store->create_collection(spec);

        std::vector<float> data = random_unit_vectors(rows, dim, 1);
        auto start = Clock::now();
        constexpr size_t kBatch = 5000;
        for (size_t begin = 0; begin < rows; begin += kBatch) {
            std::vector<cs::Row> batch;
            for (size_t i = begin; i < std::min(rows, begin + kBatch); ++i) {
                cs::Row row;
                row.id = int64_t(i);
                row.url = "/bench/" + std::to_string(i) + ".jpg";
                row.vector.assign(data.begin() + i * dim, data.begin() + (i + 1) * dim);
                batch.push_back(std::move(row));
            }
            store->insert(spec.name, batch);
        }
        double insert_seconds = seconds_since(start);
        store->flush(spec.name);

        std::vector<float> probes = random_unit_vectors(queries, dim, 2);
        std::vector<double> latencies;
        cs::SearchRequest request;
        request.k = 10;
        request.output_fields = {"url"};
        start = Clock::now();
        for (size_t q = 0; q < queries; ++q) {
            auto one = Clock::now();
            store->search(spec.name, std::span<const float>(probes.data() + q * dim, size_t(dim)), request);
            latencies.push_back(seconds_since(one) * 1000);
        }
        double search_seconds = seconds_since(start);
        std::sort(latencies.begin(), latencies.end());
        store->drop_collection(spec.name);
        nlohmann::json out = {{"client", "clipdex"}, {"rows", rows}, {"dim", dim},
                              {"insert_rows_per_s", double(rows) / insert_seconds},
                              {"search_qps", double(queries) / search_seconds},
                              {"search_p50_ms", latencies[latencies.size() / 2]}};
        std::cout << out.dump() << std::endl;
    } catch (const clipdex::Error& e) {
        std::cerr << "milvus_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
