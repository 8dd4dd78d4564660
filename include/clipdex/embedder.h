// clipdex embedder: a CLIP model without a store. Texts and images in, L2-normalised vectors
// out, with the same model resolution, image limits and SVG rasterisation as the Engine (which
// encodes its queries through one of these), so `clipdex embed`, a search and (later) the
// encoder service give bit-identical vectors for the same input.
//
// Basic usage:
//   clipdex::EmbedderOptions options;          // ViT-B-32::openai
//   options.model = "/path/to/model-dir";      // or a registry name, or hf-hub:ORG/REPO
//   auto embedder = clipdex::Embedder::open(options);
//   const std::string texts[] = {"a dog", "a cat"};
//   std::vector<float> v = embedder->encode_texts(texts);   // 2 * embedder->dim() floats
//
// Thread safety: every encode_* method may be called from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipdex/export.h"

namespace clipdex {

// Model download progress: file name, bytes done, bytes total (0 = unknown).
using DownloadProgressFn = std::function<void(const std::string&, uint64_t, uint64_t)>;

struct EmbedderOptions {
    std::string model = "ViT-B-32::openai";   // a registry name, hf-hub:ORG/REPO or a directory
                                              // (empty: this default)
    int threads = 0;                          // 0 = all cores
    uint64_t max_image_bytes = 64ull << 20;   // larger image inputs are refused (TooLarge)
    uint64_t max_image_pixels = 100'000'000;  // width * height after decoding (TooLarge)
    size_t max_text_bytes = 64 << 10;         // longer texts are refused (TooLarge)
    DownloadProgressFn download_progress;     // called while a missing model downloads
};

// A decoded image as the public API hands it out: rows top to bottom, 3 bytes (R, G, B) per
// pixel, no padding: rgb.size() == width * height * 3.
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> rgb;
};

class CLIPDEX_API Embedder {
  public:
    // Loads the model (downloading a registry or hf-hub: model into the Hugging Face cache when
    // it is missing).
    static std::unique_ptr<Embedder> open(const EmbedderOptions& options);
    ~Embedder();

    // What a collection records as its model: the registry name as given, or the folder's
    // absolute path.
    const std::string& model_name() const;
    int dim() const;         // floats per vector
    int image_size() const;  // the model's input side; SVGs are rasterised at it

    // Each method returns count * dim() floats, one L2-normalised row per input, input order.
    std::vector<float> encode_texts(std::span<const std::string> texts);
    // Decoded under the size and pixel limits; `name` names the input in errors.
    std::vector<float> encode_image_file(const std::filesystem::path& path);
    std::vector<float> encode_image_bytes(std::span<const uint8_t> bytes, const std::string& name);
    // An image's bytes decoded as encode_image_bytes does and preprocessed to the model's input
    // (3 * image_size() * image_size() floats): images prepared on many threads can then go
    // through encode_pixels as one batch (the encoder service does).
    std::vector<float> preprocess_image_bytes(std::span<const uint8_t> bytes,
                                              const std::string& name);
    // The towers on prepared inputs, for comparisons with a reference implementation: `count`
    // rows of token ids (at most the model's context length each), or preprocessed pixels
    // [count, 3, image_size(), image_size()].
    std::vector<float> encode_token_ids(std::span<const int32_t> ids, size_t count);
    std::vector<float> encode_pixels(std::span<const float> pixels, size_t count);

    struct Impl;  // src/engine/embedder_impl.h; outsiders cannot make one
    explicit Embedder(std::unique_ptr<Impl> impl);

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace clipdex
