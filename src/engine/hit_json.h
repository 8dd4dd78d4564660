// Search hits as JSON: one shape for the HTTP API's search results and `clipdex search --json`.
//   {"id":7,"url":"/a.png","similarity":0.31,"score":0.31,"rank":1,"description":"…"}
// `similarity` and `score` carry the same number (the old service's name and Milvus's); `rank`
// is the hit's place in its list, from 1; `description` appears only when the row has a
// non-empty one.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>

#include "clipdex/engine.h"

namespace clipdex {

nlohmann::json hit_to_json(const SearchHit& hit, size_t rank);
// A hit list, best first: an array of hit_to_json with ranks 1, 2, ...
nlohmann::json hits_to_json(std::span<const SearchHit> hits);

}  // namespace clipdex
