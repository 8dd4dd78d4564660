// clipdex engine: indexing and search on top of a CLIP encoder and a vector store.
//
// Basic usage:
//   clipdex::EngineOptions options;            // ./clipdex.db, ViT-B-32::openai
//   options.model = "/path/to/model-dir";
//   auto engine = clipdex::Engine::open(options);
//   engine->index_directory("photos/", {});    // incremental: unchanged files are skipped
//   for (const auto& hit : engine->search("a golden retriever in snow", 5))
//       std::cout << hit.score << " " << hit.url << "\n";
//
// Row ids: a file's row id comes from its absolute path and fits in 53 bits (1 to 2^53 - 1, so
// JavaScript reads it exactly; on a collision with another row the next id is taken). Ids given
// by callers (add_image, add_image_by_url, add_image_file's `id`) are kept as given. Rows of
// collections indexed before December 2026 (63-bit ids) are found and move to their new id when
// their file is indexed again.
//
// The operation names follow the seeds' Python API (index_directory, add_image_by_url,
// search, get_all_data, get_database_stats, remove_by_id, ...).
//
// Errors: clipdex::Error (clipdex/error.h) naming the file, URL, row or collection at fault.
//
// Thread safety: one Engine serves many threads. Searches run concurrently with each other and
// with indexing; writes are serialised by the store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "clipdex/export.h"
#include "clipdex/embedder.h"
#include "clipdex/store.h"

namespace clipdex {

namespace engine {
struct State;  // the engine's private state (src/engine/engine_state.h)
}

struct EngineOptions {
    std::string db_uri = "./clipdex.db";  // a path (embedded store) or http(s):// (Milvus)
    std::string collection = "clipdex";
    std::string model = "ViT-B-32::openai";  // a registry name, hf-hub:ORG/REPO or a directory
    store::StoreOptions store;
    store::IndexSpec index;           // used when the collection is created
    int threads = 0;                  // 0 = all cores
    bool allow_private_urls = false;  // let add_image_by_url reach loopback / private networks
    uint64_t max_image_bytes = 64ull << 20;
    uint64_t max_image_pixels = 100'000'000;
    // Longer query texts are refused (TooLarge): CLIP reads only its context (77 tokens for most
    // models), and cleaning and tokenizing megabytes would hold a worker for seconds.
    size_t max_text_bytes = 64 << 10;
    DownloadProgressFn download_progress;  // called while a missing model downloads
};

struct SearchHit {
    int64_t id = 0;
    std::string url;
    std::string description;
    float score = 0;  // COSINE / IP: similarity (higher is closer); L2: squared distance
    nlohmann::json extra = nlohmann::json::object();
};

struct IndexProgress {
    size_t done = 0;   // files finished (added, updated, skipped or failed)
    size_t total = 0;  // files found so far; final once discovery ends
    size_t added = 0;
    size_t updated = 0;
    size_t unchanged = 0;
    size_t failed = 0;
    bool discovery_done = false;
};

struct IndexFailure {
    std::string path;
    std::string reason;
};

struct IndexReport {
    IndexProgress counts;
    size_t pruned = 0;
    std::vector<IndexFailure> failures;
    double seconds = 0;
};

struct IndexOptions {
    bool recursive = true;
    bool prune = false;  // remove rows whose files are gone (under the indexed folders)
    int batch_size = 32;
    std::function<void(const IndexProgress&)> progress;  // called from the indexing thread
};

struct UrlImage {
    int64_t id = 0;
    std::string url;
    std::string description;
};

struct UrlAddResult {
    bool ok = false;
    std::string error;  // what failed, naming the URL
    std::string code;   // error_code_name() of the failure ("not_found", "corrupt", ...)
};

// The collection at a glance (GET /stats and `clipdex stats` print these fields under these names).
struct DatabaseStats {
    int64_t total_records = 0;
    std::string collection_name;
    std::string model;  // the model the engine encodes with (as EngineOptions::model names it)
    int dimension = 0;  // of the stored vectors
    store::IndexKind index_type = store::IndexKind::Hnsw;
    store::Metric metric_type = store::Metric::Cosine;
    std::string backend;         // "embedded" or "milvus"
    std::string uri;             // the store's URI
    int64_t bytes_on_disk = -1;  // -1 when the backend cannot tell
    std::string index_state;     // e.g. "ready", "building", "snapshot stale"
};

// The collection's schema and settings (GET /collection/info and `clipdex info`). The fields are
// the fixed schema of clipdex/store.h (id, url, description, vector of spec.dim, added_at,
// updated_at) plus dynamic fields.
struct CollectionDescription {
    store::CollectionSpec spec;  // name, dim, index with its parameters, description, properties
    int64_t num_entities = 0;    // rows
    std::string backend;         // "embedded" or "milvus"
};

// File name or path -> description (seed 002's descriptions JSON).
using Descriptions = std::map<std::string, std::string>;
CLIPDEX_API Descriptions load_descriptions(const std::filesystem::path& json_file);

class CLIPDEX_API Engine {
  public:
    static std::unique_ptr<Engine> open(const EngineOptions& options);
    ~Engine();

    IndexReport index_directory(const std::filesystem::path& dir,
                                const Descriptions& descriptions = {},
                                const IndexOptions& options = {});
    IndexReport index_images(std::span<const std::filesystem::path> paths,
                             const Descriptions& descriptions = {},
                             const IndexOptions& options = {});
    // One file, indexed as index_images indexes it: its row is found by its path (never a
    // second row for one file), unchanged content is not encoded again. `id` puts the row under
    // that id instead of the path's (an existing row of the file moves there; a row of another
    // image under that id is replaced). `description` replaces the stored one; without it the
    // stored one is kept. Returns the row's id. Throws the file's error (NotFound, Corrupt, ...).
    int64_t add_image_file(const std::filesystem::path& path,
                           std::optional<int64_t> id = std::nullopt,
                           std::optional<std::string> description = std::nullopt);
    // Fetches the URL (http/https, size and time limits) and stores it under `id` (replacing).
    void add_image_by_url(int64_t id, const std::string& url, const std::string& description = {});
    void add_image(int64_t id, std::span<const uint8_t> bytes, const std::string& url_or_name,
                   const std::string& description = {});
    // Many URLs at once: fetched and decoded concurrently, encoded in batches, written per batch.
    // One result per image, in input order; a failed image does not stop the others.
    std::vector<UrlAddResult> add_images_by_url(std::span<const UrlImage> images);

    std::vector<SearchHit> search(const std::string& text, int top_k = 10,
                                  const std::string& filter = {});
    std::vector<std::vector<SearchHit>> search_batch(std::span<const std::string> texts,
                                                     int top_k = 10,
                                                     const std::string& filter = {});
    std::vector<SearchHit> search_by_image_file(const std::filesystem::path& path, int top_k = 10,
                                                const std::string& filter = {});
    std::vector<SearchHit> search_by_image_bytes(std::span<const uint8_t> bytes, int top_k = 10,
                                                 const std::string& filter = {});
    std::vector<SearchHit> search_by_image_url(const std::string& url, int top_k = 10,
                                               const std::string& filter = {});
    // A query vector made elsewhere (an Embedder of the same model, L2-normalised as every
    // stored vector is): dim() floats. Another length, a zero or a non-finite one is InvalidInput.
    std::vector<SearchHit> search_by_vector(std::span<const float> vector, int top_k = 10,
                                            const std::string& filter = {});

    std::vector<store::Row> get_all_data(bool include_vectors = false, int64_t limit = -1,
                                         int64_t offset = 0);
    DatabaseStats get_database_stats();
    CollectionDescription collection_info();
    bool remove_by_id(int64_t id);
    void close();

    int dim() const;
    const std::string& model_name() const;

    // A hit's image for display: a file path or an http(s) URL (fetched under the private-address
    // rule and size limit of add_image_by_url), decoded under the engine's limits. Errors are the
    // ones indexing or search_by_image_url would give for the same input.
    RgbImage load_image(const std::string& path_or_url);

  private:
    friend struct engine::State;  // builds engines (src/engine/engine.cpp)
    explicit Engine(std::unique_ptr<engine::State> state);
    std::unique_ptr<engine::State> state_;
};

}  // namespace clipdex
