// Hostile Milvus answers (found while writing tests/fuzz/fuzz_milvus_reply.cpp): each must end in
// clipdex::Error(Corrupt) or a harmless reading, never a read outside the answer or a foreign
// exception. The same answers are regression inputs of the fuzz corpus (corpus/milvus_reply/).
#include <gtest/gtest.h>

#include <string>

#include "store/milvus/milvus_codec.h"

namespace clipdex::store::milvus {
namespace {

template <typename Fn>
void expect_corrupt(Fn&& fn, const std::string& fragment) {
    try {
        fn();
        ADD_FAILURE() << "expected Error(Corrupt) mentioning " << fragment;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

pb::QueryResults vector_answer(int64_t dim, int floats, int rows) {
    pb::QueryResults reply;
    auto* ids = reply.add_fields_data();
    ids->set_field_name("id");
    for (int i = 0; i < rows; ++i) ids->mutable_scalars()->mutable_long_data()->add_data(i + 1);
    auto* vectors = reply.add_fields_data();
    vectors->set_field_name("vector");
    vectors->mutable_vectors()->set_dim(dim);
    for (int i = 0; i < floats; ++i)
        vectors->mutable_vectors()->mutable_float_vector()->add_data(float(i));
    return reply;
}

std::vector<Row> decode(const pb::QueryResults& reply) {
    const Layout layout = full_layout(4);
    return decode_rows(reply.fields_data(), plan_output({"*"}, layout), layout, nullptr,
                       result_count(reply.fields_data()));
}

TEST(MilvusReply, VectorDimensionThatWrapsTheRowCountIsShort) {
    // 3 rows x 0x5555555555555556 floats wraps to 2 in 64 bits: the old size check passed and the
    // rows were cut from far outside the two floats the answer holds.
    expect_corrupt([] { decode(vector_answer(0x5555555555555556, 2, 3)); }, "fewer values");
    expect_corrupt([] { decode(vector_answer(-1, 1, 2)); }, "dimension -1");
    expect_corrupt([] { decode(vector_answer(0, 0, 2)); }, "dimension 0");
    expect_corrupt([] { decode(vector_answer(4, 7, 2)); }, "fewer values");
    const auto rows = decode(vector_answer(4, 8, 2));
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].vector, (std::vector<float>{4, 5, 6, 7}));
}

TEST(MilvusReply, IndexParamsOfAnyJsonTypeDoNotThrowForeignExceptions) {
    pb::DescribeCollectionResponse collection;
    pb::DescribeIndexResponse index;
    auto* params = index.add_index_descriptions()->add_params();
    params->set_key("params");
    params->set_value(R"({"index_type": 5, "nlist": "x"})");
    EXPECT_EQ(spec_from_description(collection, &index).index.kind, IndexKind::AutoIndex);
    params->set_value(R"({"metric_type": ["L2"]})");
    expect_corrupt([&] { spec_from_description(collection, &index); }, "metric_type");
}

TEST(MilvusReply, VectorFieldDimMustBeAPositiveInteger) {
    for (const char* dim : {"99999999999999999999", "-4", "0", "12x", ""}) {
        pbs::CollectionSchema schema;
        auto* field = schema.add_fields();
        field->set_name("vector");
        field->set_data_type(pbs::FloatVector);
        auto* kv = field->add_type_params();
        kv->set_key("dim");
        kv->set_value(dim);
        expect_corrupt([&] { layout_of(schema); }, "has dim");
    }
}

TEST(MilvusReply, SearchHitsFollowTopksWithinTheIds) {
    pb::SearchResults reply;
    auto* result = reply.mutable_results();
    for (int64_t id : {11, 12, 21}) result->mutable_ids()->mutable_int_id()->add_data(id);
    for (float score : {0.9f, 0.8f, 0.7f}) result->add_scores(score);
    for (int64_t k : {2, 5, -1}) result->add_topks(k);
    const Layout layout = full_layout(4);
    const auto hits = decode_hits(*result, 3, plan_output({"id"}, layout), layout, "c");
    ASSERT_EQ(hits.size(), 3u);
    ASSERT_EQ(hits[0].size(), 2u);
    ASSERT_EQ(hits[1].size(), 1u);
    EXPECT_EQ(hits[1][0].row.id, 21);
    EXPECT_TRUE(hits[2].empty());
    result->mutable_scores()->RemoveLast();
    expect_corrupt([&] { decode_hits(*result, 3, plan_output({"id"}, layout), layout, "c"); },
                   "fewer scores than ids");
}

}  // namespace
}  // namespace clipdex::store::milvus
