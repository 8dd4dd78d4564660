// Search hits as JSON: one shape for the HTTP API's search results and `clipdex search --json`.
//   {"id":7,"url":"/a.png","similarity":0.31,"score":0.31,"description":"…"}
// `similarity` and `score` carry the same number (the old service's name and Milvus's);
// `description` appears only when the row has a non-empty one.
#pragma once

#include <nlohmann/json.hpp>

#include "clipdex/engine.h"

namespace clipdex {

nlohmann::json hit_to_json(const SearchHit& hit);

}  // namespace clipdex
