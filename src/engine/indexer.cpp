// Incremental indexing: find each file's row (file_ids.h: by its path's id, its old id, its
// path), classify the file against it (by path, size and mtime; then by content hash), and feed
// the new and changed ones to the ingest pipeline (ingest.h), which reads each file once,
// decodes and preprocesses on worker threads, encodes in batches on this thread and writes each
// batch in one store call. Engine::add_image_file is the same for one file.
#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/file_read.h"
#include "engine/engine_state.h"
#include "engine/file_ids.h"
#include "engine/file_record.h"
#include "engine/file_scan.h"
#include "engine/ingest.h"

namespace clipdex {

namespace fs = std::filesystem;

namespace {

struct FileFacts {
    fs::path path;
    int64_t id = 0;  // its row's, from FileIds
    uint64_t size = 0;
    int64_t mtime_ns = 0;
};

// What Engine::add_image_file says about its file: the id to put it under and its description.
struct GivenFile {
    std::optional<int64_t> id;
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
    return facts;
}

Verdict judge(const FileFacts& file, const store::Row* existing) {
    if (existing == nullptr) return Verdict::New;
    const engine::FileRecord record = engine::FileRecord::from_json(existing->extra);
    const bool same = existing->url == file.path.string() && record.size == file.size &&
                      record.mtime_ns == file.mtime_ns;
    return same ? Verdict::Unchanged : Verdict::Changed;
}

std::string error_text(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error";
    }
}

// Classifies files against what the store holds and feeds the changed ones to the ingest
// pipeline; keeps the counts and reports progress.
class Indexer {
  public:
    Indexer(engine::State& state, const Descriptions& descriptions, const IndexOptions& options,
            const GivenFile* given = nullptr)
        : state_(state),
          descriptions_(descriptions),
          options_(options),
          given_(given),
          ids_(*state.store, state.options.collection,
               {"url", engine::kFileSizeField, engine::kMtimeField, engine::kSha256Field,
                "description"}) {}
    // descriptions_ is a reference: a temporary would be gone before run() reads it.
    Indexer(engine::State&, Descriptions&&, const IndexOptions&, const GivenFile* = nullptr) = delete;

    void run(std::span<const fs::path> paths, const fs::path& root) {
        root_ = root;
        report_.counts.total = paths.size();
        report_.counts.discovery_done = true;
        const size_t chunk = static_cast<size_t>(std::max(1, options_.batch_size)) * 8;
        for (size_t begin = 0; begin < paths.size(); begin += chunk)
            process_chunk(paths.subspan(begin, std::min(chunk, paths.size() - begin)));
        if (pipeline_) pipeline_->finish();
        notify();
    }

    IndexReport& report() { return report_; }
    int64_t last_id() const { return last_id_; }
    // The first failure as thrown (its code and message), for a caller of one file.
    std::exception_ptr first_error() const { return first_error_; }

  private:
    static engine::IngestOptions pipeline_options(const engine::State& state,
                                                  const IndexOptions& options) {
        engine::IngestOptions out;
        out.threads = std::max(1, state.options.threads > 0
                                      ? state.options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency()));
        out.batch_size = std::max(1, options.batch_size);
        return out;
    }

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
        std::vector<engine::FileSlot> slots = find_rows(files);
        std::vector<store::RowPatch> described;
        for (size_t i = 0; i < files.size(); ++i) {
            const FileFacts& file = files[i];
            const store::Row* row = slots[i].row ? &*slots[i].row : nullptr;
            // A description given now (add_image_file's, a descriptions file's) wins; without
            // one the row keeps its own, whatever happens to the file's content.
            std::optional<std::string> description;
            if (given_ != nullptr && given_->description) {
                description = given_->description;
            } else if (std::string found =
                           engine::find_description(descriptions_, file.path, root_);
                       !found.empty()) {
                description = std::move(found);
            }
            const Verdict verdict = judge(file, row);
            if (verdict == Verdict::Unchanged) {
                if (description && *description != row->description) {
                    store::RowPatch& patch = described.emplace_back();
                    patch.id = file.id;
                    patch.description = std::move(description);
                } else {
                    ++report_.counts.unchanged;
                    ++report_.counts.done;
                }
                continue;
            }
            if (verdict == Verdict::New) new_ids_.insert(file.id);
            engine::IngestItem item;
            item.id = file.id;
            item.name = file.path.string();
            item.description = description ? *description : row ? row->description : "";
            item.source = engine::SourceKind::File;
            item.mtime_ns = file.mtime_ns;
            // Same size, new mtime (a copy, a checkout, `touch`): the content hash decides.
            if (row != nullptr) {
                const engine::FileRecord known = engine::FileRecord::from_json(row->extra);
                if (known.size == file.size) item.known_sha256 = known.sha256;
            }
            const uint64_t max_bytes = state_.options.max_image_bytes;
            item.read = [path = file.path, max_bytes] {
                return read_file_bounded(path, max_bytes, "image '" + path.string() + "'");
            };
            pipeline().submit(std::move(item));
        }
        if (!described.empty()) {
            state_.store->update(state_.options.collection, described);
            report_.counts.updated += described.size();
            report_.counts.done += described.size();
        }
        notify();
    }

    // The files' rows and ids (FileIds); a row under another id than the file's (an old id, or
    // add_image_file's given id) is moved there first, so the rest sees it under its id. A move
    // is bookkeeping, not a change: an unchanged file stays counted as unchanged.
    std::vector<engine::FileSlot> find_rows(std::vector<FileFacts>& files) {
        std::vector<std::string> names;
        for (const auto& file : files) names.push_back(file.path.string());
        std::vector<engine::FileSlot> slots = ids_.resolve(names);
        std::vector<std::pair<int64_t, int64_t>> moves;
        for (size_t i = 0; i < files.size(); ++i) {
            engine::FileSlot& slot = slots[i];
            if (given_ != nullptr && given_->id) slot.id = *given_->id;
            files[i].id = last_id_ = slot.id;
            if (slot.row && slot.row->id != slot.id) {
                if (std::none_of(moves.begin(), moves.end(),
                                 [&](const auto& move) { return move.first == slot.row->id; }))
                    moves.emplace_back(slot.row->id, slot.id);
                slot.row->id = slot.id;
            }
        }
        ids_.move_rows(moves);
        return slots;
    }

    // Made by the first file to encode: a run that finds every file unchanged loads no model.
    engine::IngestPipeline& pipeline() {
        if (!pipeline_)
            pipeline_.emplace(state_, pipeline_options(state_, options_),
                              [this](const engine::IngestOutcome& outcome) { count(outcome); });
        return *pipeline_;
    }

    void count(const engine::IngestOutcome& outcome) {
        switch (outcome.status) {
            case engine::IngestOutcome::Status::Failed:
                if (!first_error_) first_error_ = outcome.error;
                report_.failures.push_back({outcome.name, error_text(outcome.error)});
                ++report_.counts.failed;
                break;
            case engine::IngestOutcome::Status::SameContent:
                ++report_.counts.unchanged;
                break;
            case engine::IngestOutcome::Status::Written:
                ++(new_ids_.count(outcome.id) ? report_.counts.added : report_.counts.updated);
                break;
        }
        ++report_.counts.done;
        if (report_.counts.done % static_cast<size_t>(std::max(1, options_.batch_size)) == 0)
            notify();
    }

    void notify() {
        if (options_.progress) options_.progress(report_.counts);
    }

    engine::State& state_;
    const Descriptions& descriptions_;
    const IndexOptions& options_;
    const GivenFile* given_;
    engine::FileIds ids_;
    fs::path root_;
    std::set<int64_t> new_ids_;  // rows this run creates: counted as added, the others updated
    int64_t last_id_ = 0;
    std::exception_ptr first_error_;
    IndexReport report_;
    // last: its workers go before the members they report to
    std::optional<engine::IngestPipeline> pipeline_;
};

// Files are gone when no longer on disk; only rows of files under `root` are considered.
size_t prune_missing(engine::State& state, const fs::path& root) {
    if (!state.has_collection()) return 0;
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

int64_t Engine::add_image_file(const fs::path& path, std::optional<int64_t> id,
                               std::optional<std::string> description) {
    state_->check_open();
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (!fs::exists(status))
        throw Error(ErrorCode::NotFound, "image file '" + path.string() + "' does not exist");
    if (fs::is_directory(status))
        throw Error(ErrorCode::InvalidInput,
                    "image file '" + path.string() + "' is a folder, not a file");
    if (description && description->size() > store::kMaxDescriptionBytes)
        throw Error(ErrorCode::TooLarge, "description of image file '" + path.string() + "' is " +
                                             std::to_string(description->size()) +
                                             " bytes, over the limit of " +
                                             std::to_string(store::kMaxDescriptionBytes));
    const GivenFile given{id, std::move(description)};
    IndexOptions options;
    options.batch_size = 1;
    const Descriptions no_descriptions;
    Indexer indexer(*state_, no_descriptions, options, &given);
    const fs::path paths[] = {path};
    indexer.run(paths, fs::current_path());
    if (indexer.first_error()) std::rethrow_exception(indexer.first_error());
    const IndexReport& report = indexer.report();
    if (!report.failures.empty())
        throw Error(ErrorCode::Io, "image file '" + report.failures.front().path +
                                       "': " + report.failures.front().reason);
    return indexer.last_id();
}

}  // namespace clipdex
