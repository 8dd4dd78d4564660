#include "engine/hit_json.h"

namespace clipdex {

nlohmann::json hit_to_json(const SearchHit& hit, size_t rank) {
    nlohmann::json out = {{"id", hit.id},
                          {"url", hit.url},
                          {"similarity", hit.score},
                          {"score", hit.score},
                          {"rank", rank}};
    if (!hit.description.empty()) out["description"] = hit.description;
    return out;
}

nlohmann::json hits_to_json(std::span<const SearchHit> hits) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < hits.size(); ++i) out.push_back(hit_to_json(hits[i], i + 1));
    return out;
}

}  // namespace clipdex
