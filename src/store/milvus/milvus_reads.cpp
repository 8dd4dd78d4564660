// Reads of the Milvus backend: get, query and count within Milvus's 16384-row query window
// (scans by id range beyond it), filters as the server can run them, and search.
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "store/filter/filter.h"
#include "store/milvus/milvus_store_impl.h"

namespace clipdex::store::milvus {
namespace {

constexpr int64_t kMaxQueriesPerSearch = 16384;

void sort_by_id(std::vector<Row>& rows) {
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
}

}  // namespace

std::vector<Row> MilvusStore::get(const std::string& name, std::span<const int64_t> ids,
                                  const FieldList& output_fields) {
    Collection info = collection(name);
    ensure_loaded(name);
    OutputPlan plan = plan_output(output_fields, info.layout);
    std::unordered_map<int64_t, Row> found;
    std::vector<int64_t> unique(ids.begin(), ids.end());
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (size_t begin = 0; begin < unique.size(); begin += kIdsPerExpression) {
        size_t end = std::min(unique.size(), begin + kIdsPerExpression);
        std::span<const int64_t> chunk(unique.data() + begin, end - begin);
        for (Row& row : query_page(name, info.layout, id_list_expr(chunk), plan, -1, 0)) {
            int64_t id = row.id;
            found.emplace(id, std::move(row));
        }
    }
    std::vector<Row> rows;
    for (int64_t id : ids) {
        if (auto it = found.find(id); it != found.end()) rows.push_back(it->second);
    }
    return rows;
}

std::vector<Row> MilvusStore::query(const std::string& name, const QueryRequest& request) {
    if (request.offset < 0 || request.limit < -1) {
        throw Error(ErrorCode::InvalidInput, "collection `" + name + "`: negative limit or offset");
    }
    collection(name);
    std::string expr = server_filter(name, request.filter);
    return scan(name, expr, request.output_fields, request.offset, request.limit);
}

int64_t MilvusStore::count(const std::string& name, const std::string& filter_text) {
    collection(name);
    std::string expr = server_filter(name, filter_text);
    ensure_loaded(name);
    return count_expr(name, expr);
}

int64_t MilvusStore::count_expr(const std::string& name, const std::string& expr) {
    pb::QueryRequest request;
    scope(request);
    request.set_collection_name(name);
    request.set_expr(expr);
    request.add_output_fields("count(*)");
    read_consistency(name, request);
    auto response = client_.call("Query count(*)", name, &Stub::Query, request);
    for (const auto& column : response.fields_data()) {
        if (column.scalars().long_data().data_size() > 0)
            return column.scalars().long_data().data(0);
    }
    throw Error(ErrorCode::Corrupt,
                "Milvus count(*) on collection `" + name + "` returned no count");
}

std::vector<std::vector<Hit>> MilvusStore::search(const std::string& name,
                                                  std::span<const float> queries,
                                                  const SearchRequest& request) {
    Collection info = collection(name);
    size_t dim = size_t(info.layout.dim);
    if (request.k <= 0)
        throw Error(ErrorCode::InvalidInput, "collection `" + name + "`: k must be positive");
    if (dim == 0 || queries.empty() || queries.size() % dim != 0) {
        throw Error(ErrorCode::InvalidInput,
                    "collection `" + name + "`: query data of " + std::to_string(queries.size()) +
                        " floats is not a whole number of " + std::to_string(dim) + "-d vectors");
    }
    for (float x : queries) {
        if (!std::isfinite(x))
            throw Error(ErrorCode::InvalidInput,
                        "collection `" + name + "`: query vector has a NaN or infinite component");
    }
    std::string expr = server_filter(name, request.filter);
    ensure_loaded(name);
    OutputPlan plan = plan_output(request.output_fields, info.layout);
    size_t per_call = std::clamp<size_t>(kMaxRequestBytes / (dim * sizeof(float) + 64), 1,
                                         size_t(kMaxQueriesPerSearch));
    std::vector<std::vector<Hit>> hits;
    for (size_t begin = 0; begin < queries.size() / dim; begin += per_call) {
        size_t n = std::min(per_call, queries.size() / dim - begin);
        auto part =
            search_part(name, info, queries.subspan(begin * dim, n * dim), n, expr, plan, request);
        for (auto& list : part) hits.push_back(std::move(list));
    }
    return hits;
}

// The filter as this server can run it. Milvus before 2.4 runs `like` only as a prefix
// match; other patterns are evaluated here and sent as the list of matching ids.
std::string MilvusStore::server_filter(const std::string& name, const std::string& filter_text) {
    filter::Expression parsed = filter::parse(filter_text);
    if (parsed.empty()) return {};
    std::string expr = filter::to_milvus(parsed);
    if (filter_text.find("like") == std::string::npos) return expr;
    Collection info = collection(name);
    ensure_loaded(name);
    try {
        query_page(name, info.layout, expr, plan_output({kFieldId}, info.layout), 1, 0);
        return expr;
    } catch (const Error& e) {
        if (std::string(e.what()).find("unsupported pattern") == std::string::npos) throw;
    }
    std::vector<int64_t> ids;
    for (const Row& row : scan(name, "", {}, 0, -1)) {
        if (filter::matches(parsed, row)) ids.push_back(row.id);
    }
    return id_list_expr(ids);
}

std::vector<Row> MilvusStore::query_page(const std::string& name, const Layout& layout,
                                         const std::string& expr, const OutputPlan& plan,
                                         int64_t limit, int64_t offset, bool settled_only) {
    pb::QueryRequest request;
    scope(request);
    request.set_collection_name(name);
    request.set_expr(expr);
    for (const auto& field : plan.server_fields) request.add_output_fields(field);
    if (limit >= 0) {
        auto* kv = request.add_query_params();
        kv->set_key("limit");
        kv->set_value(std::to_string(limit));
        kv = request.add_query_params();
        kv->set_key("offset");
        kv->set_value(std::to_string(offset));
    }
    read_consistency(name, request, settled_only);
    auto response = client_.call("Query", name, &Stub::Query, request);
    std::vector<Row> rows = decode_rows(response.fields_data(), plan, layout, nullptr,
                                        result_count(response.fields_data()));
    sort_by_id(rows);
    return rows;
}

// Rows matching expr in ascending id order, offset and limit applied. One query answers
// at most kMaxQueryWindow rows, and not every server returns the lowest ids first (Milvus
// Lite 3 does not), so an answer is taken as the lowest ids only when it holds everything
// that matches or a count confirms nothing below its top id is missing; otherwise the
// matching ids are collected range by range. A read of `limit` rows asks for offset + limit
// rows, not for a whole window.
std::vector<Row> MilvusStore::scan(const std::string& name, const std::string& expr,
                                   const FieldList& fields, int64_t offset, int64_t limit) {
    Collection info = collection(name);
    ensure_loaded(name);
    OutputPlan plan = plan_output(fields, info.layout);
    if (limit == 0) return {};
    int64_t page = kMaxQueryWindow;
    if (plan.vector) {
        page = std::clamp<int64_t>(int64_t(kMaxRequestBytes / (size_t(info.layout.dim) * 4 + 256)),
                                   1, page);
    }
    int64_t want = limit < 0 ? -1 : offset + limit;
    if (want > 0 && want < page) page = want;
    std::vector<Row> rows = query_page(name, info.layout, expr, plan, page, 0);
    if (int64_t(rows.size()) < page || (page == want && lowest_ids(name, expr, rows))) {
        return slice(std::move(rows), offset, limit);
    }
    std::vector<int64_t> ids = scan_ids(name, info.layout, expr, want);
    std::vector<int64_t> window;
    for (size_t i = size_t(offset); i < ids.size() && (limit < 0 || int64_t(window.size()) < limit);
         ++i) {
        window.push_back(ids[i]);
    }
    rows.clear();
    size_t chunk_rows = std::min<size_t>(kIdsPerExpression, size_t(page));
    for (size_t begin = 0; begin < window.size(); begin += chunk_rows) {
        size_t end = std::min(window.size(), begin + chunk_rows);
        std::span<const int64_t> chunk(window.data() + begin, end - begin);
        for (Row& row : query_page(name, info.layout, id_list_expr(chunk), plan, -1, 0))
            rows.push_back(std::move(row));
    }
    return rows;
}

// Whether rows (ascending, non-empty) are the lowest ids matching expr.
bool MilvusStore::lowest_ids(const std::string& name, const std::string& expr,
                             const std::vector<Row>& rows) {
    if (rows.empty()) return true;
    std::string below_top = id_range(std::numeric_limits<int64_t>::min(), rows.back().id);
    return count_expr(name, and_expr(expr, below_top)) == int64_t(rows.size());
}

std::vector<Row> MilvusStore::slice(std::vector<Row> rows, int64_t offset, int64_t limit) {
    if (offset >= int64_t(rows.size())) return {};
    rows.erase(rows.begin(), rows.begin() + offset);
    if (limit >= 0 && int64_t(rows.size()) > limit) rows.resize(size_t(limit));
    return rows;
}

std::string MilvusStore::id_range(int64_t lo, int64_t hi) {
    std::string range;
    if (lo != std::numeric_limits<int64_t>::min()) range = "id >= " + std::to_string(lo);
    if (hi != std::numeric_limits<int64_t>::max())
        range = and_expr(range, "id <= " + std::to_string(hi));
    return range;
}

// The ids matching expr, ascending; stops once `want` are known (want < 0: all). A full
// answer for [lo, hi] is trusted only when a count confirms nothing below its top is missing;
// otherwise the range is halved at the answer's median. Pages hold `want` ids when fewer
// than a window are wanted.
std::vector<int64_t> MilvusStore::scan_ids(const std::string& name, const Layout& layout,
                                           const std::string& expr, int64_t want) {
    OutputPlan ids_only = plan_output({kFieldId}, layout);
    int64_t window = want > 0 ? std::min(want, kMaxQueryWindow) : kMaxQueryWindow;
    std::vector<int64_t> ids;
    std::vector<std::pair<int64_t, int64_t>> ranges{
        {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}};
    while (!ranges.empty() && (want < 0 || int64_t(ids.size()) < want)) {
        auto [lo, hi] = ranges.back();
        ranges.pop_back();
        auto page = query_page(name, layout, and_expr(expr, id_range(lo, hi)), ids_only, window, 0);
        bool complete = int64_t(page.size()) < window;
        int64_t top = page.empty() ? hi : page.back().id;
        if (!complete &&
            count_expr(name, and_expr(expr, id_range(lo, top))) == int64_t(page.size())) {
            if (top < hi) ranges.emplace_back(top + 1, hi);
            complete = true;
        }
        if (complete) {
            for (const Row& row : page) ids.push_back(row.id);
            continue;
        }
        int64_t mid = page[page.size() / 2].id;
        if (mid >= hi || mid < lo) mid = lo / 2 + hi / 2;
        ranges.emplace_back(mid + 1, hi);
        ranges.emplace_back(lo, mid);
    }
    return ids;
}

std::vector<std::vector<Hit>> MilvusStore::search_part(
    const std::string& name, const Collection& info, std::span<const float> queries, size_t n,
    const std::string& expr, const OutputPlan& plan, const SearchRequest& search) {
    pb::SearchRequest request;
    scope(request);
    request.set_collection_name(name);
    request.set_dsl(expr);
    request.set_dsl_type(pbc::BoolExprV1);
    request.set_placeholder_group(placeholder_group(queries, info.layout.dim));
    request.set_nq(int64_t(n));
    for (const auto& field : plan.server_fields) {
        if (field != kFieldId) request.add_output_fields(field);
    }
    nlohmann::json params = {{"nprobe", search.params.nprobe},
                             {"ef", std::max(search.params.ef, search.k)}};
    const std::pair<const char*, std::string> kvs[] = {
        {"anns_field", kFieldVector},
        {"topk", std::to_string(search.k)},
        {"metric_type", std::string(metric_name(info.spec.index.metric))},
        {"params", params.dump()},
        {"round_decimal", "-1"},
        {"offset", "0"},
    };
    for (const auto& [key, value] : kvs) {
        auto* kv = request.add_search_params();
        kv->set_key(key);
        kv->set_value(value);
    }
    read_consistency(name, request);
    auto response = client_.call("Search", name, &Stub::Search, request);
    return decode_hits(response.results(), n, plan, info.layout, name);
}

}  // namespace clipdex::store::milvus
