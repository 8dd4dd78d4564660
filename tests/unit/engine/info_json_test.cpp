// The stats and collection JSON of GET /stats, GET /collection/info, `clipdex stats` and
// `clipdex info`: the engine returns structs, and these bytes (docs/http-api.md) must not change.
#include "engine/info_json.h"

#include <gtest/gtest.h>

namespace clipdex {
namespace {

TEST(InfoJson, StatsKeepTheirKeysAndValues) {
    DatabaseStats stats;
    stats.total_records = 3;
    stats.collection_name = "clipdex";
    stats.model = "ViT-B-32::openai";
    stats.dimension = 512;
    stats.index_type = store::IndexKind::IvfFlat;
    stats.metric_type = store::Metric::L2;
    stats.backend = "embedded";
    stats.uri = "./clipdex.db";
    stats.bytes_on_disk = 4096;
    stats.index_state = "ready";
    EXPECT_EQ(engine::stats_json(stats).dump(),
              R"({"backend":"embedded","bytes_on_disk":4096,"collection_name":"clipdex",)"
              R"("dimension":512,"index_state":"ready","index_type":"IVF_FLAT","metric_type":"L2",)"
              R"("model":"ViT-B-32::openai","total_records":3,"uri":"./clipdex.db"})");
}

TEST(InfoJson, CollectionKeepsItsSchemaIndexAndProperties) {
    CollectionDescription collection;
    collection.spec.name = "photos";
    collection.spec.dim = 8;
    collection.spec.description = "my photos";
    collection.spec.properties = {{"clipdex.model", "tiny"}};
    collection.spec.index.kind = store::IndexKind::Hnsw;
    collection.spec.index.m = 12;
    collection.spec.index.ef_construction = 100;
    collection.num_entities = 5;
    collection.backend = "milvus";
    EXPECT_EQ(
        engine::collection_json(collection).dump(),
        R"({"backend":"milvus","collection_name":"photos","description":"my photos",)"
        R"("enable_dynamic_field":true,"fields":[{"is_primary":true,"name":"id","type":"INT64"},)"
        R"({"max_length":2000,"name":"url","type":"VARCHAR"},{"name":"description","type":"VARCHAR"},)"
        R"({"dimension":8,"name":"vector","type":"FLOAT_VECTOR"},)"
        R"({"max_length":50,"name":"added_at","type":"VARCHAR"},)"
        R"({"max_length":50,"name":"updated_at","type":"VARCHAR"}],)"
        R"("index":{"index_type":"HNSW","metric_type":"COSINE","params":{"M":12,"efConstruction":100}},)"
        R"("num_entities":5,"properties":{"clipdex.model":"tiny"}})");

    collection.spec.index.kind = store::IndexKind::IvfFlat;
    collection.spec.index.nlist = 64;
    EXPECT_EQ(engine::collection_json(collection)["index"].dump(),
              R"({"index_type":"IVF_FLAT","metric_type":"COSINE","params":{"nlist":64}})");
    collection.spec.index.kind = store::IndexKind::Flat;
    EXPECT_EQ(engine::collection_json(collection)["index"].dump(),
              R"({"index_type":"FLAT","metric_type":"COSINE"})");
}

}  // namespace
}  // namespace clipdex
