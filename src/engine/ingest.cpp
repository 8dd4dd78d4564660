#include "engine/ingest.h"

#include <algorithm>

#include "common/hash.h"

namespace clipdex::engine {

struct IngestPipeline::Prepared {
    IngestItem item;
    FileRecord record;
    std::vector<float> pixels;
    bool same_content = false;
    std::exception_ptr error;
};

IngestPipeline::IngestPipeline(State& state, const IngestOptions& options, Done done)
    : state_(state), options_(options), done_(std::move(done)) {
    state_.model();  // the workers decode under its limits and preprocess for it
    options_.batch_size = std::max(1, options_.batch_size);
    if (options_.threads > 0) pool_ = std::make_unique<ThreadPool>(options_.threads);
}

// Waits for the workers' items (their results are dropped when finish() was not reached).
IngestPipeline::~IngestPipeline() {
    for (auto& future : pending_)
        if (future.valid()) future.wait();
}

IngestPipeline::Prepared IngestPipeline::prepare(IngestItem item) const {
    Prepared out;
    try {
        const std::vector<uint8_t> bytes = item.read();
        out.record.source = item.source;
        out.record.size = bytes.size();
        out.record.mtime_ns = item.mtime_ns;
        out.record.sha256 = sha256_hex(bytes);
        if (!item.known_sha256.empty() && out.record.sha256 == item.known_sha256) {
            out.same_content = true;
        } else {
            const image::Image decoded = image::decode_image(bytes, item.name, state_.limits);
            out.record.width = decoded.width;
            out.record.height = decoded.height;
            out.pixels = state_.encoder->preprocess(decoded);
        }
    } catch (...) {
        out.error = std::current_exception();
    }
    out.item = std::move(item);
    return out;
}

void IngestPipeline::submit(IngestItem item) {
    if (!pool_) {
        std::promise<Prepared> ready;
        ready.set_value(prepare(std::move(item)));
        pending_.push_back(ready.get_future());
    } else {
        pending_.push_back(pool_->submit(
            [this, item = std::move(item)]() mutable { return prepare(std::move(item)); }));
    }
    const auto batch = static_cast<size_t>(options_.batch_size);
    if (pending_.size() >= batch * 2) take(batch);
}

void IngestPipeline::finish() {
    while (!pending_.empty()) take(static_cast<size_t>(options_.batch_size));
}

// Takes up to `count` items off the front of the queue, in order, and writes them.
void IngestPipeline::take(size_t count) {
    std::vector<Prepared> batch, same;
    for (size_t taken = 0; taken < count && !pending_.empty(); ++taken) {
        Prepared item = pending_.front().get();
        pending_.pop_front();
        if (item.error) {
            done_({IngestOutcome::Status::Failed, item.item.id, item.item.name, item.item.tag,
                   item.error});
        } else if (item.same_content) {
            same.push_back(std::move(item));
        } else {
            batch.push_back(std::move(item));
        }
    }
    // Each write reports its own items: a failing one fails only those.
    if (!same.empty()) guarded(same, [&] { touch(same); });
    if (!batch.empty()) guarded(batch, [&] { write(batch); });
}

template <class Write>
void IngestPipeline::guarded(const std::vector<Prepared>& items, Write write) {
    try {
        write();
    } catch (...) {
        if (!options_.batch_errors_are_failures) throw;
        const std::exception_ptr error = std::current_exception();
        for (const auto& item : items)
            done_({IngestOutcome::Status::Failed, item.item.id, item.item.name, item.item.tag,
                   error});
    }
}

// Same bytes as the row holds: a partial update (new mtime, a description given now), the
// vector and the index left alone.
void IngestPipeline::touch(std::vector<Prepared>& same) {
    std::vector<store::RowPatch> patches(same.size());
    for (size_t i = 0; i < same.size(); ++i) {
        const IngestItem& item = same[i].item;
        patches[i].id = item.id;
        if (item.source == SourceKind::File) patches[i].extra[kMtimeField] = item.mtime_ns;
        if (!item.description.empty()) patches[i].description = item.description;
    }
    state_.store->update(state_.options.collection, patches);
    for (const auto& item : same)
        done_({IngestOutcome::Status::SameContent, item.item.id, item.item.name, item.item.tag,
               nullptr});
}

void IngestPipeline::write(std::vector<Prepared>& batch) {
    const auto dim = static_cast<size_t>(state_.encoder->dim());
    std::vector<float> pixels;
    pixels.reserve(batch.size() * batch.front().pixels.size());
    for (const auto& item : batch)
        pixels.insert(pixels.end(), item.pixels.begin(), item.pixels.end());
    const std::vector<float> vectors = state_.encoder->encode_pixels(pixels, batch.size());
    std::vector<store::Row> rows(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        auto& row = rows[i];
        row.id = batch[i].item.id;
        row.url = batch[i].item.name;
        row.description = batch[i].item.description;
        row.vector.assign(vectors.begin() + static_cast<ptrdiff_t>(i * dim),
                          vectors.begin() + static_cast<ptrdiff_t>((i + 1) * dim));
        row.extra = batch[i].record.to_json();
    }
    state_.ensure_collection();
    state_.store->upsert(state_.options.collection, rows);
    for (const auto& item : batch)
        done_(
            {IngestOutcome::Status::Written, item.item.id, item.item.name, item.item.tag, nullptr});
}

}  // namespace clipdex::engine
