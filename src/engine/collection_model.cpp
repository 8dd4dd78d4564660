// The engine's model and its collection: the model loads on the first encode (never for
// commands that only read rows), is checked against what the collection records
// (model_choice.h), and the collection is created, recording the model, on the first write.
#include "engine/engine_state.h"

namespace clipdex::engine {

namespace {

// Rewrites an older or stale record; a store that cannot (read-only, a Milvus server without
// AlterCollection) keeps the old record, which still matches next time.
void upgrade_record(store::Store& store, const std::string& collection,
                    const ModelRecord& loaded) {
    std::map<std::string, std::string> properties;
    loaded.write_to(properties);
    try {
        store.set_properties(collection, properties);
    } catch (const Error&) {
    }
}

}  // namespace

bool State::has_collection() {
    if (collection_ready_.load(std::memory_order_acquire)) return true;
    if (!store->has_collection(options.collection)) return false;
    collection_ready_.store(true, std::memory_order_release);
    return true;
}

std::optional<ModelRecord> State::record() {
    if (!has_collection()) return std::nullopt;
    return ModelRecord::from_properties(
        store->describe_collection(options.collection).spec.properties);
}

std::string State::model_name() {
    if (auto recorded = record(); recorded && !recorded->model.empty()) return recorded->model;
    if (model_loaded()) return encoder->name();
    return model_in_use(options.model, std::nullopt, kDefaultModel);
}

void State::check_model(const Encoder& loaded_encoder, const store::CollectionInfo& info) {
    const ModelRecord recorded = ModelRecord::from_properties(info.spec.properties);
    const ModelRecord loaded{loaded_encoder.name(), loaded_encoder.fingerprint()};
    switch (compare(recorded, loaded)) {
        case Match::Different:
            throw mismatch_error(recorded, loaded, place());
        case Match::SameUpgrade:
            upgrade_record(*store, options.collection, loaded);
            break;
        case Match::Same:
            break;
    }
    if (info.spec.dim != loaded_encoder.dim())
        throw Error(ErrorCode::Conflict, "collection '" + options.collection + "' in " +
                                             store->uri() + " has vectors of dimension " +
                                             std::to_string(info.spec.dim) + " but model '" +
                                             loaded_encoder.name() + "' makes " +
                                             std::to_string(loaded_encoder.dim()));
}

Encoder& State::model() {
    if (model_ready_.load(std::memory_order_acquire)) return *encoder;
    std::lock_guard lock(model_mutex_);
    if (model_ready_.load(std::memory_order_relaxed)) return *encoder;
    const std::optional<ModelRecord> recorded = record();
    if (!encoder) {
        const std::string name = model_to_load(options.model, recorded, kDefaultModel, place());
        encoder = make_local_encoder(name, options.threads, options.download_progress);
    }
    if (recorded) check_model(*encoder, store->describe_collection(options.collection));
    limits = decode_limits_for(options.max_image_bytes, options.max_image_pixels, *encoder);
    auto impl = std::make_unique<Embedder::Impl>();
    impl->encoder = encoder;
    impl->limits = limits;
    impl->max_text_bytes = options.max_text_bytes;
    embedder = std::make_unique<Embedder>(std::move(impl));
    model_ready_.store(true, std::memory_order_release);
    return *encoder;
}

void State::ensure_collection() {
    if (collection_ready_.load(std::memory_order_acquire)) return;
    Encoder& loaded = model();
    std::lock_guard lock(collection_mutex_);
    if (collection_ready_.load(std::memory_order_relaxed)) return;
    if (!store->has_collection(options.collection)) {
        store::CollectionSpec spec;
        spec.name = options.collection;
        spec.dim = loaded.dim();
        spec.index = options.index;
        spec.description = "clipdex image embeddings";
        ModelRecord{loaded.name(), loaded.fingerprint()}.write_to(spec.properties);
        spec.properties[kPropertyDim] = std::to_string(spec.dim);
        try {
            store->create_collection(spec);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::AlreadyExists) throw;
            check_model(loaded, store->describe_collection(options.collection));  // made meanwhile
        }
    } else {
        // Made since the model was checked (by another process): check it now.
        check_model(loaded, store->describe_collection(options.collection));
    }
    collection_ready_.store(true, std::memory_order_release);
}

}  // namespace clipdex::engine
