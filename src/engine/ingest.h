// The one way images become rows: files (the Indexer), URLs and uploaded bytes all feed it.
//
//   worker threads:   read the bytes ONCE -> sha256 -> decode from memory -> preprocess
//   calling thread:   encode a batch (Encoder: the local model, later a remote service)
//                     -> one store upsert per batch
//
// An item whose hash equals the one its row already has (a touched file) is not decoded or
// encoded: its row gets a partial update (Store::update: mtime and description, no vector).
// At most 2 * batch_size items are in flight, so memory stays bounded whatever the input size;
// the next batch decodes on the workers while this one encodes.
#pragma once

#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "engine/engine_state.h"
#include "engine/file_record.h"

namespace clipdex::engine {

struct IngestItem {
    int64_t id = 0;
    std::string name;  // the row's url: absolute path, URL or upload name
    std::string description;
    SourceKind source = SourceKind::Bytes;
    int64_t mtime_ns = 0;  // files
    // The image's bytes; called once, on a worker thread. Throws clipdex::Error naming the input.
    std::function<std::vector<uint8_t>()> read;
    // The hash the item's row holds now: when the bytes hash to it, only metadata is updated.
    std::string known_sha256;
    size_t tag = 0;  // the caller's, handed back in the outcome
};

struct IngestOutcome {
    enum class Status { Written, SameContent, Failed };
    Status status = Status::Failed;
    int64_t id = 0;
    std::string name;
    size_t tag = 0;
    std::exception_ptr error;  // Failed: why
};

struct IngestOptions {
    int threads = 0;      // workers that read and decode; 0 = on the calling thread
    int batch_size = 32;  // images per encode call and per store write
    // false: an encode or store error is thrown out of submit()/finish() (indexing stops);
    // true: it fails the batch's items and ingestion goes on (a list of URLs).
    bool batch_errors_are_failures = false;
};

class IngestPipeline {
  public:
    using Done = std::function<void(const IngestOutcome&)>;  // on the calling thread

    IngestPipeline(State& state, const IngestOptions& options, Done done);
    ~IngestPipeline();
    IngestPipeline(const IngestPipeline&) = delete;
    IngestPipeline& operator=(const IngestPipeline&) = delete;

    // Queues the item; encodes and writes ready batches while too many are in flight.
    void submit(IngestItem item);
    // Encodes and writes everything queued.
    void finish();

  private:
    struct Prepared;
    Prepared prepare(IngestItem item) const;
    void take(size_t count);
    void write(std::vector<Prepared>& batch);
    void touch(std::vector<Prepared>& same);
    // Runs a store write; with batch_errors_are_failures its error fails `items` instead.
    template <class Write>
    void guarded(const std::vector<Prepared>& items, Write write);

    State& state_;
    IngestOptions options_;
    Done done_;
    std::unique_ptr<ThreadPool> pool_;
    std::deque<std::future<Prepared>> pending_;
};

}  // namespace clipdex::engine
