// The CLIP towers as the engine sees them: a local model in this process, or (later) a remote
// encoder service. Preprocessing is separate from encoding so that indexing can decode and
// resize on worker threads while the previous batch is being encoded.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipdex/engine.h"
#include "image/image.h"

namespace clipdex {

class Encoder {
  public:
    virtual ~Encoder() = default;
    // What the collection records (engine/model_choice.h): the registry name or the absolute
    // folder, and the weights' fingerprint.
    virtual const std::string& name() const = 0;
    virtual const std::string& fingerprint() const = 0;
    virtual int dim() const = 0;
    virtual int image_size() const = 0;  // the model's input size, also the SVG raster size
    // The model's inference transform; thread-safe, called from many threads at once.
    virtual std::vector<float> preprocess(const image::Image& image) const = 0;
    // n*dim floats, every row L2-normalised, in input order. Thread-safe.
    virtual std::vector<float> encode_texts(std::span<const std::string> texts) = 0;
    virtual std::vector<float> encode_pixels(std::span<const float> pixels, size_t count) = 0;
    // `count` rows of token ids, for comparisons with a reference on identical inputs.
    virtual std::vector<float> encode_token_ids(std::span<const int32_t> ids, size_t count) = 0;
};

// Loads a model by registry name, hf-hub:ORG/REPO or local directory (downloading it into the
// Hugging Face cache when missing and allowed).
std::shared_ptr<Encoder> make_local_encoder(const std::string& model, int threads,
                                            const DownloadProgressFn& download_progress = {});

}  // namespace clipdex
