// Translation between clipdex's rows and specs and Milvus's protocol messages. Pure functions,
// no I/O, so that the wire format is tested without a server.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "clipdex/store.h"
#include "milvus_service.pb.h"

namespace clipdex::store::milvus {

namespace pb = ::milvus::proto::milvus;
namespace pbc = ::milvus::proto::common;
namespace pbs = ::milvus::proto::schema;

inline constexpr const char* kDynamicField = "$meta";
inline constexpr int64_t kDescriptionMaxBytes = static_cast<int64_t>(kMaxDescriptionBytes);
// Milvus refuses a query whose limit + offset exceed this (quotaAndLimits.maxQueryResultWindow).
inline constexpr int64_t kMaxQueryWindow = 16384;
// Requests stay well below the server's 64 MB gRPC receive limit.
inline constexpr size_t kMaxRequestBytes = 32u << 20;

// Milvus's collection name rule; throws Error(InvalidInput) naming the name.
void check_collection_name(const std::string& name);

// Seed 001's schema with the dynamic field enabled.
pbs::CollectionSchema build_schema(const CollectionSpec& spec);
std::vector<pbc::KeyValuePair> collection_properties(const CollectionSpec& spec);
std::vector<pbc::KeyValuePair> index_params(const IndexSpec& index);
// A FLAT index standing in for one the server refuses (Milvus Lite knows no HNSW); the index
// asked for is kept among its params, so that describe reports the collection as created.
inline constexpr const char* kRequestedIndexKey = "clipdex.index_type";
std::vector<pbc::KeyValuePair> flat_stand_in(const IndexSpec& index);

// Reads back what build_schema / index_params wrote (or what pymilvus created).
CollectionSpec spec_from_description(const pb::DescribeCollectionResponse& collection,
                                     const pb::DescribeIndexResponse* index);

// The fields a collection really has: clipdex's own collections have all of seed 001's plus
// `description` and dynamic fields; one made by other tools may lack some. A fixed field the
// schema lacks travels as a key of the dynamic field when there is one.
struct Layout {
    int dim = 0;
    bool dynamic = true;
    std::set<std::string> fields;  // scalar field names present, "id" and "vector" included
    bool has(const std::string& name) const { return fields.count(name) != 0; }
};
Layout layout_of(const pbs::CollectionSchema& schema);
Layout full_layout(int dim);
// Checks the rows against the schema and fills empty timestamps with `now`.
std::vector<Row> prepare_rows(const std::string& collection, std::span<const Row> rows,
                              const Layout& layout, const std::string& now);

// Estimated encoded size of one row in an insert request.
size_t row_wire_bytes(const Row& row);
// Consecutive [begin, end) ranges of rows, each under max_bytes (a lone larger row gets its own).
std::vector<std::pair<size_t, size_t>> split_batches(std::span<const Row> rows, size_t max_bytes);

// The columns of an insert or upsert request.
void encode_rows(std::span<const Row> rows, const Layout& layout,
                 google::protobuf::RepeatedPtrField<pbs::FieldData>* columns);

// What to ask the server for, and how to trim what comes back, for a FieldList.
struct OutputPlan {
    std::vector<std::string> server_fields;  // always includes "id"
    bool vector = false;
    bool want_dynamic = true;            // read the dynamic field at all
    bool all_dynamic = true;             // every key of the dynamic field
    std::set<std::string> dynamic_keys;  // when !all_dynamic
};
OutputPlan plan_output(const FieldList& fields, const Layout& layout);

// Rows from result columns (query results, or search hits in order); ids from the `id` column
// or, for search, from `ids`.
std::vector<Row> decode_rows(const google::protobuf::RepeatedPtrField<pbs::FieldData>& columns,
                             const OutputPlan& plan, const Layout& layout, const pbs::IDs* ids,
                             size_t count);

// The number of rows in a Query answer: the length of its `id` column (0 without one).
size_t result_count(const google::protobuf::RepeatedPtrField<pbs::FieldData>& columns);

// The hits of a Search answer for n queries, in the answer's order: topks[q] hits for query q,
// rows from decode_rows over the answer's ids, scores from its scores. Throws Error(Corrupt)
// naming the collection when the answer holds fewer scores or column values than ids.
std::vector<std::vector<Hit>> decode_hits(const pbs::SearchResultData& result, size_t n,
                                          const OutputPlan& plan, const Layout& layout,
                                          const std::string& collection);

// The serialized PlaceholderGroup for n = queries.size() / dim float vectors.
std::string placeholder_group(std::span<const float> queries, int dim);

std::string id_list_expr(std::span<const int64_t> ids);
std::string and_expr(const std::string& left, const std::string& right);

}  // namespace clipdex::store::milvus
