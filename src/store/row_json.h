// Rows as JSON: one shape for every face that prints or reads rows (the HTTP API's
// /api/milvus/data, `clipdex list --json`, the Milvus test tool). It is the HTTP API's shape,
// which is also how Milvus itself returns rows: the fixed fields by name, the dynamic fields
// (Row::extra) flattened beside them, the vector only when asked for:
//   {"id":7,"url":"/a.png","description":"","added_at":"…Z","updated_at":"…Z",
//    "source":"file","width":64,…,"vector":[…]}
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>

#include "clipdex/store.h"

namespace clipdex::store {

// The fixed fields win over a dynamic field of the same name (the stores refuse such fields on
// write; a collection made by another Milvus client could still hold one).
nlohmann::json row_to_json(const Row& row, bool include_vector);

// The inverse: "id" (required, an integer), "url", "description", "added_at", "updated_at"
// (strings), "vector" (numbers); every other key becomes a dynamic field. A wrong type is
// InvalidInput naming the row and the field.
Row row_from_json(const nlohmann::json& object);

// An estimate of row_to_json(row, include_vector).dump().size() that renders nothing, for
// paging: floats print in at most 16 characters and twice a string's bytes covers the common
// escapes (control characters, 6 bytes each as \u00XX, can pass it).
size_t row_json_bytes_estimate(const Row& row, bool include_vector);

}  // namespace clipdex::store
