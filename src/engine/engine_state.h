// The engine's shared state, visible to its source files only.
#pragma once

#include <memory>
#include <string>

#include "clipdex/engine.h"
#include "engine/embedder_impl.h"
#include "engine/encoder.h"
#include "image/image.h"

namespace clipdex {

// Collection properties a clipdex collection carries.
inline constexpr const char* kPropertyModel = "clipdex.model";
inline constexpr const char* kPropertyDim = "clipdex.dim";

namespace engine {

struct State {
    // An engine over the given encoder and store (Engine::open passes the local model and the
    // URI's store; tests and, later, the encoder service pass their own).
    static std::unique_ptr<Engine> open(const EngineOptions& options,
                                        std::shared_ptr<Encoder> encoder,
                                        std::shared_ptr<store::Store> store);

    EngineOptions options;
    std::shared_ptr<Encoder> encoder;
    std::shared_ptr<store::Store> store;
    std::string model_name;
    image::DecodeLimits limits;
    std::unique_ptr<Embedder> embedder;  // over `encoder` and `limits`: encodes the queries
    bool closed = false;

    void check_open() const;
    // An image URL's bytes under the engine's private-address rule and size limit.
    std::vector<uint8_t> fetch(const std::string& url) const;
    std::vector<SearchHit> search_vector(std::span<const float> vector, int top_k,
                                         const std::string& filter);
};

}  // namespace engine

SearchHit hit_from_store(const store::Hit& hit);

}  // namespace clipdex
