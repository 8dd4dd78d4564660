// Fills and dumps a collection of any store backend, for tests/integration/test_migrate.py:
//   store_fill fill URI COLLECTION ROWS DIM [SEED]  creates COLLECTION (IVF_FLAT, COSINE, with
//       properties) and inserts ROWS rows with unicode urls, dynamic fields and odd floats
//   store_fill dump URI COLLECTION                   prints the spec, then one JSON line per row in
//       id order; vectors as the hex of their little-endian float32 bytes, so compares are exact
//   store_fill move URI COLLECTION FROM:TO...         puts row FROM under id TO, whole (vector,
//       added_at, dynamic fields), as collections made with other id rules hold them
//       (tests/integration/test_cli_ids.py makes a collection of the old 63-bit file ids)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "clipdex/store.h"

namespace cs = clipdex::store;
using nlohmann::json;

namespace {

cs::CollectionSpec fill_spec(const std::string& name, int dim) {
    cs::CollectionSpec spec;
    spec.name = name;
    spec.dim = dim;
    spec.index.kind = cs::IndexKind::IvfFlat;
    spec.index.metric = cs::Metric::Cosine;
    spec.index.nlist = 16;
    spec.description = "migrate source 表情";
    spec.properties = {{"clipdex.model", "emoji-clip-tiny"}, {"clipdex.note", "ünïcode ✓"}};
    return spec;
}

cs::Row fill_row(int i, int dim, std::mt19937& rng) {
    std::uniform_real_distribution<float> uniform(-1, 1);
    cs::Row row;
    row.id = int64_t{i} * 104729 - 50000;
    row.url = "https://例子.测试/图片/" + std::to_string(i) + " 🐱 é.svg";
    row.description = i % 4 == 0 ? "" : "emoji \"" + std::to_string(i) + "\" 😀";
    row.added_at = "2025-03-" + std::to_string(10 + i % 18) + "T08:00:00.001Z";
    row.updated_at = "2026-04-" + std::to_string(10 + i % 18) + "T09:30:00.999Z";
    for (int j = 0; j < dim; ++j) row.vector.push_back(uniform(rng));
    if (i % 7 == 0) row.vector[0] = -0.0f;
    if (i % 11 == 0) row.vector[dim - 1] = std::numeric_limits<float>::denorm_min();
    row.extra = {
        {"size", i * 13}, {"tag", i % 2 ? "odd" : "even"}, {"ratio", i / 7.0}, {"标签", "猫"}};
    if (i % 5 == 0) row.extra["flags"] = {true, false};
    return row;
}

int fill(const std::string& uri, const std::string& collection, int rows, int dim, uint32_t seed) {
    auto store = cs::open_store(uri);
    store->create_collection(fill_spec(collection, dim));
    std::mt19937 rng(seed);
    std::vector<cs::Row> batch;
    for (int i = 0; i < rows; ++i) {
        batch.push_back(fill_row(i, dim, rng));
        if (batch.size() == 500 || i + 1 == rows) {
            store->insert(collection, batch);
            batch.clear();
        }
    }
    store->flush(collection);
    return 0;
}

std::string hex_of(const std::vector<float>& vector) {
    static const char* const kDigits = "0123456789abcdef";
    std::string out;
    const auto* bytes = reinterpret_cast<const unsigned char*>(vector.data());
    for (size_t i = 0; i < vector.size() * sizeof(float); ++i) {
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 15];
    }
    return out;
}

int dump(const std::string& uri, const std::string& collection) {
    cs::StoreOptions options;
    options.read_only = true;
    auto store = cs::open_store(uri, options);
    const cs::CollectionSpec spec = store->describe_collection(collection).spec;
    std::cout << json{{"dim", spec.dim},
                      {"metric", std::string(cs::metric_name(spec.index.metric))},
                      {"index", std::string(cs::index_kind_name(spec.index.kind))},
                      {"description", spec.description},
                      {"properties", spec.properties}}
              << "\n";
    cs::QueryRequest request;
    request.output_fields = {"*"};
    for (const cs::Row& row : store->query(collection, request)) {
        std::cout << json{{"id", row.id},
                          {"url", row.url},
                          {"description", row.description},
                          {"added_at", row.added_at},
                          {"updated_at", row.updated_at},
                          {"extra", row.extra},
                          {"vector", hex_of(row.vector)}}
                  << "\n";
    }
    return 0;
}

int move_rows(const std::string& uri, const std::string& collection, int count, char** pairs) {
    auto store = cs::open_store(uri);
    std::vector<int64_t> from, to;
    for (int i = 0; i < count; ++i) {
        const std::string pair = pairs[i];
        const size_t colon = pair.find(':');
        if (colon == std::string::npos) throw std::invalid_argument("FROM:TO expected: " + pair);
        from.push_back(std::stoll(pair.substr(0, colon)));
        to.push_back(std::stoll(pair.substr(colon + 1)));
    }
    std::vector<cs::Row> rows = store->get(collection, from, {"*"});
    if (rows.size() != from.size()) {
        std::cerr << "store_fill: only " << rows.size() << " of " << from.size() << " rows exist\n";
        return 1;
    }
    for (size_t i = 0; i < rows.size(); ++i) rows[i].id = to[i];  // get keeps the ids' order
    store->remove(collection, from);
    store->insert(collection, rows);
    store->flush(collection);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    try {
        if (mode == "fill" && (argc == 6 || argc == 7)) {
            return fill(argv[2], argv[3], std::stoi(argv[4]), std::stoi(argv[5]),
                        argc == 7 ? static_cast<uint32_t>(std::stoul(argv[6])) : 1u);
        }
        if (mode == "dump" && argc == 4) return dump(argv[2], argv[3]);
        if (mode == "move" && argc >= 5) return move_rows(argv[2], argv[3], argc - 4, argv + 4);
    } catch (const clipdex::Error& e) {
        std::cerr << "store_fill: " << clipdex::error_code_name(e.code()) << ": " << e.what()
                  << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "store_fill: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: store_fill fill URI COLLECTION ROWS DIM [SEED] | store_fill dump URI "
                 "COLLECTION | store_fill move URI COLLECTION FROM:TO...\n";
    return 2;
}
