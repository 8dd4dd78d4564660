#include "engine/engine_state.h"

#include <algorithm>
#include <cmath>

#include "common/shell_words.h"
#include "engine/ingest.h"
#include "hub/http_fetch.h"

namespace clipdex {

void engine::State::check_open() const {
    if (closed) throw Error(ErrorCode::InvalidInput, "the engine was closed");
}

std::vector<uint8_t> engine::State::fetch(const std::string& url) const {
    hub::FetchOptions fetch;
    fetch.allow_private = options.allow_private_urls;
    fetch.max_bytes = options.max_image_bytes;
    return hub::fetch_url(url, fetch).body;
}

namespace {

constexpr const char* kNoCollectionYet = "no collection yet (the first write creates it)";

void check_top_k(int top_k) {
    if (top_k <= 0)
        throw Error(ErrorCode::InvalidInput,
                    "top_k must be positive, got " + std::to_string(top_k));
}

}  // namespace

SearchHit hit_from_store(const store::Hit& hit) {
    SearchHit out;
    out.id = hit.row.id;
    out.url = hit.row.url;
    out.description = hit.row.description;
    out.score = hit.score;
    out.extra = hit.row.extra;
    return out;
}

std::vector<SearchHit> engine::State::search_vector(std::span<const float> vector, int top_k,
                                                    const std::string& filter) {
    check_open();
    check_top_k(top_k);
    if (!has_collection()) return {};  // nothing can match before the first write
    store::SearchRequest request;
    request.k = top_k;
    request.filter = filter;
    auto lists = store->search(options.collection, vector, request);
    std::vector<SearchHit> hits;
    for (const auto& hit : lists.at(0)) hits.push_back(hit_from_store(hit));
    return hits;
}

Engine::Engine(std::unique_ptr<engine::State> state) : state_(std::move(state)) {}
Engine::~Engine() = default;

// Cheap: opens the store only. The model loads on the first encode (State::model) and the
// collection is made on the first write (State::ensure_collection).
std::unique_ptr<Engine> Engine::open(const EngineOptions& options) {
    std::shared_ptr<store::Store> store = store::open_store(options.db_uri, options.store);
    auto engine = engine::State::open(options, nullptr, std::move(store));
    // A read-only engine can never make its collection: a missing one is an error now, with the
    // command that makes it.
    if (options.store.read_only && !engine->state_->has_collection())
        throw Error(ErrorCode::NotFound,
                    "collection '" + options.collection + "' does not exist in " + options.db_uri +
                        " (nothing was indexed into it); index images into it first: clipdex --db " +
                        shell_word(options.db_uri) + " --collection " +
                        options.collection + " index FOLDER");
    return engine;
}

std::unique_ptr<Engine> engine::State::open(const EngineOptions& options,
                                            std::shared_ptr<Encoder> encoder,
                                            std::shared_ptr<store::Store> store) {
    auto state = std::make_unique<State>();
    state->options = options;
    state->encoder = std::move(encoder);
    state->store = std::move(store);
    return std::unique_ptr<Engine>(new Engine(std::move(state)));
}

void Engine::load_model() {
    state_->check_open();
    state_->model();
}

namespace {

void check_text_lengths(int64_t id, const std::string& url_or_name,
                        const std::string& description) {
    if (url_or_name.size() > store::kMaxUrlBytes)
        throw Error(ErrorCode::InvalidInput, "url of image " + std::to_string(id) +
                                                 " is longer than " +
                                                 std::to_string(store::kMaxUrlBytes) + " bytes");
    if (description.size() > store::kMaxDescriptionBytes)
        throw Error(ErrorCode::TooLarge, "description of image " + std::to_string(id) + " is " +
                                             std::to_string(description.size()) +
                                             " bytes, over the limit of " +
                                             std::to_string(store::kMaxDescriptionBytes));
}

UrlAddResult failure(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        return {false, e.what(), std::string(error_code_name(e.code()))};
    } catch (const std::exception& e) {
        return {false, e.what(), std::string(error_code_name(ErrorCode::Internal))};
    }
}

engine::IngestItem url_item(const engine::State& state, int64_t id, const std::string& url,
                            const std::string& description) {
    engine::IngestItem item;
    item.id = id;
    item.name = url;
    item.description = description;
    item.source = engine::SourceKind::Url;
    item.read = [&state, url] { return state.fetch(url); };
    return item;
}

// One image through the pipeline on this thread; its failure is thrown.
void ingest_one(engine::State& state, engine::IngestItem item) {
    std::exception_ptr error;
    engine::IngestPipeline pipeline(
        state, {}, [&](const engine::IngestOutcome& outcome) { error = outcome.error; });
    pipeline.submit(std::move(item));
    pipeline.finish();
    if (error) std::rethrow_exception(error);
}

}  // namespace

void Engine::add_image(int64_t id, std::span<const uint8_t> bytes, const std::string& url_or_name,
                       const std::string& description) {
    state_->check_open();
    check_text_lengths(id, url_or_name, description);
    engine::IngestItem item;
    item.id = id;
    item.name = url_or_name;
    item.description = description;
    item.source = engine::SourceKind::Bytes;
    item.read = [bytes] { return std::vector<uint8_t>(bytes.begin(), bytes.end()); };
    ingest_one(*state_, std::move(item));
}

void Engine::add_image_by_url(int64_t id, const std::string& url, const std::string& description) {
    state_->check_open();
    check_text_lengths(id, url, description);
    ingest_one(*state_, url_item(*state_, id, url, description));
}

std::vector<UrlAddResult> Engine::add_images_by_url(std::span<const UrlImage> images) {
    state_->check_open();
    std::vector<UrlAddResult> results(images.size());
    engine::IngestOptions options;
    // Fetching waits on the network far more than on the CPU: more fetchers than cores.
    options.threads = static_cast<int>(std::clamp<size_t>(images.size(), 1, 8));
    options.batch_size = 32;
    options.batch_errors_are_failures = true;
    engine::IngestPipeline pipeline(*state_, options, [&](const engine::IngestOutcome& outcome) {
        if (outcome.error)
            results[outcome.tag] = failure(outcome.error);
        else
            results[outcome.tag].ok = true;
    });
    for (size_t i = 0; i < images.size(); ++i) {
        const UrlImage& image = images[i];
        try {
            check_text_lengths(image.id, image.url, image.description);
        } catch (...) {
            results[i] = failure(std::current_exception());
            continue;
        }
        engine::IngestItem item = url_item(*state_, image.id, image.url, image.description);
        item.tag = i;
        pipeline.submit(std::move(item));
    }
    pipeline.finish();
    return results;
}

std::vector<SearchHit> Engine::search(const std::string& text, int top_k,
                                      const std::string& filter) {
    state_->check_open();
    check_top_k(top_k);
    state_->model();
    const std::vector<float> vector = state_->embedder->encode_texts({&text, 1});
    return state_->search_vector(vector, top_k, filter);
}

std::vector<std::vector<SearchHit>> Engine::search_batch(std::span<const std::string> texts,
                                                         int top_k, const std::string& filter) {
    state_->check_open();
    if (texts.empty()) return {};
    check_top_k(top_k);
    state_->model();
    const std::vector<float> vectors = state_->embedder->encode_texts(texts);
    // No collection yet: the queries were checked and encoded, and nothing can match.
    if (!state_->has_collection()) return std::vector<std::vector<SearchHit>>(texts.size());
    store::SearchRequest request;
    request.k = top_k;
    request.filter = filter;
    auto lists = state_->store->search(state_->options.collection, vectors, request);
    std::vector<std::vector<SearchHit>> out;
    for (const auto& list : lists) {
        auto& hits = out.emplace_back();
        for (const auto& hit : list) hits.push_back(hit_from_store(hit));
    }
    return out;
}

std::vector<SearchHit> Engine::search_by_image_file(const std::filesystem::path& path, int top_k,
                                                    const std::string& filter) {
    state_->check_open();
    check_top_k(top_k);
    state_->model();
    return state_->search_vector(state_->embedder->encode_image_file(path), top_k, filter);
}

std::vector<SearchHit> Engine::search_by_image_bytes(std::span<const uint8_t> bytes, int top_k,
                                                     const std::string& filter) {
    state_->check_open();
    check_top_k(top_k);
    state_->model();
    return state_->search_vector(state_->embedder->encode_image_bytes(bytes, "uploaded image"),
                                 top_k, filter);
}

std::vector<SearchHit> Engine::search_by_image_url(const std::string& url, int top_k,
                                                   const std::string& filter) {
    state_->check_open();
    check_top_k(top_k);
    state_->model();
    return state_->search_vector(state_->embedder->encode_image_bytes(state_->fetch(url), url),
                                 top_k, filter);
}

std::vector<SearchHit> Engine::search_by_vector(std::span<const float> vector, int top_k,
                                               const std::string& filter) {
    state_->check_open();
    // The stored vectors' size: the collection's, else the model's (no model loads for a vector
    // query on an existing collection).
    const auto dim = static_cast<size_t>(
        state_->has_collection()
            ? state_->store->describe_collection(state_->options.collection).spec.dim
            : state_->model().dim());
    if (vector.size() != dim)
        throw Error(ErrorCode::InvalidInput,
                    "the query vector has " + std::to_string(vector.size()) + " floats; the " +
                        "vectors of collection '" + state_->options.collection + "' have " +
                        std::to_string(dim));
    double norm = 0;
    for (const float v : vector) norm += static_cast<double>(v) * v;
    if (!(norm > 0) || !std::isfinite(norm))
        throw Error(ErrorCode::InvalidInput,
                    "the query vector is zero or not finite: it has no direction to search");
    return state_->search_vector(vector, top_k, filter);
}

RgbImage Engine::load_image(const std::string& path_or_url) {
    state_->check_open();
    state_->model();  // its input size is the SVG raster size
    const bool url = path_or_url.rfind("http://", 0) == 0 || path_or_url.rfind("https://", 0) == 0;
    image::Image decoded =
        url ? image::decode_image(state_->fetch(path_or_url), path_or_url, state_->limits)
            : image::load_image(path_or_url, state_->limits);
    RgbImage out;
    out.width = decoded.width;
    out.height = decoded.height;
    out.rgb = std::move(decoded.rgb);
    return out;
}

std::vector<store::Row> Engine::get_all_data(bool include_vectors, int64_t limit, int64_t offset) {
    state_->check_open();
    if (!state_->has_collection()) return {};
    store::QueryRequest request;
    request.limit = limit;
    request.offset = offset;
    if (include_vectors) request.output_fields = {"*"};
    return state_->store->query(state_->options.collection, request);
}

DatabaseStats Engine::get_database_stats() {
    state_->check_open();
    const auto& collection = state_->options.collection;
    const CollectionDescription info = collection_info();
    DatabaseStats out;
    out.collection_name = collection;
    out.model = state_->model_name();
    out.dimension = info.spec.dim;
    out.index_type = info.spec.index.kind;
    out.metric_type = info.spec.index.metric;
    out.backend = state_->store->backend_name();
    out.uri = state_->store->uri();
    if (state_->has_collection()) {
        const store::CollectionStats stats = state_->store->stats(collection);
        out.total_records = stats.row_count;
        out.bytes_on_disk = stats.bytes_on_disk;
        out.index_state = stats.index_state;
    } else {
        out.index_state = kNoCollectionYet;
    }
    return out;
}

CollectionDescription Engine::collection_info() {
    state_->check_open();
    if (!state_->has_collection()) {
        // What the first write will create; the dimension is known once the model is loaded.
        CollectionDescription out;
        out.spec.name = state_->options.collection;
        out.spec.index = state_->options.index;
        out.spec.description = "clipdex image embeddings";
        if (state_->model_loaded()) out.spec.dim = state_->encoder->dim();
        out.backend = state_->store->backend_name();
        return out;
    }
    store::CollectionInfo info = state_->store->describe_collection(state_->options.collection);
    return {std::move(info.spec), info.row_count, state_->store->backend_name()};
}

bool Engine::has_collection() {
    state_->check_open();
    return state_->has_collection();
}

bool Engine::remove_by_id(int64_t id) {
    state_->check_open();
    if (!state_->has_collection()) return false;
    const int64_t ids[] = {id};
    return state_->store->remove(state_->options.collection, ids) > 0;
}

void Engine::close() {
    if (state_->closed) return;
    if (state_->has_collection()) state_->store->flush(state_->options.collection);
    state_->closed = true;
}

int Engine::dim() const {
    return state_->model().dim();
}
std::string Engine::model_name() const {
    // Loaded: that model (a /health answer must not cost a store read).
    return state_->model_loaded() ? state_->encoder->name() : state_->model_name();
}

}  // namespace clipdex
