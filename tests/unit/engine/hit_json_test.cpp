// The one hit shape (engine/hit_json.h) of the HTTP API's search results and `search --json`.
#include <gtest/gtest.h>

#include <vector>

#include "engine/hit_json.h"

namespace clipdex {
namespace {

TEST(HitJson, ScoreTwiceRankAndDescriptionOnlyWhenSet) {
    SearchHit hit;
    hit.id = 4;
    hit.url = "/a.png";
    hit.score = 0.5f;
    hit.extra = {{"width", 64}};
    EXPECT_EQ(
        hit_to_json(hit, 3),
        nlohmann::json::parse(R"({"id":4,"url":"/a.png","similarity":0.5,"score":0.5,"rank":3})"));
    hit.description = "a cat";
    EXPECT_EQ(hit_to_json(hit, 1).at("description"), "a cat");
}

TEST(HitJson, ListsRankFromOneInOrder) {
    std::vector<SearchHit> hits(3);
    for (size_t i = 0; i < hits.size(); ++i) {
        hits[i].id = static_cast<int64_t>(10 + i);
        hits[i].score = 1.0f - static_cast<float>(i) / 4;
    }
    const nlohmann::json list = hits_to_json(hits);
    ASSERT_TRUE(list.is_array());
    ASSERT_EQ(list.size(), 3u);
    for (size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(list[i].at("rank"), i + 1);
        EXPECT_EQ(list[i].at("id"), hits[i].id);
    }
    EXPECT_EQ(hits_to_json({}), nlohmann::json::array());
}

}  // namespace
}  // namespace clipdex
