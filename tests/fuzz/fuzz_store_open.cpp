// Fuzz target: open a damaged embedded-store file. A valid small database (an HNSW, an IVF_FLAT
// and a FLAT collection, snapshots written) is built once; each input then damages a copy of
// it and the store must open and answer, or fail with clipdex::Error, never crash.
//
// Input: byte 0 = mode (bit 0: truncate), then 5-byte records (uint32 offset LE, xor byte); with
// truncation the last 4 bytes give the new length. Offsets wrap around the file size.
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "clipdex/store.h"

namespace {

namespace fs = std::filesystem;
using namespace clipdex::store;

// Appending (rather than "literal" + std::string) sidesteps a GCC 12 -Wrestrict false positive.
std::string join(std::string a, const std::string& b) {
    a.append(b);
    return a;
}

fs::path work_dir() {
    static fs::path dir = [] {
        auto d = fs::temp_directory_path() /
                 join("clipdex_fuzz_store_open_", std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

std::vector<uint8_t> build_template() {
    auto path = (work_dir() / "template.db").string();
    {
        auto store = open_store(path);
        int n = 0;
        for (IndexKind kind : {IndexKind::Hnsw, IndexKind::IvfFlat, IndexKind::Flat}) {
            CollectionSpec spec;
            spec.name = join("c", std::to_string(n++));
            spec.dim = 4;
            spec.index.kind = kind;
            spec.index.nlist = 2;
            spec.index.m = 4;
            spec.index.ef_construction = 16;
            store->create_collection(spec);
            std::vector<Row> rows;
            for (int64_t id = 0; id < 40; ++id) {
                Row r;
                r.id = id;
                r.url = join("u", std::to_string(id));
                r.vector = {static_cast<float>(id % 7) + 1, static_cast<float>(id % 3), 1.0f,
                            static_cast<float>(id)};
                r.extra = {{"k", id}};
                rows.push_back(r);
            }
            store->insert(spec.name, rows);
            std::vector<int64_t> gone{3, 4};
            store->remove(spec.name, gone);
            store->flush(spec.name);
        }
    }  // closing checkpoints the WAL into the main file
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void exercise(const std::string& path) {
    auto store = open_store(path);
    for (const auto& name : store->list_collections()) {
        try {
            auto info = store->describe_collection(name);
            store->count(name);
            store->query(name, QueryRequest{"", {"*"}, 10, 0});
            std::vector<float> q(static_cast<size_t>(info.spec.dim), 1.0f);
            SearchRequest req;
            req.k = 3;
            store->search(name, q, req);
            std::vector<int64_t> ids{1, 2, 5};
            store->get(name, ids, {"*"});
            store->remove(name, ids);
            store->flush(name);
        } catch (const clipdex::Error&) {
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<uint8_t> base = build_template();
    std::vector<uint8_t> bytes = base;
    if (size > 0 && !bytes.empty()) {
        size_t records_end = size;
        if ((data[0] & 1) && size >= 5) {
            uint32_t length;
            std::memcpy(&length, data + size - 4, 4);
            bytes.resize(std::min<size_t>(bytes.size(), length % (bytes.size() + 1)));
            records_end = size - 4;
        }
        for (size_t i = 1; i + 5 <= records_end && !bytes.empty(); i += 5) {
            uint32_t offset;
            std::memcpy(&offset, data + i, 4);
            bytes[offset % bytes.size()] ^= data[i + 4] ? data[i + 4] : 0xff;
        }
    }
    auto path = work_dir() / "case.db";
    for (const char* suffix : {"", "-wal", "-shm", ".lock"})
        fs::remove(join(path.string(), suffix));
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
    }
    try {
        exercise(path.string());
    } catch (const clipdex::Error&) {
    }
    return 0;
}
