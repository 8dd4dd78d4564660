// The Milvus wire format without a server: URIs and metadata, schemas, row columns, batching,
// output plans, search placeholders and the mapping of server answers to errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "store/milvus/milvus_client.h"
#include "store/milvus/milvus_codec.h"
#include "store/milvus/milvus_uri.h"

namespace clipdex::store::milvus {
namespace {

Row sample_row(int64_t id, int dim) {
    Row row;
    row.id = id;
    row.url = "/照片/" + std::to_string(id) + ".png";
    row.description = "caption";
    for (int i = 0; i < dim; ++i) row.vector.push_back(float(id) + float(i) / 8.0f);
    row.extra = {{"size", id * 10}};
    return row;
}

TEST(MilvusUri, HostPortTlsAndDatabase) {
    Endpoint plain = parse_uri("http://127.0.0.1:19530");
    EXPECT_EQ(plain.target, "127.0.0.1:19530");
    EXPECT_FALSE(plain.tls);
    EXPECT_TRUE(plain.db_name.empty());
    Endpoint cloud = parse_uri("https://in01-abc.zillizcloud.com/mydb");
    EXPECT_EQ(cloud.target, "in01-abc.zillizcloud.com:19530");
    EXPECT_TRUE(cloud.tls);
    EXPECT_EQ(cloud.db_name, "mydb");
    EXPECT_EQ(parse_uri("http://[::1]:443").target, "[::1]:443");
}

TEST(MilvusUri, MalformedIsInvalidInput) {
    for (const char* uri : {"ftp://host:1", "http://", "http://host:0", "http://host:99999",
                            "http://host:12x", "http://user:pw@host:1", "http://host:1/a/b"}) {
        try {
            parse_uri(uri);
            ADD_FAILURE() << uri << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << uri;
            EXPECT_NE(std::string(e.what()).find(uri), std::string::npos) << e.what();
        }
    }
}

TEST(MilvusUri, MetadataAsPymilvusSendsIt) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("root:Milvus"), "cm9vdDpNaWx2dXM=");
    auto metadata = call_metadata("root:Milvus", "db1");
    ASSERT_EQ(metadata.size(), 2u);
    EXPECT_EQ(metadata[0],
              (std::pair<std::string, std::string>{"authorization", "cm9vdDpNaWx2dXM="}));
    EXPECT_EQ(metadata[1], (std::pair<std::string, std::string>{"dbname", "db1"}));
    EXPECT_TRUE(call_metadata("", "").empty());
}

TEST(MilvusSchema, SeedSchemaWithDescriptionAndDynamicFields) {
    CollectionSpec spec;
    spec.name = "images";
    spec.dim = 512;
    spec.description = "photos";
    pbs::CollectionSchema schema = build_schema(spec);
    EXPECT_TRUE(schema.enable_dynamic_field());
    ASSERT_EQ(schema.fields_size(), 6);
    EXPECT_EQ(schema.fields(0).name(), "id");
    EXPECT_TRUE(schema.fields(0).is_primary_key());
    EXPECT_FALSE(schema.fields(0).autoid());
    EXPECT_EQ(schema.fields(0).data_type(), pbs::Int64);
    EXPECT_EQ(schema.fields(1).name(), "url");
    EXPECT_EQ(schema.fields(1).type_params(0).value(), "2000");
    EXPECT_EQ(schema.fields(3).data_type(), pbs::FloatVector);
    EXPECT_EQ(schema.fields(3).type_params(0).key(), "dim");
    EXPECT_EQ(schema.fields(3).type_params(0).value(), "512");
    Layout layout = layout_of(schema);
    EXPECT_EQ(layout.dim, 512);
    EXPECT_TRUE(layout.has("description"));
}

TEST(MilvusSchema, IndexParamsRoundTripThroughDescribe) {
    IndexSpec hnsw;
    hnsw.kind = IndexKind::Hnsw;
    hnsw.metric = Metric::L2;
    hnsw.m = 8;
    hnsw.ef_construction = 64;
    pb::DescribeCollectionResponse collection;
    CollectionSpec spec;
    spec.name = "c";
    spec.dim = 4;
    *collection.mutable_schema() = build_schema(spec);
    auto* kv = collection.add_properties();
    kv->set_key("clipdex.model");
    kv->set_value("ViT-B-32::openai");
    pb::DescribeIndexResponse index;
    auto* description = index.add_index_descriptions();
    description->set_field_name("vector");
    for (const auto& p : index_params(hnsw)) *description->add_params() = p;
    CollectionSpec back = spec_from_description(collection, &index);
    EXPECT_EQ(back.dim, 4);
    EXPECT_EQ(back.index.kind, IndexKind::Hnsw);
    EXPECT_EQ(back.index.metric, Metric::L2);
    EXPECT_EQ(back.index.m, 8);
    EXPECT_EQ(back.index.ef_construction, 64);
    EXPECT_EQ(back.properties.at("clipdex.model"), "ViT-B-32::openai");

    // the FLAT stand-in for servers without HNSW still reads back as HNSW
    description->clear_params();
    for (const auto& p : flat_stand_in(hnsw)) *description->add_params() = p;
    EXPECT_EQ(spec_from_description(collection, &index).index.kind, IndexKind::Hnsw);

    // pymilvus-style flattened params (seed 001: IVF_FLAT, IP, nlist 1024)
    description->clear_params();
    for (auto [k, v] :
         {std::pair{"index_type", "IVF_FLAT"}, {"metric_type", "IP"}, {"nlist", "1024"}}) {
        auto* p = description->add_params();
        p->set_key(k);
        p->set_value(v);
    }
    back = spec_from_description(collection, &index);
    EXPECT_EQ(back.index.kind, IndexKind::IvfFlat);
    EXPECT_EQ(back.index.metric, Metric::InnerProduct);
    EXPECT_EQ(back.index.nlist, 1024);
}

TEST(MilvusSchema, CollectionNamesFollowMilvusRule) {
    check_collection_name("_images_2");
    for (const char* bad : {"", "2images", "a-b", "照片"}) {
        EXPECT_THROW(check_collection_name(bad), Error) << bad;
    }
}

TEST(MilvusRows, EncodeDecodeIsBitExact) {
    Layout layout = full_layout(4);
    std::vector<Row> rows{sample_row(1, 4), sample_row(2, 4)};
    rows[0].vector[1] = 1e-30f;
    rows = prepare_rows("c", rows, layout, "2026-01-01T00:00:00.000Z");
    EXPECT_EQ(rows[0].added_at, "2026-01-01T00:00:00.000Z");
    pb::InsertRequest request;
    encode_rows(rows, layout, request.mutable_fields_data());
    ASSERT_EQ(request.fields_data_size(), 7);
    EXPECT_EQ(request.fields_data(5).field_name(), "vector");
    EXPECT_EQ(request.fields_data(5).vectors().dim(), 4);
    EXPECT_EQ(request.fields_data(6).field_name(), "$meta");
    EXPECT_TRUE(request.fields_data(6).is_dynamic());
    EXPECT_EQ(request.fields_data(6).scalars().json_data().data(0), R"({"size":10})");

    pb::InsertRequest wire;
    ASSERT_TRUE(wire.ParseFromString(request.SerializeAsString()));
    OutputPlan plan = plan_output({"*"}, layout);
    std::vector<Row> back = decode_rows(wire.fields_data(), plan, layout, nullptr, 2);
    ASSERT_EQ(back.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(back[i].id, rows[i].id);
        EXPECT_EQ(back[i].url, rows[i].url);
        EXPECT_EQ(back[i].description, rows[i].description);
        ASSERT_EQ(back[i].vector.size(), 4u);
        EXPECT_EQ(std::memcmp(back[i].vector.data(), rows[i].vector.data(), 16), 0);
        EXPECT_EQ(back[i].extra, rows[i].extra);
    }
}

TEST(MilvusRows, MissingSchemaFieldsTravelAsDynamicKeys) {
    Layout layout = full_layout(2);
    layout.fields.erase("description");
    Row row = sample_row(7, 2);
    pb::InsertRequest request;
    encode_rows(std::span<const Row>(&row, 1), layout, request.mutable_fields_data());
    const auto& meta = request.fields_data(request.fields_data_size() - 1);
    EXPECT_NE(meta.scalars().json_data().data(0).find("\"description\":\"caption\""),
              std::string::npos);
    std::vector<Row> back =
        decode_rows(request.fields_data(), plan_output({}, layout), layout, nullptr, 1);
    EXPECT_EQ(back[0].description, "caption");
    EXPECT_FALSE(back[0].extra.contains("description"));
}

TEST(MilvusRows, BadRowsNameTheRow) {
    Layout layout = full_layout(4);
    std::vector<Row> rows{sample_row(1, 4), sample_row(2, 3)};
    try {
        prepare_rows("images", rows, layout, "now");
        ADD_FAILURE() << "short vector accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
        EXPECT_NE(std::string(e.what()).find("images"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("id 2"), std::string::npos);
    }
    rows = {sample_row(1, 4)};
    rows[0].vector[0] = std::nanf("");
    EXPECT_THROW(prepare_rows("c", rows, layout, "now"), Error);
    rows = {sample_row(1, 4), sample_row(1, 4)};
    EXPECT_THROW(prepare_rows("c", rows, layout, "now"), Error);
    rows = {sample_row(1, 4)};
    rows[0].extra["url"] = "clash";
    EXPECT_THROW(prepare_rows("c", rows, layout, "now"), Error);
}

TEST(MilvusRows, BatchesStayUnderTheByteLimit) {
    std::vector<Row> rows;
    for (int i = 0; i < 100; ++i) rows.push_back(sample_row(i, 256));  // ~1.1 KB each
    size_t limit = 10 * row_wire_bytes(rows[0]) + 1;
    auto batches = split_batches(rows, limit);
    EXPECT_GE(batches.size(), 10u);  // rows differ by a few bytes (id digits)
    EXPECT_LE(batches.size(), 12u);
    size_t next = 0;
    for (auto [begin, end] : batches) {
        EXPECT_EQ(begin, next);
        size_t bytes = 0;
        for (size_t i = begin; i < end; ++i) bytes += row_wire_bytes(rows[i]);
        EXPECT_LE(bytes, limit);
        next = end;
    }
    EXPECT_EQ(next, rows.size());
    EXPECT_EQ(split_batches(rows, 1).size(), rows.size());  // a lone oversized row still goes
    EXPECT_TRUE(split_batches({}, limit).empty());
}

TEST(MilvusRows, OutputPlans) {
    Layout layout = full_layout(4);
    OutputPlan all = plan_output({}, layout);
    EXPECT_FALSE(all.vector);
    EXPECT_TRUE(all.all_dynamic);
    EXPECT_EQ(all.server_fields, (std::vector<std::string>{"id", "url", "description", "added_at",
                                                           "updated_at", "$meta"}));
    OutputPlan some = plan_output({"url", "size", "vector"}, layout);
    EXPECT_TRUE(some.vector);
    EXPECT_FALSE(some.all_dynamic);
    EXPECT_EQ(some.dynamic_keys, (std::set<std::string>{"size"}));
    EXPECT_EQ(some.server_fields, (std::vector<std::string>{"id", "url", "vector", "$meta"}));
    OutputPlan ids = plan_output({"id"}, layout);
    EXPECT_EQ(ids.server_fields, (std::vector<std::string>{"id"}));
}

TEST(MilvusSearch, PlaceholderGroupCarriesRawFloats) {
    std::vector<float> queries{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    pbc::PlaceholderGroup group;
    ASSERT_TRUE(group.ParseFromString(placeholder_group(queries, 3)));
    ASSERT_EQ(group.placeholders_size(), 1);
    EXPECT_EQ(group.placeholders(0).tag(), "$0");
    EXPECT_EQ(group.placeholders(0).type(), pbc::FloatVector);
    ASSERT_EQ(group.placeholders(0).values_size(), 2);
    EXPECT_EQ(group.placeholders(0).values(1).size(), 12u);
    EXPECT_EQ(std::memcmp(group.placeholders(0).values(1).data(), queries.data() + 3, 12), 0);
}

TEST(MilvusSearch, Expressions) {
    std::vector<int64_t> ids{3, -1, 9223372036854775807};
    EXPECT_EQ(id_list_expr(ids), "id in [3,-1,9223372036854775807]");
    EXPECT_EQ(and_expr("", "id > 1"), "id > 1");
    EXPECT_EQ(and_expr("a == 1", "id > 1"), "(a == 1) and (id > 1)");
}

TEST(MilvusErrors, StatusesMapToErrorCodes) {
    pbc::Status status;
    status.set_error_code(pbc::UnexpectedError);
    status.set_code(100);
    status.set_reason("collection not found[collection=x]");
    EXPECT_EQ(classify_status(status).code, ErrorCode::NotFound);
    status.set_code(8);
    EXPECT_TRUE(classify_status(status).retry);
    status.set_code(1100);
    EXPECT_EQ(classify_status(status).code, ErrorCode::InvalidInput);
    status.set_code(0);
    status.set_error_code(pbc::RateLimit);
    EXPECT_EQ(classify_status(status).code, ErrorCode::Unavailable);
    EXPECT_TRUE(classify_status(status).retry);
    status.set_error_code(pbc::IllegalArgument);
    EXPECT_EQ(classify_status(status).code, ErrorCode::InvalidInput);
    status.set_error_code(pbc::UnexpectedError);
    status.set_code(65535);
    status.set_reason("collection already exists");
    EXPECT_EQ(classify_status(status).code, ErrorCode::AlreadyExists);
    EXPECT_TRUE(status_ok(pbc::Status()));
    EXPECT_EQ(classify_grpc(grpc::StatusCode::UNAVAILABLE).code, ErrorCode::Unavailable);
    EXPECT_TRUE(classify_grpc(grpc::StatusCode::UNAVAILABLE).retry);
    EXPECT_EQ(classify_grpc(grpc::StatusCode::UNIMPLEMENTED).code, ErrorCode::Unsupported);
    EXPECT_FALSE(classify_grpc(grpc::StatusCode::UNIMPLEMENTED).retry);
    EXPECT_EQ(classify_grpc(grpc::StatusCode::RESOURCE_EXHAUSTED).code, ErrorCode::TooLarge);
}

TEST(MilvusErrors, MessagesCarryCodeReasonAndCollection) {
    pbc::Status status;
    status.set_code(1100);
    status.set_reason("invalid parameter");
    std::string text = Client::message("Insert", "images", Client::describe_status(status), 3);
    EXPECT_NE(text.find("Insert"), std::string::npos);
    EXPECT_NE(text.find("`images`"), std::string::npos);
    EXPECT_NE(text.find("1100"), std::string::npos);
    EXPECT_NE(text.find("invalid parameter"), std::string::npos);
    EXPECT_NE(text.find("3 attempts"), std::string::npos);
}

TEST(MilvusErrors, BackoffGrowsAndIsCapped) {
    RetryPolicy policy;
    EXPECT_EQ(backoff_delay(policy, 1).count(), 100);
    EXPECT_EQ(backoff_delay(policy, 2).count(), 200);
    EXPECT_EQ(backoff_delay(policy, 20).count(), 3000);
}

TEST(MilvusClient, UnreachableServerIsUnavailableNotACrash) {
    StoreOptions options;
    options.timeout_seconds = 0.5;
    Client client(parse_uri("http://127.0.0.1:1"), options);
    pb::ShowCollectionsRequest request;
    try {
        client.call("ShowCollections", "", &pb::MilvusService::Stub::ShowCollections, request);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unavailable);
        EXPECT_NE(std::string(e.what()).find("UNAVAILABLE"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace clipdex::store::milvus
