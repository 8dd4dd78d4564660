#include "engine/hit_json.h"

namespace clipdex {

nlohmann::json hit_to_json(const SearchHit& hit) {
    nlohmann::json out = {
        {"id", hit.id}, {"url", hit.url}, {"similarity", hit.score}, {"score", hit.score}};
    if (!hit.description.empty()) out["description"] = hit.description;
    return out;
}

}  // namespace clipdex
