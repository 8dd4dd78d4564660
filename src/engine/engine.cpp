#include "engine/engine_state.h"

#include <algorithm>
#include <future>

#include "common/hash.h"
#include "common/thread_pool.h"
#include "hub/http_fetch.h"

namespace clipdex {

namespace {

void ensure_collection(engine::State& state) {
    auto& store = *state.store;
    const std::string& name = state.options.collection;
    if (!store.has_collection(name)) {
        store::CollectionSpec spec;
        spec.name = name;
        spec.dim = state.encoder->dim();
        spec.index = state.options.index;
        spec.description = "clipdex image embeddings";
        spec.properties[kPropertyModel] = state.model_name;
        spec.properties[kPropertyDim] = std::to_string(spec.dim);
        store.create_collection(spec);
        return;
    }
    const store::CollectionInfo info = store.describe_collection(name);
    auto it = info.spec.properties.find(kPropertyModel);
    if (it != info.spec.properties.end() && it->second != state.model_name)
        throw Error(ErrorCode::Conflict,
                    "collection '" + name + "' in " + store.uri() + " holds embeddings of model '" +
                        it->second + "', not '" + state.model_name + "': open it with --model " +
                        it->second + " or use another collection");
    if (info.spec.dim != state.encoder->dim())
        throw Error(ErrorCode::Conflict, "collection '" + name + "' has vectors of dimension " +
                                             std::to_string(info.spec.dim) + " but model '" +
                                             state.model_name + "' makes " +
                                             std::to_string(state.encoder->dim()));
}

}  // namespace

void engine::State::check_open() const {
    if (closed) throw Error(ErrorCode::InvalidInput, "the engine was closed");
}

std::vector<uint8_t> engine::State::fetch(const std::string& url) const {
    hub::FetchOptions fetch;
    fetch.allow_private = options.allow_private_urls;
    fetch.max_bytes = options.max_image_bytes;
    return hub::fetch_url(url, fetch).body;
}

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
    if (top_k <= 0)
        throw Error(ErrorCode::InvalidInput,
                    "top_k must be positive, got " + std::to_string(top_k));
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

std::unique_ptr<Engine> Engine::open(const EngineOptions& options) {
    auto encoder = make_local_encoder(options.model, options.threads, options.download_progress);
    std::shared_ptr<store::Store> store = store::open_store(options.db_uri, options.store);
    return engine::State::open(options, std::move(encoder), std::move(store));
}

std::unique_ptr<Engine> engine::State::open(const EngineOptions& options,
                                            std::shared_ptr<Encoder> encoder,
                                            std::shared_ptr<store::Store> store) {
    auto state = std::make_unique<State>();
    state->options = options;
    state->encoder = std::move(encoder);
    state->store = std::move(store);
    state->model_name = state->encoder->name();
    state->limits =
        decode_limits_for(options.max_image_bytes, options.max_image_pixels, *state->encoder);
    auto embedder = std::make_unique<Embedder::Impl>();
    embedder->encoder = state->encoder;
    embedder->limits = state->limits;
    embedder->max_text_bytes = options.max_text_bytes;
    state->embedder = std::make_unique<Embedder>(std::move(embedder));
    ensure_collection(*state);
    return std::unique_ptr<Engine>(new Engine(std::move(state)));
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

// A decoded image's row (its `source` extra field says "url" or "bytes"), its vector still to
// be encoded.
struct PendingImage {
    store::Row row;
    std::vector<float> pixels;
};

PendingImage prepare_image(const engine::State& state, int64_t id, std::span<const uint8_t> bytes,
                           const std::string& url_or_name, const std::string& description,
                           const char* source) {
    check_text_lengths(id, url_or_name, description);
    const image::Image decoded = image::decode_image(bytes, url_or_name, state.limits);
    PendingImage out;
    out.row.id = id;
    out.row.url = url_or_name;
    out.row.description = description;
    out.row.extra = {{"source", source},
                     {"byte_size", bytes.size()},
                     {"sha256", sha256_hex(bytes)},
                     {"width", decoded.width},
                     {"height", decoded.height}};
    out.pixels = state.encoder->preprocess(decoded);
    return out;
}

// Encodes the images together and writes their rows in one store call.
void encode_and_write(engine::State& state, std::vector<PendingImage>& images) {
    if (images.empty()) return;
    std::vector<float> pixels;
    for (const auto& image : images)
        pixels.insert(pixels.end(), image.pixels.begin(), image.pixels.end());
    const std::vector<float> vectors = state.encoder->encode_pixels(pixels, images.size());
    const auto dim = static_cast<size_t>(state.encoder->dim());
    std::vector<store::Row> rows;
    rows.reserve(images.size());
    for (size_t i = 0; i < images.size(); ++i) {
        rows.push_back(std::move(images[i].row));
        rows.back().vector.assign(vectors.begin() + static_cast<ptrdiff_t>(i * dim),
                                  vectors.begin() + static_cast<ptrdiff_t>((i + 1) * dim));
    }
    state.store->upsert(state.options.collection, rows);
}

UrlAddResult failure(const std::exception& e) {
    const auto* error = dynamic_cast<const Error*>(&e);
    return {false, e.what(),
            std::string(error_code_name(error ? error->code() : ErrorCode::Internal))};
}

}  // namespace

void Engine::add_image(int64_t id, std::span<const uint8_t> bytes, const std::string& url_or_name,
                       const std::string& description) {
    state_->check_open();
    std::vector<PendingImage> one;
    one.push_back(prepare_image(*state_, id, bytes, url_or_name, description, "bytes"));
    encode_and_write(*state_, one);
}

void Engine::add_image_by_url(int64_t id, const std::string& url, const std::string& description) {
    state_->check_open();
    check_text_lengths(id, url, description);
    std::vector<PendingImage> one;
    one.push_back(prepare_image(*state_, id, state_->fetch(url), url, description, "url"));
    encode_and_write(*state_, one);
}

std::vector<UrlAddResult> Engine::add_images_by_url(std::span<const UrlImage> images) {
    state_->check_open();
    constexpr size_t kBatch = 32;
    // Fetching waits on the network far more than on the CPU: more fetchers than cores.
    ThreadPool fetchers(std::clamp<size_t>(images.size(), 1, 8));
    std::vector<std::future<PendingImage>> pending;
    pending.reserve(images.size());
    for (const auto& image : images)
        pending.push_back(fetchers.submit([this, &image] {
            check_text_lengths(image.id, image.url, image.description);
            return prepare_image(*state_, image.id, state_->fetch(image.url), image.url,
                                 image.description, "url");
        }));
    std::vector<UrlAddResult> results(images.size());
    std::vector<PendingImage> batch;
    std::vector<size_t> batch_index;
    auto flush = [&] {
        try {
            encode_and_write(*state_, batch);
            for (size_t i : batch_index) results[i].ok = true;
        } catch (const std::exception& e) {
            for (size_t i : batch_index) results[i] = failure(e);
        }
        batch.clear();
        batch_index.clear();
    };
    for (size_t i = 0; i < pending.size(); ++i) {
        try {
            batch.push_back(pending[i].get());
            batch_index.push_back(i);
        } catch (const std::exception& e) {
            results[i] = failure(e);
        }
        if (batch.size() == kBatch) flush();
    }
    flush();
    return results;
}

std::vector<SearchHit> Engine::search(const std::string& text, int top_k,
                                      const std::string& filter) {
    state_->check_open();
    const std::vector<float> vector = state_->embedder->encode_texts({&text, 1});
    return state_->search_vector(vector, top_k, filter);
}

std::vector<std::vector<SearchHit>> Engine::search_batch(std::span<const std::string> texts,
                                                         int top_k, const std::string& filter) {
    state_->check_open();
    if (texts.empty()) return {};
    const std::vector<float> vectors = state_->embedder->encode_texts(texts);
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
    return state_->search_vector(state_->embedder->encode_image_file(path), top_k, filter);
}

std::vector<SearchHit> Engine::search_by_image_bytes(std::span<const uint8_t> bytes, int top_k,
                                                     const std::string& filter) {
    state_->check_open();
    return state_->search_vector(state_->embedder->encode_image_bytes(bytes, "uploaded image"),
                                 top_k, filter);
}

std::vector<SearchHit> Engine::search_by_image_url(const std::string& url, int top_k,
                                                   const std::string& filter) {
    state_->check_open();
    return state_->search_vector(state_->embedder->encode_image_bytes(state_->fetch(url), url),
                                 top_k, filter);
}

RgbImage Engine::load_image(const std::string& path_or_url) {
    state_->check_open();
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
    store::QueryRequest request;
    request.limit = limit;
    request.offset = offset;
    if (include_vectors) request.output_fields = {"*"};
    return state_->store->query(state_->options.collection, request);
}

nlohmann::json Engine::get_database_stats() {
    state_->check_open();
    const auto& collection = state_->options.collection;
    const store::CollectionStats stats = state_->store->stats(collection);
    const store::CollectionInfo info = state_->store->describe_collection(collection);
    return {{"total_records", stats.row_count},
            {"collection_name", collection},
            {"model", state_->model_name},
            {"dimension", info.spec.dim},
            {"index_type", store::index_kind_name(info.spec.index.kind)},
            {"metric_type", store::metric_name(info.spec.index.metric)},
            {"backend", state_->store->backend_name()},
            {"uri", state_->store->uri()},
            {"bytes_on_disk", stats.bytes_on_disk},
            {"index_state", stats.index_state}};
}

nlohmann::json Engine::collection_info() {
    state_->check_open();
    const store::CollectionInfo info =
        state_->store->describe_collection(state_->options.collection);
    const auto& spec = info.spec;
    nlohmann::json fields = nlohmann::json::array({
        {{"name", "id"}, {"type", "INT64"}, {"is_primary", true}},
        {{"name", "url"}, {"type", "VARCHAR"}, {"max_length", store::kMaxUrlBytes}},
        {{"name", "description"}, {"type", "VARCHAR"}},
        {{"name", "vector"}, {"type", "FLOAT_VECTOR"}, {"dimension", spec.dim}},
        {{"name", "added_at"}, {"type", "VARCHAR"}, {"max_length", store::kMaxTimestampBytes}},
        {{"name", "updated_at"}, {"type", "VARCHAR"}, {"max_length", store::kMaxTimestampBytes}},
    });
    nlohmann::json index = {{"index_type", store::index_kind_name(spec.index.kind)},
                            {"metric_type", store::metric_name(spec.index.metric)}};
    if (spec.index.kind == store::IndexKind::IvfFlat)
        index["params"] = {{"nlist", spec.index.nlist}};
    if (spec.index.kind == store::IndexKind::Hnsw)
        index["params"] = {{"M", spec.index.m}, {"efConstruction", spec.index.ef_construction}};
    return {{"collection_name", spec.name},
            {"description", spec.description},
            {"fields", fields},
            {"enable_dynamic_field", true},
            {"index", index},
            {"num_entities", info.row_count},
            {"properties", spec.properties},
            {"backend", state_->store->backend_name()}};
}

bool Engine::remove_by_id(int64_t id) {
    state_->check_open();
    const int64_t ids[] = {id};
    return state_->store->remove(state_->options.collection, ids) > 0;
}

void Engine::close() {
    if (state_->closed) return;
    state_->store->flush(state_->options.collection);
    state_->closed = true;
}

int Engine::dim() const {
    return state_->encoder->dim();
}
const std::string& Engine::model_name() const {
    return state_->model_name;
}

}  // namespace clipdex
