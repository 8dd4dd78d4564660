// Milvus replies (src/store/milvus/milvus_codec.*): the bytes after a two-byte header are parsed
// as the protobuf answer of a Query, a Search or a DescribeCollection (+ DescribeIndex) and
// decoded the way MilvusStore decodes them, for several output field lists. Decoding fails with
// clipdex::Error or gives rows whose JSON renders (as the HTTP API renders them) and hits whose
// counts add up.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "store/milvus/milvus_codec.h"

namespace {

namespace mv = clipdex::store::milvus;

void check(bool ok) {
    if (!ok) std::abort();
}

void render(const clipdex::store::Row& row) {
    nlohmann::json out = {{"id", row.id},
                          {"url", row.url},
                          {"description", row.description},
                          {"vector", row.vector},
                          {"extra", row.extra}};
    (void)out.dump();
}

clipdex::store::FieldList fields_for(uint8_t pick) {
    switch (pick % 6) {
        case 0:
            return {};
        case 1:
            return {"*"};
        case 2:
            return {"id", "url", "description"};
        case 3:
            return {"vector", "added_at"};
        case 4:
            return {"$meta"};
        default:
            return {"color", "url", "size"};
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2 || size > 1 << 16) return 0;
    const uint8_t kind = data[0] % 3;
    const uint8_t pick = data[1];
    const std::string bytes(reinterpret_cast<const char*>(data + 2), size - 2);
    mv::Layout layout = mv::full_layout(4);
    layout.dynamic = (pick & 0x40) == 0;
    const mv::OutputPlan plan = mv::plan_output(fields_for(pick), layout);
    try {
        if (kind == 0) {
            mv::pb::QueryResults reply;
            if (!reply.ParseFromString(bytes)) return 0;
            const size_t count = mv::result_count(reply.fields_data());
            const auto rows = mv::decode_rows(reply.fields_data(), plan, layout, nullptr, count);
            check(rows.size() == count);
            for (const auto& row : rows) render(row);
        } else if (kind == 1) {
            mv::pb::SearchResults reply;
            if (!reply.ParseFromString(bytes)) return 0;
            const size_t n = 1 + (pick & 3);
            const auto hits = mv::decode_hits(reply.results(), n, plan, layout, "fuzz");
            check(hits.size() == n);
            size_t total = 0;
            for (const auto& list : hits) {
                total += list.size();
                for (const auto& hit : list) render(hit.row);
            }
            check(total <= size_t(reply.results().ids().int_id().data_size()));
        } else {
            // DescribeCollection's answer, then DescribeIndex's, split at a length byte.
            const size_t first = std::min<size_t>(bytes.size(), pick);
            mv::pb::DescribeCollectionResponse collection;
            mv::pb::DescribeIndexResponse index;
            if (!collection.ParseFromString(bytes.substr(0, first)) ||
                !index.ParseFromString(bytes.substr(first)))
                return 0;
            const clipdex::store::CollectionSpec spec =
                mv::spec_from_description(collection, &index);
            const mv::Layout described = mv::layout_of(collection.schema());
            check(spec.dim == described.dim);
            (void)mv::spec_from_description(collection, nullptr);
        }
    } catch (const clipdex::Error&) {
    }
    return 0;
}
