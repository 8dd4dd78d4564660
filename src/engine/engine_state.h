// The engine's shared state, visible to its source files only.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "clipdex/engine.h"
#include "engine/embedder_impl.h"
#include "engine/encoder.h"
#include "engine/model_choice.h"
#include "image/image.h"

namespace clipdex {

namespace engine {

struct State {
    // An engine over the given store and encoder (Engine::open passes none: the model loads on
    // the first encode; tests pass their own).
    static std::unique_ptr<Engine> open(const EngineOptions& options,
                                        std::shared_ptr<Encoder> encoder,
                                        std::shared_ptr<store::Store> store);

    EngineOptions options;
    std::shared_ptr<store::Store> store;
    // Set by model() on first use (tests may set it before); `limits` and `embedder` with it.
    std::shared_ptr<Encoder> encoder;
    image::DecodeLimits limits;
    std::unique_ptr<Embedder> embedder;  // over `encoder` and `limits`: encodes the queries
    bool closed = false;

    void check_open() const;
    // An image URL's bytes under the engine's private-address rule and size limit.
    std::vector<uint8_t> fetch(const std::string& url) const;
    std::vector<SearchHit> search_vector(std::span<const float> vector, int top_k,
                                         const std::string& filter);

    // The rest is in collection_model.cpp.
    // The model, loaded on the first call (thread-safe): --model, else the collection's own,
    // else the default; refused (Conflict) when the collection holds another model's vectors.
    Encoder& model();
    bool model_loaded() const { return model_ready_.load(std::memory_order_acquire); }
    // Whether the collection exists; a yes is remembered.
    bool has_collection();
    // Creates the collection with the model's record unless it exists: before the first write.
    void ensure_collection();
    // The collection's model record; nullopt when there is no collection.
    std::optional<ModelRecord> record();
    // The model stats name: the collection's record, else the loaded or requested model.
    std::string model_name();
    CollectionPlace place() const { return {options.collection, store->uri()}; }

  private:
    void check_model(const Encoder& encoder, const store::CollectionInfo& info);

    std::mutex model_mutex_;
    std::atomic<bool> model_ready_{false};
    std::mutex collection_mutex_;
    std::atomic<bool> collection_ready_{false};
};

}  // namespace engine

SearchHit hit_from_store(const store::Hit& hit);

}  // namespace clipdex
