#include "store/milvus/milvus_codec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include <nlohmann/json.hpp>

namespace clipdex::store::milvus {
namespace {

const char* const kTextFields[] = {kFieldUrl, kFieldDescription, kFieldAddedAt, kFieldUpdatedAt};

pbc::KeyValuePair pair(const std::string& key, const std::string& value) {
    pbc::KeyValuePair kv;
    kv.set_key(key);
    kv.set_value(value);
    return kv;
}

pbs::FieldSchema* add_field(pbs::CollectionSchema& schema, const char* name, pbs::DataType type) {
    pbs::FieldSchema* field = schema.add_fields();
    field->set_name(name);
    field->set_data_type(type);
    return field;
}

void add_varchar(pbs::CollectionSchema& schema, const char* name, int64_t max_length) {
    *add_field(schema, name, pbs::VarChar)->add_type_params() =
        pair("max_length", std::to_string(max_length));
}

// Milvus keeps its own settings among the collection properties; they are not the user's.
bool is_server_property(const std::string& key) {
    static const char* const kPrefixes[] = {"collection.",   "mmap.",     "lazyload.",
                                            "partitionkey.", "database.", "timezone",
                                            "clustering",    "field."};
    for (const char* prefix : kPrefixes) {
        if (key.starts_with(prefix)) return true;
    }
    return false;
}

int int_param(const nlohmann::json& params, const char* key, int fallback) {
    auto it = params.find(key);
    if (it == params.end()) return fallback;
    if (it->is_number_integer()) return it->get<int>();
    if (it->is_string()) {
        try {
            return std::stoi(it->get<std::string>());
        } catch (const std::exception&) {
            return fallback;
        }
    }
    return fallback;
}

IndexSpec index_from_params(const google::protobuf::RepeatedPtrField<pbc::KeyValuePair>& kvs) {
    IndexSpec index;
    nlohmann::json flat = nlohmann::json::object();
    for (const auto& kv : kvs) {
        if (kv.key() == "params") {
            nlohmann::json nested = nlohmann::json::parse(kv.value(), nullptr, false);
            if (nested.is_object()) flat.update(nested);
        } else {
            flat[kv.key()] = kv.value();
        }
    }
    if (flat.contains(kRequestedIndexKey)) flat["index_type"] = flat[kRequestedIndexKey];
    // The nested "params" JSON may hold any type under any key: only strings are names.
    const auto text = [&](const char* key) -> const std::string* {
        auto it = flat.find(key);
        return it != flat.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
    };
    if (flat.contains("index_type")) {
        try {
            const std::string* name = text("index_type");
            index.kind = name ? parse_index_kind(*name) : IndexKind::AutoIndex;
        } catch (const Error&) {
            index.kind = IndexKind::AutoIndex;  // an index clipdex cannot build still searches
        }
    }
    if (flat.contains("metric_type")) {
        const std::string* name = text("metric_type");
        if (!name)
            throw Error(ErrorCode::Corrupt, "Milvus answer: index metric_type " +
                                                flat["metric_type"].dump().substr(0, 80) +
                                                " is not a name");
        index.metric = parse_metric(*name);
    }
    index.nlist = int_param(flat, "nlist", index.nlist);
    index.m = int_param(flat, "M", index.m);
    index.ef_construction = int_param(flat, "efConstruction", index.ef_construction);
    return index;
}

[[noreturn]] void bad_row(const std::string& collection, int64_t id, const std::string& why) {
    throw Error(ErrorCode::InvalidInput,
                "collection `" + collection + "`, row id " + std::to_string(id) + ": " + why);
}

pbs::FieldData* add_column(google::protobuf::RepeatedPtrField<pbs::FieldData>* columns,
                           const char* name, pbs::DataType type) {
    pbs::FieldData* column = columns->Add();
    column->set_field_name(name);
    column->set_type(type);
    return column;
}

std::string* text_slot(Row& row, const std::string& name) {
    if (name == kFieldUrl) return &row.url;
    if (name == kFieldDescription) return &row.description;
    if (name == kFieldAddedAt) return &row.added_at;
    if (name == kFieldUpdatedAt) return &row.updated_at;
    return nullptr;
}

bool is_text_field(const std::string& name) {
    return std::any_of(std::begin(kTextFields), std::end(kTextFields),
                       [&](const char* field) { return name == field; });
}

const std::string& text_of(const Row& row, const char* name) {
    return *text_slot(const_cast<Row&>(row), name);
}

nlohmann::json scalar_at(const pbs::ScalarField& scalars, size_t i) {
    switch (scalars.data_case()) {
        case pbs::ScalarField::kBoolData:
            return scalars.bool_data().data(int(i));
        case pbs::ScalarField::kIntData:
            return scalars.int_data().data(int(i));
        case pbs::ScalarField::kLongData:
            return scalars.long_data().data(int(i));
        case pbs::ScalarField::kFloatData:
            return scalars.float_data().data(int(i));
        case pbs::ScalarField::kDoubleData:
            return scalars.double_data().data(int(i));
        case pbs::ScalarField::kStringData:
            return scalars.string_data().data(int(i));
        case pbs::ScalarField::kJsonData:
            return nlohmann::json::parse(scalars.json_data().data(int(i)), nullptr, false);
        default:
            return nullptr;
    }
}

size_t scalar_size(const pbs::ScalarField& scalars) {
    switch (scalars.data_case()) {
        case pbs::ScalarField::kBoolData:
            return size_t(scalars.bool_data().data_size());
        case pbs::ScalarField::kIntData:
            return size_t(scalars.int_data().data_size());
        case pbs::ScalarField::kLongData:
            return size_t(scalars.long_data().data_size());
        case pbs::ScalarField::kFloatData:
            return size_t(scalars.float_data().data_size());
        case pbs::ScalarField::kDoubleData:
            return size_t(scalars.double_data().data_size());
        case pbs::ScalarField::kStringData:
            return size_t(scalars.string_data().data_size());
        case pbs::ScalarField::kJsonData:
            return size_t(scalars.json_data().data_size());
        default:
            return 0;
    }
}

[[noreturn]] void short_column(const std::string& name) {
    throw Error(ErrorCode::Corrupt,
                "Milvus answer: column `" + name + "` has fewer values than rows");
}

void merge_dynamic(Row& row, const nlohmann::json& object, const OutputPlan& plan,
                   const Layout& layout) {
    if (!object.is_object()) return;
    for (const auto& [key, value] : object.items()) {
        std::string* slot = text_slot(row, key);
        if (slot && !layout.has(key)) {
            // a fixed field this collection keeps among its dynamic keys
            if (value.is_string()) *slot = value.get<std::string>();
            continue;
        }
        if (plan.all_dynamic || plan.dynamic_keys.count(key)) row.extra[key] = value;
    }
}

}  // namespace

void check_collection_name(const std::string& name) {
    auto fail = [&](const std::string& why) {
        throw Error(ErrorCode::InvalidInput, "collection name `" + name + "`: " + why);
    };
    if (name.empty()) fail("empty");
    if (name.size() > 255) fail("longer than 255 characters");
    unsigned char first = static_cast<unsigned char>(name[0]);
    if (!(std::isalpha(first) || first == '_')) fail("must start with a letter or '_'");
    for (unsigned char c : name) {
        if (!(std::isalnum(c) || c == '_')) fail("only letters, digits and '_' are allowed");
    }
}

pbs::CollectionSchema build_schema(const CollectionSpec& spec) {
    pbs::CollectionSchema schema;
    schema.set_name(spec.name);
    schema.set_description(spec.description);
    schema.set_enable_dynamic_field(true);
    pbs::FieldSchema* id = add_field(schema, kFieldId, pbs::Int64);
    id->set_is_primary_key(true);
    id->set_autoid(false);
    add_varchar(schema, kFieldUrl, int64_t(kMaxUrlBytes));
    add_varchar(schema, kFieldDescription, kDescriptionMaxBytes);
    *add_field(schema, kFieldVector, pbs::FloatVector)->add_type_params() =
        pair("dim", std::to_string(spec.dim));
    add_varchar(schema, kFieldAddedAt, int64_t(kMaxTimestampBytes));
    add_varchar(schema, kFieldUpdatedAt, int64_t(kMaxTimestampBytes));
    return schema;
}

std::vector<pbc::KeyValuePair> collection_properties(const CollectionSpec& spec) {
    std::vector<pbc::KeyValuePair> properties;
    for (const auto& [key, value] : spec.properties) {
        if (is_server_property(key)) {
            throw Error(ErrorCode::InvalidInput, "collection `" + spec.name + "`: property `" +
                                                     key +
                                                     "` is reserved for Milvus's own settings");
        }
        properties.push_back(pair(key, value));
    }
    return properties;
}

std::vector<pbc::KeyValuePair> index_params(const IndexSpec& index) {
    nlohmann::json params = nlohmann::json::object();
    if (index.kind == IndexKind::IvfFlat) params["nlist"] = index.nlist;
    if (index.kind == IndexKind::Hnsw) {
        params["M"] = index.m;
        params["efConstruction"] = index.ef_construction;
    }
    return {pair("index_type", std::string(index_kind_name(index.kind))),
            pair("metric_type", std::string(metric_name(index.metric))),
            pair("params", params.dump())};
}

std::vector<pbc::KeyValuePair> flat_stand_in(const IndexSpec& index) {
    IndexSpec flat = index;
    flat.kind = IndexKind::Flat;
    std::vector<pbc::KeyValuePair> params = index_params(flat);
    nlohmann::json wanted = nlohmann::json::parse(index_params(index).back().value());
    wanted[kRequestedIndexKey] = std::string(index_kind_name(index.kind));
    params.back().set_value(wanted.dump());
    // Milvus Lite keeps unknown top-level index params but not unknown keys inside "params".
    params.push_back(pair(kRequestedIndexKey, std::string(index_kind_name(index.kind))));
    return params;
}

CollectionSpec spec_from_description(const pb::DescribeCollectionResponse& collection,
                                     const pb::DescribeIndexResponse* index) {
    CollectionSpec spec;
    spec.name = collection.collection_name().empty() ? collection.schema().name()
                                                     : collection.collection_name();
    spec.description = collection.schema().description();
    spec.dim = layout_of(collection.schema()).dim;
    for (const auto& kv : collection.properties()) {
        if (!is_server_property(kv.key())) spec.properties[kv.key()] = kv.value();
    }
    if (index) {
        for (const auto& description : index->index_descriptions()) {
            if (description.field_name() == kFieldVector || index->index_descriptions_size() == 1) {
                spec.index = index_from_params(description.params());
                break;
            }
        }
    }
    return spec;
}

Layout layout_of(const pbs::CollectionSchema& schema) {
    Layout layout;
    layout.dynamic = schema.enable_dynamic_field();
    for (const auto& field : schema.fields()) {
        if (field.is_dynamic()) continue;
        layout.fields.insert(field.name());
        if (field.data_type() != pbs::FloatVector) continue;
        for (const auto& kv : field.type_params()) {
            if (kv.key() != "dim") continue;
            const std::string& text = kv.value();
            int dim = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), dim);
            if (error != std::errc() || end != text.data() + text.size() || dim < 1)
                throw Error(ErrorCode::Corrupt, "Milvus answer: vector field `" + field.name() +
                                                    "` has dim '" + text.substr(0, 40) +
                                                    "', not a positive integer");
            layout.dim = dim;
        }
    }
    return layout;
}

Layout full_layout(int dim) {
    Layout layout;
    layout.dim = dim;
    layout.fields = {kFieldId,          kFieldVector,  kFieldUrl,
                     kFieldDescription, kFieldAddedAt, kFieldUpdatedAt};
    return layout;
}

std::vector<Row> prepare_rows(const std::string& collection, std::span<const Row> rows,
                              const Layout& layout, const std::string& now) {
    std::vector<Row> out(rows.begin(), rows.end());
    std::unordered_set<int64_t> seen;
    for (Row& row : out) {
        if (!seen.insert(row.id).second)
            bad_row(collection, row.id, "the id appears twice in the batch");
        if (row.vector.size() != size_t(layout.dim)) {
            bad_row(collection, row.id,
                    "vector has " + std::to_string(row.vector.size()) +
                        " components, the collection expects " + std::to_string(layout.dim));
        }
        for (float x : row.vector) {
            if (!std::isfinite(x))
                bad_row(collection, row.id, "vector has a NaN or infinite component");
        }
        if (row.url.size() > kMaxUrlBytes)
            bad_row(collection, row.id, "url longer than 2000 bytes");
        if (row.description.size() > size_t(kDescriptionMaxBytes)) {
            bad_row(collection, row.id, "description longer than 65535 bytes");
        }
        if (row.added_at.empty()) row.added_at = now;
        if (row.updated_at.empty()) row.updated_at = now;
        if (row.added_at.size() > kMaxTimestampBytes ||
            row.updated_at.size() > kMaxTimestampBytes) {
            bad_row(collection, row.id, "timestamp longer than 50 bytes");
        }
        if (!row.extra.is_object())
            bad_row(collection, row.id, "extra fields must be a JSON object");
        for (const auto& [key, value] : row.extra.items()) {
            if (layout.has(key) || text_slot(row, key) || key == kDynamicField) {
                bad_row(collection, row.id,
                        "extra field `" + key + "` clashes with a schema field");
            }
        }
        if (!layout.dynamic && !row.extra.empty()) {
            bad_row(collection, row.id, "the collection has no dynamic field for extra fields");
        }
        if (!layout.dynamic && !layout.has(kFieldDescription) && !row.description.empty()) {
            bad_row(collection, row.id, "the collection has no description field");
        }
    }
    return out;
}

size_t row_wire_bytes(const Row& row) {
    // varint framing and JSON punctuation are covered by the constant
    return 64 + row.url.size() + row.description.size() + row.added_at.size() +
           row.updated_at.size() + row.vector.size() * sizeof(float) +
           (row.extra.empty() ? 2 : row.extra.dump().size());
}

std::vector<std::pair<size_t, size_t>> split_batches(std::span<const Row> rows, size_t max_bytes) {
    std::vector<std::pair<size_t, size_t>> batches;
    size_t begin = 0;
    size_t bytes = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        size_t row_bytes = row_wire_bytes(rows[i]);
        if (i > begin && bytes + row_bytes > max_bytes) {
            batches.emplace_back(begin, i);
            begin = i;
            bytes = 0;
        }
        bytes += row_bytes;
    }
    if (begin < rows.size()) batches.emplace_back(begin, rows.size());
    return batches;
}

void encode_rows(std::span<const Row> rows, const Layout& layout,
                 google::protobuf::RepeatedPtrField<pbs::FieldData>* columns) {
    auto* ids = add_column(columns, kFieldId, pbs::Int64)->mutable_scalars()->mutable_long_data();
    ids->mutable_data()->Reserve(int(rows.size()));
    for (const Row& row : rows) ids->add_data(row.id);

    for (const char* name : kTextFields) {
        if (!layout.has(name)) continue;
        auto* text =
            add_column(columns, name, pbs::VarChar)->mutable_scalars()->mutable_string_data();
        for (const Row& row : rows) text->add_data(text_of(row, name));
    }

    pbs::VectorField* vectors =
        add_column(columns, kFieldVector, pbs::FloatVector)->mutable_vectors();
    vectors->set_dim(layout.dim);
    auto* floats = vectors->mutable_float_vector()->mutable_data();
    floats->Resize(int(rows.size() * size_t(layout.dim)), 0.0f);
    float* out = floats->mutable_data();
    for (const Row& row : rows) {
        std::memcpy(out, row.vector.data(), row.vector.size() * sizeof(float));
        out += row.vector.size();
    }

    if (!layout.dynamic) return;
    pbs::FieldData* meta = add_column(columns, kDynamicField, pbs::JSON);
    meta->set_is_dynamic(true);
    auto* json = meta->mutable_scalars()->mutable_json_data();
    for (const Row& row : rows) {
        nlohmann::json object = row.extra.is_object() ? row.extra : nlohmann::json::object();
        for (const char* name : kTextFields) {
            if (!layout.has(name) && !text_of(row, name).empty()) object[name] = text_of(row, name);
        }
        json->add_data(object.dump());
    }
}

OutputPlan plan_output(const FieldList& fields, const Layout& layout) {
    OutputPlan plan;
    bool everything =
        fields.empty() || std::find(fields.begin(), fields.end(), "*") != fields.end();
    plan.vector = !fields.empty() && (everything || std::find(fields.begin(), fields.end(),
                                                              kFieldVector) != fields.end());
    plan.server_fields.push_back(kFieldId);
    bool needs_meta = false;
    if (everything) {
        for (const char* name : kTextFields) {
            if (layout.has(name)) plan.server_fields.push_back(name);
        }
        needs_meta = layout.dynamic;
        plan.want_dynamic = layout.dynamic;
        plan.all_dynamic = true;
    } else {
        plan.want_dynamic = false;
        plan.all_dynamic = false;
        for (const std::string& name : fields) {
            if (name == kFieldId || name == kFieldVector) continue;
            if (layout.has(name)) {
                if (std::find(plan.server_fields.begin(), plan.server_fields.end(), name) ==
                    plan.server_fields.end()) {
                    plan.server_fields.push_back(name);
                }
            } else if (name == kDynamicField) {
                plan.want_dynamic = plan.all_dynamic = layout.dynamic;
                needs_meta = layout.dynamic;
            } else if (layout.dynamic) {
                plan.want_dynamic = true;
                plan.dynamic_keys.insert(name);
                needs_meta = true;
            }
        }
    }
    if (plan.vector) plan.server_fields.push_back(kFieldVector);
    if (needs_meta) plan.server_fields.push_back(kDynamicField);
    return plan;
}

std::vector<Row> decode_rows(const google::protobuf::RepeatedPtrField<pbs::FieldData>& columns,
                             const OutputPlan& plan, const Layout& layout, const pbs::IDs* ids,
                             size_t count) {
    std::vector<Row> rows(count);
    if (ids) {
        if (size_t(ids->int_id().data_size()) < count) short_column("ids");
        for (size_t i = 0; i < count; ++i) rows[i].id = ids->int_id().data(int(i));
    }
    for (const pbs::FieldData& column : columns) {
        const std::string& name = column.field_name();
        if (column.has_vectors()) {
            if (name != kFieldVector || !plan.vector) continue;
            const auto& data = column.vectors().float_vector().data();
            const int64_t dim = column.vectors().dim();
            if (dim < 1)
                throw Error(ErrorCode::Corrupt, "Milvus answer: column `" + name +
                                                    "` has dimension " + std::to_string(dim));
            // dim * count could wrap around; the division cannot.
            if (count > 0 && uint64_t(dim) > uint64_t(data.size()) / count) short_column(name);
            const auto width = static_cast<std::ptrdiff_t>(dim);
            for (size_t i = 0; i < count; ++i) {
                const auto begin = data.begin() + static_cast<std::ptrdiff_t>(i) * width;
                rows[i].vector.assign(begin, begin + width);
            }
            continue;
        }
        const pbs::ScalarField& scalars = column.scalars();
        if (scalar_size(scalars) < count) {
            if (count == 0) continue;
            short_column(name);
        }
        if (column.is_dynamic() || name == kDynamicField) {
            if (!plan.want_dynamic) continue;
            for (size_t i = 0; i < count; ++i)
                merge_dynamic(rows[i], scalar_at(scalars, i), plan, layout);
        } else if (name == kFieldId && scalars.has_long_data()) {
            for (size_t i = 0; i < count; ++i) rows[i].id = scalars.long_data().data(int(i));
        } else if (is_text_field(name) && scalars.has_string_data()) {
            for (size_t i = 0; i < count; ++i)
                *text_slot(rows[i], name) = scalars.string_data().data(int(i));
        } else if (plan.all_dynamic || plan.dynamic_keys.count(name)) {
            for (size_t i = 0; i < count; ++i) rows[i].extra[name] = scalar_at(scalars, i);
        }
    }
    return rows;
}

size_t result_count(const google::protobuf::RepeatedPtrField<pbs::FieldData>& columns) {
    for (const auto& column : columns) {
        if (column.field_name() == kFieldId)
            return size_t(column.scalars().long_data().data_size());
    }
    return 0;
}

std::vector<std::vector<Hit>> decode_hits(const pbs::SearchResultData& result, size_t n,
                                          const OutputPlan& plan, const Layout& layout,
                                          const std::string& collection) {
    size_t total = size_t(result.ids().int_id().data_size());
    if (size_t(result.scores_size()) < total) {
        throw Error(ErrorCode::Corrupt,
                    "Milvus Search on collection `" + collection + "`: fewer scores than ids");
    }
    std::vector<Row> rows = decode_rows(result.fields_data(), plan, layout, &result.ids(), total);
    std::vector<std::vector<Hit>> hits(n);
    size_t at = 0;
    for (size_t q = 0; q < n && q < size_t(result.topks_size()); ++q) {
        size_t take = std::min<size_t>(size_t(result.topks(int(q))), total - at);
        for (size_t i = 0; i < take; ++i, ++at) {
            hits[q].push_back(Hit{std::move(rows[at]), result.scores(int(at))});
        }
    }
    return hits;
}

std::string placeholder_group(std::span<const float> queries, int dim) {
    pbc::PlaceholderGroup group;
    pbc::PlaceholderValue* value = group.add_placeholders();
    value->set_tag("$0");
    value->set_type(pbc::FloatVector);
    size_t n = dim > 0 ? queries.size() / size_t(dim) : 0;
    for (size_t i = 0; i < n; ++i) {
        // little-endian float32, as Milvus reads vectors (x86 and ARM hosts alike)
        value->add_values(reinterpret_cast<const char*>(queries.data() + i * size_t(dim)),
                          size_t(dim) * sizeof(float));
    }
    return group.SerializeAsString();
}

std::string id_list_expr(std::span<const int64_t> ids) {
    std::string expr = "id in [";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) expr += ',';
        expr += std::to_string(ids[i]);
    }
    return expr + "]";
}

std::string and_expr(const std::string& left, const std::string& right) {
    if (left.empty()) return right;
    if (right.empty()) return left;
    return "(" + left + ") and (" + right + ")";
}

}  // namespace clipdex::store::milvus
