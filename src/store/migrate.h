// Copy one collection between two stores of any backend (embedded file <-> Milvus server),
// bit-exact: ids, url, description, added_at, updated_at, dynamic fields and vectors.
//
//   auto src = open_store("./old.db"), dst = open_store("http://127.0.0.1:19530");
//   MigrateReport report = migrate_collection(*src, *dst, {});
//   if (!report.verified) ...
//
// The source's ids are read in ascending order through an id cursor (`id > LAST`), in large
// pages; rows are then fetched by id one batch at a time. Each batch is compared with what the
// destination already holds for those ids, and only missing or different rows are upserted, so a
// run that was interrupted (crash, Ctrl+C, a progress callback that throws) is resumed by running
// it again: nothing is duplicated, nothing already copied is written twice.
//
// The destination collection is created with the source's spec (dim, metric, index, description,
// properties) when missing; when present, its dim and metric must match (Error Conflict).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "clipdex/store.h"

namespace clipdex::store {

struct MigrateProgress {
    int64_t done = 0;     // source rows handled so far (copied + skipped)
    int64_t total = 0;    // source rows at the start
    int64_t copied = 0;   // rows written to the destination
    int64_t skipped = 0;  // rows the destination already held, identical
    int64_t batches = 0;  // batches finished
};

struct MigrateOptions {
    std::string collection = "clipdex";  // source collection
    std::string to_collection;           // destination collection; empty = same name
    int64_t batch_size = 1000;           // rows read, compared and written together
    // Index of a destination collection that must be created; empty = the source's index.
    std::optional<IndexSpec> index;
    // Called after every batch; an exception it throws stops the copy (and is rethrown).
    std::function<void(const MigrateProgress&)> progress;
};

struct MigrateReport {
    std::string source_collection;
    std::string destination_collection;
    bool created = false;          // the destination collection was created by this run
    int64_t source_rows = 0;       // count(src) at the end
    int64_t copied = 0;            // rows upserted
    int64_t skipped = 0;           // rows already present and identical
    int64_t destination_rows = 0;  // count(dst) at the end
    int64_t missing = 0;           // source ids absent from the destination after the copy
    bool verified = false;         // every source id is in the destination (missing == 0)
    double seconds = 0;
};

MigrateReport migrate_collection(Store& src, Store& dst, const MigrateOptions& options);

// True when two rows are identical field by field; vectors compared bit by bit.
bool rows_identical(const Row& a, const Row& b);

}  // namespace clipdex::store
