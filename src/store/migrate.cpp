// Collection copy between stores; see migrate.h for the contract.
#include "store/migrate.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace clipdex::store {

namespace {

const FieldList kAllFields = {"*"};
const FieldList kIdOnly = {kFieldId};
const FieldList kVectorOnly = {kFieldVector};
// Ids read per source page (8 bytes each).
constexpr int64_t kIdPage = 100000;

bool same_vector(const std::vector<float>& a, const std::vector<float>& b) {
    // Bits, not values: -0.0 == 0.0 and NaN != NaN would both hide a lossy copy.
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::string where(const std::string& uri, const std::string& collection) {
    return "collection `" + collection + "` of " + uri;
}

// The destination's collection: created from the source's spec, or checked against it.
bool prepare_destination(Store& src, Store& dst, const MigrateOptions& options,
                         const std::string& to) {
    CollectionSpec spec = src.describe_collection(options.collection).spec;
    spec.name = to;
    if (options.index) spec.index = *options.index;
    if (!dst.has_collection(to)) {
        dst.create_collection(spec);
        return true;
    }
    const CollectionSpec existing = dst.describe_collection(to).spec;
    if (existing.dim != spec.dim) {
        throw Error(ErrorCode::Conflict, where(dst.uri(), to) + " has dim " +
                                             std::to_string(existing.dim) + " but " +
                                             where(src.uri(), options.collection) + " has dim " +
                                             std::to_string(spec.dim));
    }
    if (existing.index.metric != spec.index.metric) {
        throw Error(ErrorCode::Conflict, where(dst.uri(), to) + " uses metric " +
                                             std::string(metric_name(existing.index.metric)) +
                                             " but the copy needs " +
                                             std::string(metric_name(spec.index.metric)));
    }
    return false;
}

// One page of the source in ascending id order, after `last` (none for the first page).
std::vector<Row> read_page(Store& src, const std::string& collection, std::optional<int64_t> last,
                           int64_t limit, const FieldList& fields) {
    QueryRequest request;
    // An id cursor rather than an offset: Milvus caps offset + limit, and offsets rescan.
    if (last) request.filter = "id > " + std::to_string(*last);
    request.output_fields = fields;
    request.limit = limit;
    return src.query(collection, request);
}

std::vector<int64_t> ids_of(const std::vector<Row>& rows) {
    std::vector<int64_t> ids;
    ids.reserve(rows.size());
    for (const Row& row : rows) ids.push_back(row.id);
    return ids;
}

struct BatchResult {
    int64_t copied = 0;
    int64_t skipped = 0;
};

// The destination's copies of `ids`, vectors included. Scalars first, vectors only for the ids
// found: a fresh copy then never reads vectors back (milvus-lite 2.5 fails vector reads from
// growing IVF segments), and a resumed one reads only what it must compare.
std::unordered_map<int64_t, Row> held_rows(Store& dst, const std::string& to,
                                           const std::vector<int64_t>& ids) {
    std::unordered_map<int64_t, Row> held;
    std::vector<int64_t> found;
    for (Row& row : dst.get(to, ids)) {
        found.push_back(row.id);
        held.emplace(row.id, std::move(row));
    }
    if (found.empty()) return held;
    for (Row& row : dst.get(to, found, kVectorOnly)) {
        if (auto it = held.find(row.id); it != held.end())
            it->second.vector = std::move(row.vector);
    }
    return held;
}

// Writes the rows of one source page that the destination lacks or holds differently.
BatchResult copy_batch(Store& dst, const std::string& to, const std::vector<Row>& page) {
    const std::unordered_map<int64_t, Row> held = held_rows(dst, to, ids_of(page));
    std::vector<Row> writes;
    std::vector<int64_t> stale;
    BatchResult result;
    for (const Row& row : page) {
        auto it = held.find(row.id);
        if (it != held.end() && rows_identical(row, it->second)) {
            ++result.skipped;
            continue;
        }
        // upsert keeps a present row's added_at; removing it first lets the source's through.
        if (it != held.end()) stale.push_back(row.id);
        writes.push_back(row);
    }
    if (!stale.empty()) dst.remove(to, stale);
    if (!writes.empty()) dst.upsert(to, writes);
    result.copied = static_cast<int64_t>(writes.size());
    return result;
}

// Calls `visit` with the source's ids in ascending order, `batch` at a time. Ids are read in
// large pages through an id cursor: every page read costs the Milvus backend a scan of the
// matching ids, so pages of batch size would make a copy quadratic; rows are then fetched by id.
template <typename Visit>
void for_each_id_batch(Store& src, const std::string& collection, int64_t batch, Visit&& visit) {
    std::optional<int64_t> last;
    for (;;) {
        const std::vector<int64_t> ids = ids_of(read_page(src, collection, last, kIdPage, kIdOnly));
        if (ids.empty()) return;
        last = ids.back();
        for (size_t begin = 0; begin < ids.size(); begin += static_cast<size_t>(batch)) {
            const size_t end = std::min(ids.size(), begin + static_cast<size_t>(batch));
            visit(std::vector<int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                       ids.begin() + static_cast<std::ptrdiff_t>(end)));
        }
    }
}

// Source ids the destination does not hold, read back after the copy.
int64_t count_missing(Store& src, Store& dst, const std::string& from, const std::string& to,
                      int64_t batch) {
    int64_t missing = 0;
    for_each_id_batch(src, from, batch, [&](const std::vector<int64_t>& ids) {
        missing += static_cast<int64_t>(ids.size() - dst.get(to, ids, kIdOnly).size());
    });
    return missing;
}

void check_options(const MigrateOptions& options) {
    if (options.batch_size < 1) {
        throw Error(ErrorCode::InvalidInput, "migrate: batch size must be at least 1, got " +
                                                 std::to_string(options.batch_size));
    }
    if (options.collection.empty())
        throw Error(ErrorCode::InvalidInput, "migrate: no source collection named");
}

}  // namespace

bool rows_identical(const Row& a, const Row& b) {
    return a.id == b.id && a.url == b.url && a.description == b.description &&
           a.added_at == b.added_at && a.updated_at == b.updated_at && a.extra == b.extra &&
           same_vector(a.vector, b.vector);
}

MigrateReport migrate_collection(Store& src, Store& dst, const MigrateOptions& options) {
    check_options(options);
    const auto started = std::chrono::steady_clock::now();
    MigrateReport report;
    report.source_collection = options.collection;
    report.destination_collection =
        options.to_collection.empty() ? options.collection : options.to_collection;
    const std::string& to = report.destination_collection;
    report.created = prepare_destination(src, dst, options, to);

    MigrateProgress progress;
    progress.total = src.count(options.collection);
    for_each_id_batch(
        src, options.collection, options.batch_size, [&](const std::vector<int64_t>& ids) {
            const std::vector<Row> page = src.get(options.collection, ids, kAllFields);
            const BatchResult batch = copy_batch(dst, to, page);
            progress.copied += batch.copied;
            progress.skipped += batch.skipped;
            progress.done += static_cast<int64_t>(page.size());
            ++progress.batches;
            if (options.progress) options.progress(progress);
        });
    dst.flush(to);

    report.copied = progress.copied;
    report.skipped = progress.skipped;
    report.source_rows = src.count(options.collection);
    report.destination_rows = dst.count(to);
    report.missing = count_missing(src, dst, options.collection, to, options.batch_size);
    report.verified = report.missing == 0 && report.source_rows == progress.done;
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

}  // namespace clipdex::store
