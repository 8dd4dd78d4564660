// Reads of the embedded store's rows: get, query and count, the output fields they return, and
// filters run in SQLite (filter::to_sql) to id sets.
#include <algorithm>
#include <exception>

#include "store/embedded/embedded_store_impl.h"

namespace clipdex::store::embedded {

namespace {

void bind_where(Statement& stmt, const filter::SqlWhere& where, int first) {
    int i = first;
    for (const auto& p : where.params) {
        switch (p.kind) {
            case filter::SqlValue::Kind::Integer:
                stmt.bind(i++, p.integer);
                break;
            case filter::SqlValue::Kind::Real:
                stmt.bind(i++, p.real);
                break;
            case filter::SqlValue::Kind::Text:
                stmt.bind(i++, std::string_view(p.text));
                break;
        }
    }
}

}  // namespace

Projection make_projection(const FieldList& fields) {
    Projection p;
    if (fields.empty()) return p;
    p = Projection{false, false, false, false, false, false, {}};
    for (const auto& f : fields) {
        if (f == "*") {
            p = Projection{true, true, true, true, true, true, {}};
            return p;
        }
        if (f == kFieldId) continue;
        if (f == kFieldUrl)
            p.url = true;
        else if (f == kFieldDescription)
            p.description = true;
        else if (f == kFieldAddedAt)
            p.added_at = true;
        else if (f == kFieldUpdatedAt)
            p.updated_at = true;
        else if (f == kFieldVector)
            p.vector = true;
        else if (f == "$meta")
            p.all_extra = true;
        else
            p.extra_keys.push_back(f);
    }
    return p;
}

std::vector<Row> EmbeddedStore::get(const std::string& collection, std::span<const int64_t> ids,
                                    const FieldList& output_fields) {
    auto projection = make_projection(output_fields);
    auto c = projection.vector ? current(collection) : shell(collection);
    auto fetched = fetch_rows(*c, std::vector<int64_t>(ids.begin(), ids.end()), projection);
    std::vector<Row> out;
    out.reserve(ids.size());
    for (int64_t id : ids) {
        auto it = fetched.find(id);
        if (it != fetched.end()) out.push_back(it->second);
    }
    return out;
}

std::vector<Row> EmbeddedStore::query(const std::string& collection, const QueryRequest& request) {
    if (request.limit < -1)
        throw Error(ErrorCode::InvalidInput,
                    "collection `" + collection + "`: query limit must be -1 (none) or >= 0");
    if (request.offset < 0)
        throw Error(ErrorCode::InvalidInput,
                    "collection `" + collection + "`: query offset must be >= 0");
    auto expr = parse_filter(collection, request.filter);
    auto projection = make_projection(request.output_fields);
    auto c = projection.vector ? current(collection) : shell(collection);
    auto where = filter::to_sql(expr);
    std::vector<Row> out;
    {
        auto db = lease();
        Statement stmt(*db, "SELECT id, url, description, added_at, updated_at, extra FROM " +
                                c->table("rows") + " WHERE (" + where.sql +
                                ") ORDER BY id LIMIT ? OFFSET ?");
        bind_where(stmt, where, 1);
        int next = static_cast<int>(where.params.size()) + 1;
        stmt.bind(next, request.limit).bind(next + 1, request.offset);
        while (stmt.step()) out.push_back(read_row(stmt, projection, collection));
    }
    if (projection.vector) attach_vectors(*c, out);
    return out;
}

int64_t EmbeddedStore::count(const std::string& collection, const std::string& filter_text) {
    auto expr = parse_filter(collection, filter_text);
    auto db = lease();
    auto record = read_record(*db, collection);
    if (!record) throw not_found(collection);
    auto where = filter::to_sql(expr);
    Statement stmt(*db, "SELECT count(*) FROM rows_" + std::to_string(record->cid) + " WHERE (" +
                            where.sql + ")");
    bind_where(stmt, where, 1);
    stmt.step();
    return stmt.column_int(0);
}

filter::Expression EmbeddedStore::parse_filter(const std::string& collection,
                                               const std::string& text) {
    try {
        return filter::parse(text);
    } catch (const Error& e) {
        throw Error(e.code(), "collection `" + collection + "`: " + e.what());
    }
}

std::vector<int64_t> EmbeddedStore::matching_ids(Db& db, int64_t cid,
                                                 const filter::Expression& expr) {
    auto where = filter::to_sql(expr);
    Statement stmt(db, "SELECT id FROM rows_" + std::to_string(cid) + " WHERE (" + where.sql +
                           ") ORDER BY id");
    bind_where(stmt, where, 1);
    std::vector<int64_t> ids;
    while (stmt.step()) ids.push_back(stmt.column_int(0));
    return ids;
}

Row EmbeddedStore::read_row(Statement& stmt, const Projection& p, const std::string& collection) {
    Row row;
    row.id = stmt.column_int(0);
    if (p.url) row.url = stmt.column_text(1);
    if (p.description) row.description = stmt.column_text(2);
    if (p.added_at) row.added_at = stmt.column_text(3);
    if (p.updated_at) row.updated_at = stmt.column_text(4);
    if (p.all_extra || !p.extra_keys.empty()) {
        nlohmann::json extra;
        try {
            extra = nlohmann::json::parse(stmt.column_text(5));
        } catch (const std::exception& e) {
            throw Error(ErrorCode::Corrupt, "collection `" + collection + "`: row id " +
                                                std::to_string(row.id) +
                                                ": stored dynamic fields are damaged: " + e.what());
        }
        if (!extra.is_object())
            throw Error(ErrorCode::Corrupt, "collection `" + collection + "`: row id " +
                                                std::to_string(row.id) +
                                                ": dynamic fields are not an object");
        if (p.all_extra) {
            row.extra = std::move(extra);
        } else {
            for (const auto& key : p.extra_keys)
                if (extra.contains(key)) row.extra[key] = extra[key];
        }
    }
    return row;
}

// `state_locked`: the caller already holds state_mutex_ (shared), which is not recursive.
std::unordered_map<int64_t, Row> EmbeddedStore::fetch_rows(const Collection& c,
                                                           const std::vector<int64_t>& ids,
                                                           const Projection& p, bool state_locked) {
    std::unordered_map<int64_t, Row> out;
    {
        auto db = lease();
        Transaction tx(*db, false);
        constexpr size_t kBatch = 256;
        std::string placeholders;
        for (size_t start = 0; start < ids.size(); start += kBatch) {
            size_t n = std::min(kBatch, ids.size() - start);
            placeholders.clear();
            for (size_t i = 0; i < n; ++i) placeholders += i ? ",?" : "?";
            Statement stmt(*db, "SELECT id, url, description, added_at, updated_at, extra FROM " +
                                    c.table("rows") + " WHERE id IN (" + placeholders + ")");
            for (size_t i = 0; i < n; ++i) stmt.bind(static_cast<int>(i + 1), ids[start + i]);
            while (stmt.step()) {
                Row row = read_row(stmt, p, c.spec.name);
                out.emplace(row.id, std::move(row));
            }
        }
    }
    if (p.vector) {
        std::shared_lock state(state_mutex_, std::defer_lock);
        if (!state_locked) state.lock();
        for (auto& [id, row] : out) {
            int64_t slot = c.arena.slot_of(id);
            if (slot < 0) continue;
            const float* v = c.arena.vector_at(static_cast<uint32_t>(slot));
            row.vector.assign(v, v + c.spec.dim);
        }
    }
    return out;
}

void EmbeddedStore::attach_vectors(const Collection& c, std::vector<Row>& rows) {
    std::shared_lock state(state_mutex_);
    for (auto& row : rows) {
        int64_t slot = c.arena.slot_of(row.id);
        if (slot < 0) continue;
        const float* v = c.arena.vector_at(static_cast<uint32_t>(slot));
        row.vector.assign(v, v + c.spec.dim);
    }
}

}  // namespace clipdex::store::embedded
