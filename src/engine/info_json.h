// The JSON of `GET /stats` / `clipdex stats` and `GET /collection/info` / `clipdex info`
// (docs/http-api.md), shaped once here for the HTTP server and the CLI.
#pragma once

#include <nlohmann/json.hpp>

#include "clipdex/engine.h"

namespace clipdex::engine {

// {"total_records", "collection_name", "model", "dimension", "index_type", "metric_type",
//  "backend", "uri", "bytes_on_disk", "index_state"}
nlohmann::json stats_json(const DatabaseStats& stats);

// {"collection_name", "description", "fields": [the fixed schema], "enable_dynamic_field",
//  "index": {"index_type", "metric_type", "params"}, "num_entities", "properties", "backend"}
nlohmann::json collection_json(const CollectionDescription& collection);

}  // namespace clipdex::engine
