#include "store/row_json.h"

#include <array>
#include <string_view>

#include "clipdex/error.h"

namespace clipdex::store {

namespace {

constexpr std::array<std::string_view, 6> kFixed = {"id",       "url",        "description",
                                                    "added_at", "updated_at", "vector"};

bool is_fixed(const std::string& key) {
    for (std::string_view name : kFixed)
        if (key == name) return true;
    return false;
}

[[noreturn]] void bad(const nlohmann::json& object, const std::string& reason) {
    const auto id = object.find("id");
    const std::string which = id != object.end() && id->is_number_integer()
                                  ? "row " + std::to_string(id->get<int64_t>())
                                  : std::string("a row");
    throw Error(ErrorCode::InvalidInput, "row JSON: " + which + ": " + reason);
}

std::string string_field(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    if (!it->is_string()) bad(object, std::string("field `") + key + "` must be a string");
    return it->get<std::string>();
}

}  // namespace

nlohmann::json row_to_json(const Row& row, bool include_vector) {
    nlohmann::json out = nlohmann::json::object();
    if (row.extra.is_object())
        for (const auto& [key, value] : row.extra.items()) out[key] = value;
    out["id"] = row.id;
    out["url"] = row.url;
    out["description"] = row.description;
    out["added_at"] = row.added_at;
    out["updated_at"] = row.updated_at;
    if (include_vector)
        out["vector"] = row.vector;
    else
        out.erase("vector");
    return out;
}

Row row_from_json(const nlohmann::json& object) {
    if (!object.is_object()) bad(object, "must be a JSON object");
    Row row;
    const auto id = object.find("id");
    if (id == object.end() || !id->is_number_integer())
        bad(object, "field `id` must be an integer");
    row.id = id->get<int64_t>();
    row.url = string_field(object, "url");
    row.description = string_field(object, "description");
    row.added_at = string_field(object, "added_at");
    row.updated_at = string_field(object, "updated_at");
    if (const auto vector = object.find("vector"); vector != object.end() && !vector->is_null()) {
        if (!vector->is_array()) bad(object, "field `vector` must be an array of numbers");
        row.vector.reserve(vector->size());
        for (const auto& value : *vector) {
            if (!value.is_number()) bad(object, "field `vector` must be an array of numbers");
            row.vector.push_back(value.get<float>());
        }
    }
    for (const auto& [key, value] : object.items())
        if (!is_fixed(key)) row.extra[key] = value;
    return row;
}

size_t row_json_bytes_estimate(const Row& row, bool include_vector) {
    const size_t extra = row.extra.is_object() ? row.extra.dump().size() : 0;
    size_t bytes = 160 + 2 * (row.url.size() + row.description.size()) + extra;
    if (include_vector) bytes += 16 * row.vector.size();
    return bytes;
}

}  // namespace clipdex::store
