// The one row shape (store/row_json.h) that /api/milvus/data, `clipdex list --json` and the
// Milvus test tool share.
#include <gtest/gtest.h>

#include "../error_of.h"
#include "store/row_json.h"

namespace clipdex::store {
namespace {

Row sample() {
    Row row;
    row.id = -9;
    row.url = "/照片/猫 cat.png";
    row.description = "a \"quoted\" cat";
    row.vector = {0.25f, -1.0f / 3.0f, 1e-30f};
    row.added_at = "2026-12-05T13:00:00.000Z";
    row.updated_at = "2026-12-05T13:00:01.000Z";
    row.extra = {{"source", "file"}, {"width", 64}, {"tags", {"a", "b"}}, {"ok", true}};
    return row;
}

TEST(RowJson, DynamicFieldsSitBesideTheFixedOnes) {
    const nlohmann::json out = row_to_json(sample(), false);
    EXPECT_EQ(out, nlohmann::json::parse(R"({"id": -9, "url": "/照片/猫 cat.png",
        "description": "a \"quoted\" cat", "added_at": "2026-12-05T13:00:00.000Z",
        "updated_at": "2026-12-05T13:00:01.000Z", "source": "file", "width": 64,
        "tags": ["a", "b"], "ok": true})"));
    EXPECT_FALSE(out.contains("extra"));
    EXPECT_FALSE(out.contains("vector"));
}

TEST(RowJson, VectorOnlyWhenAskedAndExactAfterARoundTrip) {
    const Row row = sample();
    const nlohmann::json out = row_to_json(row, true);
    ASSERT_TRUE(out.contains("vector"));
    const Row back = row_from_json(nlohmann::json::parse(out.dump()));
    EXPECT_EQ(back.id, row.id);
    EXPECT_EQ(back.url, row.url);
    EXPECT_EQ(back.description, row.description);
    EXPECT_EQ(back.added_at, row.added_at);
    EXPECT_EQ(back.updated_at, row.updated_at);
    EXPECT_EQ(back.vector, row.vector);  // float -> JSON text -> float is exact
    EXPECT_EQ(back.extra, row.extra);
}

TEST(RowJson, FixedFieldsWinOverADynamicFieldOfTheSameName) {
    // The stores refuse such fields on write; a collection written by another client may hold
    // one, and it must not replace the row's id or url in the answer.
    Row row = sample();
    row.extra["id"] = 12345;
    row.extra["url"] = "http://elsewhere/";
    row.extra["vector"] = "not a vector";
    const nlohmann::json out = row_to_json(row, false);
    EXPECT_EQ(out["id"], -9);
    EXPECT_EQ(out["url"], "/照片/猫 cat.png");
    EXPECT_FALSE(out.contains("vector"));
}

TEST(RowJson, ReadingNeedsAnIdAndTypedFixedFields) {
    EXPECT_EQ(row_from_json({{"id", 3}}).id, 3);
    EXPECT_TRUE(row_from_json({{"id", 3}}).extra.empty());
    for (const char* text :
         {R"({"url": "x"})", R"({"id": "3"})", R"({"id": 1.5})", R"({"id": 3, "url": 7})",
          R"({"id": 3, "vector": [1, "a"]})", R"({"id": 3, "vector": {"a": 1}})", R"([1, 2])"}) {
        const Error e = error_of([&] { row_from_json(nlohmann::json::parse(text)); });
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << text;
        EXPECT_NE(std::string(e.what()).find("row JSON"), std::string::npos) << e.what();
    }
    const Error named = error_of([&] { row_from_json({{"id", 77}, {"description", 1}}); });
    EXPECT_NE(std::string(named.what()).find("row 77: field `description`"), std::string::npos)
        << named.what();
}

TEST(RowJson, TheSizeEstimateCoversTheRendering) {
    Row row = sample();
    row.description = std::string(5000, 'x') + "\"\\";
    row.vector.assign(512, -0.123456789f);
    for (const bool vectors : {false, true})
        EXPECT_GE(row_json_bytes_estimate(row, vectors), row_to_json(row, vectors).dump().size());
}

}  // namespace
}  // namespace clipdex::store
