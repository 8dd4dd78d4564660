// Writes to the Milvus backend: insert (with the duplicate check Milvus does not make), upsert
// (keeping added_at), remove by id or filter (counting what was removed), in batches.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <type_traits>
#include <unordered_map>

#include "store/filter/filter.h"
#include "store/milvus/milvus_store_impl.h"

namespace clipdex::store::milvus {

// The ids among `ids` that the collection holds. For insert's duplicate check
// (`before_insert`), this client's inserts of the last second are matched here and the
// server is asked only as of the writes before them, which it has applied already: a
// bulk load does not wait for a time tick per batch.
std::vector<int64_t> MilvusStore::existing_ids(const std::string& name, std::vector<int64_t> ids,
                                               bool before_insert) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.empty()) return {};
    Collection info = collection(name);
    ensure_loaded(name);
    OutputPlan plan = plan_output({kFieldId}, info.layout);
    std::vector<int64_t> present;
    if (before_insert) present = recently_inserted(name, ids);
    for (size_t begin = 0; begin < ids.size(); begin += kIdsPerExpression) {
        size_t end = std::min(ids.size(), begin + kIdsPerExpression);
        std::span<const int64_t> chunk(ids.data() + begin, end - begin);
        for (const Row& row :
             query_page(name, info.layout, id_list_expr(chunk), plan, -1, 0, before_insert)) {
            present.push_back(row.id);
        }
    }
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    return present;
}

// A replaced row keeps the time it was first added, whatever the caller sent.
void MilvusStore::keep_added_at(const std::string& name, std::vector<Row>& rows) {
    std::vector<int64_t> ids;
    for (const Row& row : rows) ids.push_back(row.id);
    std::unordered_map<int64_t, std::string> added;
    for (Row& row : get(name, ids, {kFieldAddedAt})) added[row.id] = std::move(row.added_at);
    for (Row& row : rows) {
        if (auto it = added.find(row.id); it != added.end() && !it->second.empty())
            row.added_at = it->second;
    }
}

void MilvusStore::delete_ids(const std::string& name, const std::vector<int64_t>& ids) {
    for (size_t begin = 0; begin < ids.size(); begin += kIdsPerExpression) {
        size_t end = std::min(ids.size(), begin + kIdsPerExpression);
        pb::DeleteRequest request;
        scope(request);
        request.set_collection_name(name);
        request.set_expr(id_list_expr(std::span<const int64_t>(ids.data() + begin, end - begin)));
        wrote(name, client_.call("Delete", name, &Stub::Delete, request).timestamp());
    }
}

template <class Request>
void MilvusStore::write_batches(const std::string& name, const std::vector<Row>& rows,
                                const Layout& layout, const char* what,
                                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             pb::MutationResult*),
                                bool undo_on_failure) {
    std::vector<int64_t> written;
    for (auto [begin, end] : split_batches(rows, kMaxRequestBytes)) {
        std::span<const Row> batch(rows.data() + begin, end - begin);
        Request request;
        scope(request);
        request.set_collection_name(name);
        request.set_num_rows(uint32_t(batch.size()));
        encode_rows(batch, layout, request.mutable_fields_data());
        try {
            uint64_t timestamp = client_.call(what, name, method, request).timestamp();
            if constexpr (std::is_same_v<Request, pb::InsertRequest>) {
                std::vector<int64_t> ids;
                for (const Row& row : batch) ids.push_back(row.id);
                inserted(name, timestamp, std::move(ids));
            } else {
                wrote(name, timestamp);
            }
        } catch (const Error&) {
            if (undo_on_failure && !written.empty()) {
                try {
                    delete_ids(name, written);  // keep the call all-or-nothing
                } catch (const Error&) {
                }
            }
            throw;
        }
        for (const Row& row : batch) written.push_back(row.id);
    }
}

void MilvusStore::insert(const std::string& name, std::span<const Row> rows) {
    writable();
    if (rows.empty()) return;
    std::lock_guard write(write_mutex_);
    Collection info = collection(name);
    std::vector<Row> prepared = prepare_rows(name, rows, info.layout, utc_timestamp_now());
    std::vector<int64_t> ids;
    for (const Row& row : prepared) ids.push_back(row.id);
    // Milvus keeps duplicate primary keys side by side; the contract refuses them.
    std::vector<int64_t> present = existing_ids(name, ids, true);
    if (!present.empty()) {
        std::string list;
        for (size_t i = 0; i < present.size() && i < 5; ++i)
            list += (i ? ", " : "") + std::to_string(present[i]);
        throw Error(ErrorCode::AlreadyExists,
                    "collection `" + name + "`: " + std::to_string(present.size()) +
                        " id(s) already present: " + list + (present.size() > 5 ? ", …" : ""));
    }
    write_batches<pb::InsertRequest>(name, prepared, info.layout, "Insert", &Stub::Insert, true);
}

void MilvusStore::upsert(const std::string& name, std::span<const Row> rows) {
    writable();
    if (rows.empty()) return;
    std::lock_guard write(write_mutex_);
    Collection info = collection(name);
    std::vector<Row> given(rows.begin(), rows.end());
    keep_added_at(name, given);
    std::vector<Row> prepared = prepare_rows(name, given, info.layout, utc_timestamp_now());
    write_batches<pb::UpsertRequest>(name, prepared, info.layout, "Upsert", &Stub::Upsert, false);
}

// Milvus has no partial update: its upsert replaces whole rows, vector included. So the rows
// are read whole (with their vectors), patched here and upserted back; the vectors go out as
// they came in, bit-exact, and the server re-indexes them as it does for any upsert.
int64_t MilvusStore::update(const std::string& name, std::span<const RowPatch> patches) {
    writable();
    if (patches.empty()) return 0;
    std::vector<int64_t> ids;
    for (const RowPatch& p : patches) ids.push_back(p.id);
    std::vector<Row> rows = get(name, ids, {"*"});
    std::unordered_map<int64_t, Row*> by_id;
    for (Row& row : rows) by_id[row.id] = &row;
    for (const RowPatch& p : patches) {
        auto it = by_id.find(p.id);
        if (it == by_id.end()) continue;
        Row& row = *it->second;
        if (p.url) row.url = *p.url;
        if (p.description) row.description = *p.description;
        if (!p.extra.is_object())
            throw Error(ErrorCode::InvalidInput, "collection `" + name + "`: row id " +
                                                     std::to_string(p.id) +
                                                     ": dynamic fields must be a JSON object");
        for (const auto& [key, value] : p.extra.items()) row.extra[key] = value;
        row.updated_at.clear();
    }
    upsert(name, rows);
    return int64_t(rows.size());
}

int64_t MilvusStore::remove(const std::string& name, std::span<const int64_t> ids) {
    writable();
    std::lock_guard write(write_mutex_);
    collection(name);
    // Milvus counts the ids it was given, present or not; the contract counts rows removed.
    std::vector<int64_t> present = existing_ids(name, {ids.begin(), ids.end()});
    delete_ids(name, present);
    return int64_t(present.size());
}

int64_t MilvusStore::remove_where(const std::string& name, const std::string& filter_text) {
    writable();
    std::lock_guard write(write_mutex_);
    collection(name);
    std::string expr = server_filter(name, filter_text);
    std::vector<int64_t> ids;
    for (const Row& row : scan(name, expr, {kFieldId}, 0, -1)) ids.push_back(row.id);
    delete_ids(name, ids);
    return int64_t(ids.size());
}

}  // namespace clipdex::store::milvus
