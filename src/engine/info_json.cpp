#include "engine/info_json.h"

namespace clipdex::engine {

nlohmann::json stats_json(const DatabaseStats& stats) {
    return {{"total_records", stats.total_records},
            {"collection_name", stats.collection_name},
            {"model", stats.model},
            {"dimension", stats.dimension},
            {"index_type", store::index_kind_name(stats.index_type)},
            {"metric_type", store::metric_name(stats.metric_type)},
            {"backend", stats.backend},
            {"uri", stats.uri},
            {"bytes_on_disk", stats.bytes_on_disk},
            {"index_state", stats.index_state}};
}

nlohmann::json collection_json(const CollectionDescription& collection) {
    const store::CollectionSpec& spec = collection.spec;
    nlohmann::json fields = nlohmann::json::array({
        {{"name", "id"}, {"type", "INT64"}, {"is_primary", true}},
        {{"name", "url"}, {"type", "VARCHAR"}, {"max_length", store::kMaxUrlBytes}},
        {{"name", "description"}, {"type", "VARCHAR"}},
        {{"name", "vector"}, {"type", "FLOAT_VECTOR"}, {"dimension", spec.dim}},
        {{"name", "added_at"}, {"type", "VARCHAR"}, {"max_length", store::kMaxTimestampBytes}},
        {{"name", "updated_at"}, {"type", "VARCHAR"}, {"max_length", store::kMaxTimestampBytes}},
    });
    nlohmann::json index = {{"index_type", store::index_kind_name(spec.index.kind)},
                            {"metric_type", store::metric_name(spec.index.metric)}};
    if (spec.index.kind == store::IndexKind::IvfFlat)
        index["params"] = {{"nlist", spec.index.nlist}};
    if (spec.index.kind == store::IndexKind::Hnsw)
        index["params"] = {{"M", spec.index.m}, {"efConstruction", spec.index.ef_construction}};
    return {{"collection_name", spec.name},
            {"description", spec.description},
            {"fields", fields},
            {"enable_dynamic_field", true},
            {"index", index},
            {"num_entities", collection.num_entities},
            {"properties", spec.properties},
            {"backend", collection.backend}};
}

}  // namespace clipdex::engine
