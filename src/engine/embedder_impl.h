// The Embedder's state, shared with the engine: the engine builds its Embedder from the encoder
// and limits it already holds, so its queries are encoded by exactly this code.
#pragma once

#include <memory>
#include <string>

#include "clipdex/embedder.h"
#include "engine/encoder.h"
#include "image/image.h"

namespace clipdex {

// The decode limits of an engine or embedder with these options and this encoder.
image::DecodeLimits decode_limits_for(uint64_t max_image_bytes, uint64_t max_image_pixels,
                                      const Encoder& encoder);

struct Embedder::Impl {
    std::shared_ptr<Encoder> encoder;
    image::DecodeLimits limits;
    size_t max_text_bytes = 0;

    // Decoded image -> preprocessed pixels -> one normalised embedding.
    std::vector<float> encode_image(const image::Image& image) const;
};

}  // namespace clipdex
