// clipdex vector store: one interface, two backends chosen by a URI (as pymilvus does).
//
//   auto store = clipdex::store::open_store("./clipdex.db");          // embedded, one file
//   auto store = clipdex::store::open_store("http://127.0.0.1:19530"); // a Milvus server
//
// Schema of every collection (field names follow seed 001, so existing Milvus collections and
// tools keep working):
//   id INT64 primary | url VARCHAR(2000) | description VARCHAR | vector FLOAT_VECTOR(dim)
//   added_at, updated_at VARCHAR(50) ISO-8601 UTC | dynamic fields (JSON object)
//
// Data layout: a batch of n query vectors is n*dim floats, component j of vector i at
// queries[i*dim + j]. Vectors are stored bit-exact as given; COSINE normalises internally.
//
// Filters are Milvus boolean expressions (`id in [1,2]`, `url like "%cat%"`,
// `added_at > "2025-01-01" and not (size < 10)`), the same text on both backends.
//
// Thread safety: a Store may be shared by many threads. Reads run concurrently; writes are
// serialised. Every method throws clipdex::Error (see error.h) naming the collection, field or
// row at fault.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "clipdex/export.h"

namespace clipdex::store {

// Names of the fixed schema fields.
inline constexpr const char* kFieldId = "id";
inline constexpr const char* kFieldUrl = "url";
inline constexpr const char* kFieldDescription = "description";
inline constexpr const char* kFieldVector = "vector";
inline constexpr const char* kFieldAddedAt = "added_at";
inline constexpr const char* kFieldUpdatedAt = "updated_at";
inline constexpr size_t kMaxUrlBytes = 2000;
inline constexpr size_t kMaxDescriptionBytes =
    65535;  // Milvus's VARCHAR bound, kept by both stores
inline constexpr size_t kMaxTimestampBytes = 50;

enum class Metric { Cosine, InnerProduct, L2 };
enum class IndexKind { Flat, IvfFlat, Hnsw, AutoIndex };

// "COSINE" / "IP" / "L2" and "FLAT" / "IVF_FLAT" / "HNSW" / "AUTOINDEX", as Milvus spells them.
CLIPDEX_API std::string_view metric_name(Metric metric);
CLIPDEX_API Metric parse_metric(std::string_view name);  // case-insensitive; throws InvalidInput
CLIPDEX_API std::string_view index_kind_name(IndexKind kind);
CLIPDEX_API IndexKind parse_index_kind(std::string_view name);

struct IndexSpec {
    IndexKind kind = IndexKind::Hnsw;
    Metric metric = Metric::Cosine;
    int nlist = 1024;           // IVF_FLAT: number of clusters
    int m = 16;                 // HNSW: links per node
    int ef_construction = 200;  // HNSW: candidate list size while building
};

struct CollectionSpec {
    std::string name;  // letters, digits and '_', starting with a letter or '_' (Milvus rule)
    int dim = 0;       // vector dimension, always from the model
    IndexSpec index;
    std::string description;
    // Free-form settings kept with the collection, e.g. {"clipdex.model": "ViT-B-32::openai"}.
    std::map<std::string, std::string> properties;
};

struct Row {
    int64_t id = 0;
    std::string url;
    std::string description;
    std::vector<float> vector;                        // empty when not requested
    std::string added_at;                             // filled by the store when empty on insert
    std::string updated_at;                           // set by the store on every write when empty
    nlohmann::json extra = nlohmann::json::object();  // dynamic fields
};

// A partial update of one row: only the fields given change. The vector is never touched (no
// re-indexing), added_at is kept and updated_at is set to now.
struct RowPatch {
    int64_t id = 0;
    std::optional<std::string> url;
    std::optional<std::string> description;
    // Dynamic fields merged into the row's: a key named here gets this value, keys not named
    // stay as they are. No key is removed (Milvus Lite's upsert merges dynamic fields, so the
    // Milvus backend could not promise a removal).
    nlohmann::json extra = nlohmann::json::object();
};

// Output field selection: empty = every scalar field (fixed and dynamic) but not the vector;
// otherwise the named fields ("vector" included only when named; "*" = everything). The id is
// always returned.
using FieldList = std::vector<std::string>;

struct QueryRequest {
    std::string filter;  // empty = all rows
    FieldList output_fields;
    int64_t limit = -1;  // -1 = no limit
    int64_t offset = 0;  // rows come in ascending id order
};

struct SearchParams {
    int nprobe = 16;  // IVF_FLAT clusters visited
    int ef = 64;      // HNSW candidate list size (raised to k when smaller)
};

struct SearchRequest {
    int k = 10;
    std::string filter;  // a filtered search still returns k hits when >= k rows match
    FieldList output_fields;
    SearchParams params;
};

struct Hit {
    Row row;
    // COSINE and IP: similarity, higher is closer. L2: squared distance, lower is closer.
    float score = 0;
};

struct CollectionInfo {
    CollectionSpec spec;
    int64_t row_count = 0;
};

struct CollectionStats {
    int64_t row_count = 0;
    int64_t bytes_on_disk = -1;  // -1 when the backend cannot tell
    std::string index_state;     // e.g. "ready", "building", "snapshot stale"
};

class CLIPDEX_API Store {
  public:
    virtual ~Store() = default;

    virtual std::string uri() const = 0;
    virtual std::string backend_name() const = 0;  // "embedded" or "milvus"

    virtual std::vector<std::string> list_collections() = 0;
    virtual bool has_collection(const std::string& name) = 0;
    virtual void create_collection(const CollectionSpec& spec) = 0;  // AlreadyExists if present
    virtual void drop_collection(const std::string& name) = 0;       // NotFound if absent
    virtual CollectionInfo describe_collection(const std::string& name) = 0;
    // Sets the named properties of an existing collection (added or replaced); properties not
    // named stay as they are. NotFound if the collection is absent; refused on a read-only store;
    // Unsupported by a Milvus server without AlterCollection (Milvus Lite 2.5).
    virtual void set_properties(const std::string& name,
                                const std::map<std::string, std::string>& properties) = 0;
    virtual CollectionStats stats(const std::string& collection) = 0;

    // Writes are atomic per call: all rows or none. insert refuses ids already present
    // (AlreadyExists); upsert replaces them, keeping their added_at.
    virtual void insert(const std::string& collection, std::span<const Row> rows) = 0;
    virtual void upsert(const std::string& collection, std::span<const Row> rows) = 0;
    // Applies the patches (atomically, like the writes above) to the rows that exist; ids not in
    // the collection are skipped. Returns the number of rows changed. Limits and field names are
    // checked as for insert.
    virtual int64_t update(const std::string& collection, std::span<const RowPatch> patches) = 0;
    // Return the number of rows removed.
    virtual int64_t remove(const std::string& collection, std::span<const int64_t> ids) = 0;
    virtual int64_t remove_where(const std::string& collection, const std::string& filter) = 0;

    // Rows for the ids that exist, in the order of `ids`.
    virtual std::vector<Row> get(const std::string& collection, std::span<const int64_t> ids,
                                 const FieldList& output_fields = {}) = 0;
    virtual std::vector<Row> query(const std::string& collection, const QueryRequest& request) = 0;
    virtual int64_t count(const std::string& collection, const std::string& filter = "") = 0;

    // One hit list per query vector, best first, at most k each.
    virtual std::vector<std::vector<Hit>> search(const std::string& collection,
                                                 std::span<const float> queries,
                                                 const SearchRequest& request) = 0;

    // Makes every acknowledged write durable and visible everywhere (Milvus: flush).
    virtual void flush(const std::string& collection) = 0;
};

// Who holds an embedded store for writing. The writer records it as one JSON line in the lock
// file (PATH.lock) while it holds the lock; find_writer reads it back.
struct WriterInfo {
    int64_t pid = 0;      // 0 when the holder left no readable owner line (an older clipdex)
    std::string program;  // e.g. "clipdex serve"; empty = the process's name (/proc/self/comm)
    std::string url;      // the base URL of the holder's HTTP API, when it serves one
    bool token_required = false;  // that API wants "Authorization: Bearer TOKEN"
};

struct StoreOptions {
    std::string token;    // Milvus: API key or "user:password"
    std::string db_name;  // Milvus database; empty = "default"
    bool read_only = false;
    double timeout_seconds = 30;  // per remote call
    // Embedded writer: what it records about itself in the lock file (the pid is always its
    // own). Readers and Milvus ignore it.
    WriterInfo writer;
};

// A path (or "file:PATH") opens the embedded store; http:// or https:// a Milvus server.
// Defined in src/store/open/, the one module above both backends.
CLIPDEX_API std::unique_ptr<Store> open_store(const std::string& uri,
                                              const StoreOptions& options = {});

// The process that holds the embedded store at `uri` for writing, or nullopt when none does (no
// lock file, or its lock is free: an owner line left by a dead process is ignored). Milvus URIs
// have no single writer: always nullopt. Never creates anything.
CLIPDEX_API std::optional<WriterInfo> find_writer(const std::string& uri);

// ISO-8601 UTC timestamp with milliseconds, e.g. "2026-11-23T20:01:02.345Z".
CLIPDEX_API std::string utc_timestamp_now();

}  // namespace clipdex::store
