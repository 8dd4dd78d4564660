// Embedded store benchmark: insert throughput, open time, search QPS (1 and 2 client threads),
// p50/p99 latency at k=10, recall@10 against exact search, peak RSS and bytes on disk.
//
//   store_bench --n 100000 --dim 512 --nq 1000 --dist uniform|clustered --index HNSW
//               --db /tmp/bench.db [--dump DIR] [--m 16 --efc 200 --ef 64 --nlist 1024 --nprobe 16]
//
// Prints one JSON object. With --dump, the base vectors, queries and exact top-10 are written to
// DIR (raw float32 / int64) so bench/store_bench.py can run faiss and hnswlib on the same data;
// an existing dump is reused instead of regenerated.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "clipdex/store.h"

namespace {

namespace fs = std::filesystem;
using namespace clipdex::store;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Options {
    int64_t n = 100000;
    int dim = 512;
    int64_t nq = 1000;
    std::string dist = "uniform";
    std::string index = "HNSW";
    std::string db = "/tmp/clipdex_store_bench.db";
    std::string dump;
    int m = 16, efc = 200, ef = 64, nlist = 1024, nprobe = 16;
};

Options parse(int argc, char** argv) {
    Options o;
    std::map<std::string, std::string> args;
    for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
    auto num = [&](const char* key, auto& field) {
        if (args.count(key)) field = static_cast<std::remove_reference_t<decltype(field)>>(std::stoll(args[key]));
    };
    num("--n", o.n);
    num("--dim", o.dim);
    num("--nq", o.nq);
    num("--m", o.m);
    num("--efc", o.efc);
    num("--ef", o.ef);
    num("--nlist", o.nlist);
    num("--nprobe", o.nprobe);
    if (args.count("--dist")) o.dist = args["--dist"];
    if (args.count("--index")) o.index = args["--index"];
    if (args.count("--db")) o.db = args["--db"];
    if (args.count("--dump")) o.dump = args["--dump"];
    return o;
}

// Uniform: components U(-1, 1). Clustered: a mixture of 256 Gaussians (sigma 0.35 around
// N(0, 1) centres), closer to what image embeddings look like.
std::vector<float> generate(const Options& o, int64_t count, uint64_t seed) {
    std::vector<float> data(static_cast<size_t>(count) * static_cast<size_t>(o.dim));
    std::mt19937_64 rng(seed);
    if (o.dist == "uniform") {
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (auto& x : data) x = u(rng);
        return data;
    }
    std::mt19937_64 centre_rng(12345);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int clusters = 256;
    std::vector<float> centres(static_cast<size_t>(clusters) * static_cast<size_t>(o.dim));
    for (auto& x : centres) x = normal(centre_rng);
    std::uniform_int_distribution<int> pick(0, clusters - 1);
    for (int64_t i = 0; i < count; ++i) {
        const float* c = centres.data() + static_cast<size_t>(pick(rng)) * static_cast<size_t>(o.dim);
        for (int j = 0; j < o.dim; ++j) data[static_cast<size_t>(i * o.dim + j)] = c[j] + 0.35f * normal(rng);
    }
    return data;
}

std::vector<float> normalized(std::vector<float> v, int dim) {
    for (size_t i = 0; i < v.size(); i += static_cast<size_t>(dim)) {
        double s = 0;
        for (int j = 0; j < dim; ++j) s += static_cast<double>(v[i + static_cast<size_t>(j)]) * v[i + static_cast<size_t>(j)];
        float inv = static_cast<float>(1.0 / std::sqrt(s));
        for (int j = 0; j < dim; ++j) v[i + static_cast<size_t>(j)] *= inv;
    }
    return v;
}

// Exact cosine top-10 per query, two threads.
std::vector<int64_t> ground_truth(const Options& o, const std::vector<float>& base, const std::vector<float>& queries) {
    auto nb = normalized(base, o.dim), nqv = normalized(queries, o.dim);
    std::vector<int64_t> gt(static_cast<size_t>(o.nq) * 10);
    auto work = [&](int64_t begin, int64_t end) {
        std::vector<std::pair<float, int64_t>> scores(static_cast<size_t>(o.n));
        for (int64_t q = begin; q < end; ++q) {
            const float* qv = nqv.data() + q * o.dim;
            for (int64_t i = 0; i < o.n; ++i) {
                const float* v = nb.data() + i * o.dim;
                float s = 0;
                for (int j = 0; j < o.dim; ++j) s += qv[j] * v[j];
                scores[static_cast<size_t>(i)] = {-s, i};
            }
            std::partial_sort(scores.begin(), scores.begin() + 10, scores.end());
            for (int r = 0; r < 10; ++r) gt[static_cast<size_t>(q * 10 + r)] = scores[static_cast<size_t>(r)].second;
        }
    };
    std::thread t(work, 0, o.nq / 2);
    work(o.nq / 2, o.nq);
    t.join();
    return gt;
}

template <typename T>
void write_raw(const fs::path& path, const std::vector<T>& v) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

template <typename T>
bool read_raw(const fs::path& path, std::vector<T>& v, size_t count) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    v.resize(count);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T)));
    return static_cast<size_t>(in.gcount()) == count * sizeof(T);
}

int64_t peak_rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

int64_t disk_bytes(const std::string& db) {
    int64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
        std::error_code ec;
        auto size = fs::file_size(db + suffix, ec);
        if (!ec) total += static_cast<int64_t>(size);
    }
    return total;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    std::vector<float> base, queries;
    std::vector<int64_t> gt;
    fs::path dump = o.dump;
    bool have_dump = !o.dump.empty() && read_raw(dump / "base.f32", base, static_cast<size_t>(o.n * o.dim)) &&
                     read_raw(dump / "queries.f32", queries, static_cast<size_t>(o.nq * o.dim)) &&
                     read_raw(dump / "gt.i64", gt, static_cast<size_t>(o.nq * 10));
    if (!have_dump) {
        base = generate(o, o.n, 1);
        queries = generate(o, o.nq, 2);
        gt = ground_truth(o, base, queries);
        if (!o.dump.empty()) {
            fs::create_directories(dump);
            write_raw(dump / "base.f32", base);
            write_raw(dump / "queries.f32", queries);
            write_raw(dump / "gt.i64", gt);
        }
    }
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) fs::remove(o.db + suffix);

    nlohmann::json result = {{"engine", "clipdex"}, {"index", o.index}, {"dist", o.dist}, {"n", o.n}, {"dim", o.dim}, {"nq", o.nq}};
    {
        auto store = open_store(o.db);
        CollectionSpec spec;
        spec.name = "bench";
        spec.dim = o.dim;
        spec.index.kind = parse_index_kind(o.index);
        spec.index.metric = Metric::Cosine;
        spec.index.m = o.m;
        spec.index.ef_construction = o.efc;
        spec.index.nlist = o.nlist;
        store->create_collection(spec);
        auto t = Clock::now();
        const int64_t batch = 10000;
        for (int64_t first = 0; first < o.n; first += batch) {
            std::vector<Row> rows;
            for (int64_t i = first; i < std::min(o.n, first + batch); ++i) {
                Row r;
                r.id = i;
                r.url = "/images/" + std::to_string(i) + ".jpg";
                r.vector.assign(base.begin() + i * o.dim, base.begin() + (i + 1) * o.dim);
                rows.push_back(std::move(r));
            }
            store->insert("bench", rows);
        }
        double insert_s = seconds_since(t);
        t = Clock::now();
        store->flush("bench");
        result["insert_rows_per_s"] = static_cast<double>(o.n) / insert_s;
        result["build_s"] = insert_s;
        result["snapshot_s"] = seconds_since(t);
    }
    result["bytes_on_disk"] = disk_bytes(o.db);
    result["raw_vector_bytes"] = o.n * o.dim * 4;

    auto t = Clock::now();
    auto store = open_store(o.db);
    SearchRequest req;
    req.k = 10;
    req.params.ef = o.ef;
    req.params.nprobe = o.nprobe;
    req.output_fields = {"id"};
    std::vector<float> first(queries.begin(), queries.begin() + o.dim);
    store->search("bench", first, req);  // loading happens on first use
    result["open_s"] = seconds_since(t);

    std::vector<double> latency(static_cast<size_t>(o.nq));
    std::vector<int64_t> found(static_cast<size_t>(o.nq * 10), -1);
    auto run = [&](int64_t begin, int64_t end, int64_t step) {
        for (int64_t q = begin; q < end; q += step) {
            std::vector<float> v(queries.begin() + q * o.dim, queries.begin() + (q + 1) * o.dim);
            auto s = Clock::now();
            auto hits = store->search("bench", v, req);
            latency[static_cast<size_t>(q)] = seconds_since(s) * 1000;
            for (size_t r = 0; r < hits[0].size() && r < 10; ++r) found[static_cast<size_t>(q * 10) + r] = hits[0][r].row.id;
        }
    };
    t = Clock::now();
    run(0, o.nq, 1);
    result["qps_1"] = static_cast<double>(o.nq) / seconds_since(t);
    result["p50_ms"] = percentile(latency, 0.5);
    result["p99_ms"] = percentile(latency, 0.99);
    int64_t hit = 0;
    for (int64_t q = 0; q < o.nq; ++q)
        for (int r = 0; r < 10; ++r)
            hit += std::count(gt.begin() + q * 10, gt.begin() + q * 10 + 10, found[static_cast<size_t>(q * 10 + r)]);
    result["recall_at_10"] = static_cast<double>(hit) / static_cast<double>(o.nq * 10);
    t = Clock::now();
    std::thread other(run, 1, o.nq, 2);
    run(0, o.nq, 2);
    other.join();
    result["qps_2"] = static_cast<double>(o.nq) / seconds_since(t);
    result["peak_rss_mib"] = static_cast<double>(peak_rss_kib()) / 1024.0;
    std::printf("%s\n", result.dump().c_str());
    return 0;
}
