// The one hit shape (engine/hit_json.h) of the HTTP API's search results and `search --json`.
#include <gtest/gtest.h>

#include "engine/hit_json.h"

namespace clipdex {
namespace {

TEST(HitJson, ScoreTwiceAndDescriptionOnlyWhenSet) {
    SearchHit hit;
    hit.id = 4;
    hit.url = "/a.png";
    hit.score = 0.5f;
    hit.extra = {{"width", 64}};
    EXPECT_EQ(hit_to_json(hit),
              nlohmann::json::parse(R"({"id":4,"url":"/a.png","similarity":0.5,"score":0.5})"));
    hit.description = "a cat";
    EXPECT_EQ(hit_to_json(hit).at("description"), "a cat");
}

}  // namespace
}  // namespace clipdex
