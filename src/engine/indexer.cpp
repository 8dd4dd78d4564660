// Incremental indexing as a pipeline: classify files against what the store holds, decode and
// preprocess the changed ones on worker threads, encode in batches on this thread (the model
// itself is multi-threaded), write each batch in one store call.
#include <chrono>
#include <deque>
#include <future>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/hash.h"
#include "common/thread_pool.h"
#include "engine/engine_state.h"
#include "engine/file_scan.h"

namespace clipdex {

namespace fs = std::filesystem;

namespace {

struct FileFacts {
    fs::path path;
    int64_t id = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
};

struct Prepared {
    FileFacts file;
    std::string sha256;
    std::vector<float> pixels;
    int width = 0;
    int height = 0;
    bool same_content = false;  // only the file's mtime changed: no need to encode it again
    std::string error;          // why the file could not be read or decoded
};

// What a file's row gets when the file itself needs no encoding: a new mtime, a new description.
struct MetadataPatch {
    int64_t id = 0;
    std::optional<int64_t> mtime_ns;
    std::optional<std::string> description;
};

enum class Verdict { New, Changed, Unchanged };

std::optional<FileFacts> stat_file(const fs::path& path, std::vector<IndexFailure>& failures) {
    std::error_code ec;
    FileFacts facts;
    facts.path = fs::absolute(path, ec).lexically_normal();
    if (!ec) facts.size = fs::file_size(facts.path, ec);
    fs::file_time_type mtime;
    if (!ec) mtime = fs::last_write_time(facts.path, ec);
    if (!ec) {
        const auto since_unix_epoch = std::chrono::file_clock::to_sys(mtime).time_since_epoch();
        facts.mtime_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(since_unix_epoch).count();
    }
    if (ec) {
        failures.push_back({path.string(), ec.message()});
        return std::nullopt;
    }
    facts.id = engine::id_for_path(facts.path);
    return facts;
}

Verdict judge(const FileFacts& file, const store::Row* existing) {
    if (existing == nullptr) return Verdict::New;
    const auto& extra = existing->extra;
    const bool same = existing->url == file.path.string() &&
                      extra.value("file_size", uint64_t{0}) == file.size &&
                      extra.value("mtime_ns", int64_t{0}) == file.mtime_ns;
    return same ? Verdict::Unchanged : Verdict::Changed;
}

class Indexer {
  public:
    Indexer(engine::State& state, const Descriptions& descriptions, const IndexOptions& options)
        : state_(state),
          descriptions_(descriptions),
          options_(options),
          pool_(std::max(1, state.options.threads > 0
                                ? state.options.threads
                                : static_cast<int>(std::thread::hardware_concurrency()))) {}

    void run(std::span<const fs::path> paths, const fs::path& root) {
        root_ = root;
        report_.counts.total = paths.size();
        report_.counts.discovery_done = true;
        const size_t chunk = static_cast<size_t>(std::max(1, options_.batch_size)) * 8;
        for (size_t begin = 0; begin < paths.size(); begin += chunk)
            process_chunk(paths.subspan(begin, std::min(chunk, paths.size() - begin)));
        drain();
        notify();
    }

    IndexReport& report() { return report_; }

  private:
    void process_chunk(std::span<const fs::path> paths) {
        std::vector<FileFacts> files;
        for (const auto& path : paths) {
            if (auto facts = stat_file(path, report_.failures)) {
                files.push_back(*facts);
            } else {
                ++report_.counts.failed;
                ++report_.counts.done;
            }
        }
        std::vector<int64_t> ids;
        for (const auto& file : files) ids.push_back(file.id);
        const auto existing_rows =
            state_.store->get(state_.options.collection, ids,
                              {"url", "file_size", "mtime_ns", "sha256", "description"});
        std::unordered_map<int64_t, const store::Row*> existing;
        for (const auto& row : existing_rows) existing[row.id] = &row;
        std::vector<MetadataPatch> described;
        for (const auto& file : files) {
            auto it = existing.find(file.id);
            const store::Row* row = it == existing.end() ? nullptr : it->second;
            const Verdict verdict = judge(file, row);
            if (verdict == Verdict::Unchanged) {
                // A descriptions file given now may name a file indexed before without one.
                std::string description = engine::find_description(descriptions_, file.path, root_);
                if (!description.empty() && description != row->description) {
                    described.push_back({file.id, std::nullopt, std::move(description)});
                } else {
                    ++report_.counts.unchanged;
                    ++report_.counts.done;
                }
                continue;
            }
            if (verdict == Verdict::New) new_ids_.insert(file.id);
            // Same size, new mtime (a copy, a checkout, `touch`): the content hash decides.
            std::string known_sha256;
            if (row != nullptr && row->extra.value("file_size", uint64_t{0}) == file.size)
                known_sha256 = row->extra.value("sha256", std::string());
            pending_.push_back(
                pool_.submit([this, file, known_sha256] { return prepare(file, known_sha256); }));
            if (pending_.size() >= static_cast<size_t>(options_.batch_size) * 2)
                encode_ready(options_.batch_size);
        }
        if (!described.empty()) {
            patch_rows(described);
            report_.counts.updated += described.size();
            report_.counts.done += described.size();
        }
        notify();
    }

    // Runs on a worker: hashes, then decodes and preprocesses unless the content is known.
    Prepared prepare(const FileFacts& file, const std::string& known_sha256) const {
        Prepared out;
        out.file = file;
        try {
            out.sha256 = sha256_file_hex(file.path);
            if (!known_sha256.empty() && out.sha256 == known_sha256) {
                out.same_content = true;
                return out;
            }
            const image::Image decoded = image::load_image(file.path, state_.limits);
            out.width = decoded.width;
            out.height = decoded.height;
            out.pixels = state_.encoder->preprocess(decoded);
        } catch (const std::exception& e) {
            out.error = e.what();
        }
        return out;
    }

    // Rewrites rows whose vectors stay: fetched whole, changed, written back in one call.
    void patch_rows(const std::vector<MetadataPatch>& patches) {
        std::vector<int64_t> ids;
        for (const auto& patch : patches) ids.push_back(patch.id);
        std::vector<store::Row> rows = state_.store->get(state_.options.collection, ids, {"*"});
        std::unordered_map<int64_t, const MetadataPatch*> by_id;
        for (const auto& patch : patches) by_id[patch.id] = &patch;
        for (auto& row : rows) {
            const MetadataPatch& patch = *by_id.at(row.id);
            if (patch.mtime_ns) row.extra["mtime_ns"] = *patch.mtime_ns;
            if (patch.description) row.description = *patch.description;
            row.updated_at.clear();
        }
        state_.store->upsert(state_.options.collection, rows);
    }

    // Takes up to `count` finished items off the front of the queue, in order, and writes them.
    void encode_ready(int count) {
        std::vector<Prepared> batch;
        std::vector<MetadataPatch> touched;
        while (!pending_.empty() && static_cast<int>(batch.size()) < count) {
            Prepared item = pending_.front().get();
            pending_.pop_front();
            if (!item.error.empty()) {
                report_.failures.push_back({item.file.path.string(), item.error});
                ++report_.counts.failed;
                ++report_.counts.done;
            } else if (item.same_content) {
                touched.push_back({item.file.id, item.file.mtime_ns, described_as(item.file)});
            } else {
                batch.push_back(std::move(item));
            }
        }
        if (!touched.empty()) {
            patch_rows(touched);
            report_.counts.unchanged += touched.size();
            report_.counts.done += touched.size();
        }
        if (!batch.empty()) write_batch(batch);
    }

    std::optional<std::string> described_as(const FileFacts& file) const {
        std::string description = engine::find_description(descriptions_, file.path, root_);
        if (description.empty()) return std::nullopt;
        return description;
    }

    void write_batch(std::vector<Prepared>& batch) {
        const int dim = state_.encoder->dim();
        std::vector<float> pixels;
        for (const auto& item : batch)
            pixels.insert(pixels.end(), item.pixels.begin(), item.pixels.end());
        const std::vector<float> vectors = state_.encoder->encode_pixels(pixels, batch.size());
        std::vector<store::Row> rows(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
            const auto& item = batch[i];
            auto& row = rows[i];
            row.id = item.file.id;
            row.url = item.file.path.string();
            row.description = engine::find_description(descriptions_, item.file.path, root_);
            row.vector.assign(vectors.begin() + static_cast<ptrdiff_t>(i) * dim,
                              vectors.begin() + static_cast<ptrdiff_t>(i + 1) * dim);
            row.extra = {{"source", "file"},
                         {"file_size", item.file.size},
                         {"mtime_ns", item.file.mtime_ns},
                         {"sha256", item.sha256},
                         {"width", item.width},
                         {"height", item.height}};
        }
        state_.store->upsert(state_.options.collection, rows);
        for (const auto& row : rows) {
            ++(new_ids_.count(row.id) ? report_.counts.added : report_.counts.updated);
            ++report_.counts.done;
        }
        notify();
    }

    void drain() {
        while (!pending_.empty()) encode_ready(options_.batch_size);
    }

    void notify() {
        if (options_.progress) options_.progress(report_.counts);
    }

    engine::State& state_;
    const Descriptions& descriptions_;
    const IndexOptions& options_;
    ThreadPool pool_;
    fs::path root_;
    std::deque<std::future<Prepared>> pending_;
    std::set<int64_t> new_ids_;  // rows this run creates: counted as added, the others updated
    IndexReport report_;
};

// Files are gone when no longer on disk; only rows of files under `root` are considered.
size_t prune_missing(engine::State& state, const fs::path& root) {
    const std::string prefix = root.string() + "/";
    store::QueryRequest request;
    request.filter = "source == \"file\"";
    request.output_fields = {"url"};
    std::vector<int64_t> gone;
    for (const auto& row : state.store->query(state.options.collection, request)) {
        std::error_code ec;
        if (row.url.rfind(prefix, 0) == 0 && !fs::exists(fs::path(row.url), ec))
            gone.push_back(row.id);
    }
    return gone.empty() ? 0
                        : static_cast<size_t>(state.store->remove(state.options.collection, gone));
}

}  // namespace

IndexReport Engine::index_images(std::span<const fs::path> paths, const Descriptions& descriptions,
                                 const IndexOptions& options) {
    state_->check_open();
    const auto start = std::chrono::steady_clock::now();
    Indexer indexer(*state_, descriptions, options);
    indexer.run(paths, fs::current_path());
    IndexReport report = std::move(indexer.report());
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
}

IndexReport Engine::index_directory(const fs::path& dir, const Descriptions& descriptions,
                                    const IndexOptions& options) {
    state_->check_open();
    const auto start = std::chrono::steady_clock::now();
    std::vector<IndexFailure> scan_failures;
    const std::vector<fs::path> files = engine::find_images(dir, options.recursive, scan_failures);
    const fs::path root = fs::absolute(dir).lexically_normal();
    Indexer indexer(*state_, descriptions, options);
    indexer.run(files, root);
    IndexReport report = std::move(indexer.report());
    report.failures.insert(report.failures.end(), scan_failures.begin(), scan_failures.end());
    if (options.prune) report.pruned = prune_missing(*state_, root);
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
}

}  // namespace clipdex
