// clipdex model runtime: CLIP image and text towers on the CPU.
//
// Loads a local directory holding either an OpenCLIP checkpoint (open_clip_config.json +
// open_clip_model.safetensors or open_clip_pytorch_model.bin) or a Hugging Face transformers
// CLIP (config.json + model.safetensors, possibly sharded, + preprocessor_config.json). The
// architecture comes from the config and the tensor shapes; weights stay memory-mapped.
//
// Basic usage:
//     auto model = clipdex::ClipModel::load("models/ViT-B-32", {});
//     std::vector<std::string> texts = {"a dog", "a cat"};
//     std::vector<float> emb = model->encode_texts(texts);  // 2 * info().embed_dim
//
// Layout: every encode_* returns n rows of embed_dim floats, row i for input i, each row
// L2-normalized. Pixels are n images of 3 x image_size x image_size floats (CHW, already
// normalized with info().mean / info().std).
//
// Thread safety: a loaded model is immutable; every encode_* may be called from many threads
// at once. Each call uses up to LoadOptions::threads threads of its own.
//
// Errors: clipdex::Error (include/clipdex/error.h) naming the file, tensor or input at fault.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipdex/export.h"

namespace clipdex {

struct LoadOptions {
    int threads = 0;  // worker threads per encode call; 0 = all hardware threads
    bool half_to_f32_at_load =
        false;  // F16/BF16 weights: false converts each layer on the fly into a
                // per-call scratch buffer (memory = file size); true keeps F32
                // copies (2x memory of the file, faster at batch 1)
};

struct TowerInfo {
    int width = 0;
    int layers = 0;
    int heads = 0;
    int mlp_width = 0;
};

struct ModelInfo {
    std::string name;          // directory name
    std::string format;        // "open_clip" or "hf"
    std::string weight_dtype;  // "F32", "F16", "BF16" (of the big matrices)
    std::string activation;    // "quick_gelu" or "gelu"
    int embed_dim = 0;
    int image_size = 0;
    int patch_size = 0;
    int context_length = 0;
    int vocab_size = 0;
    TowerInfo vision, text;
    std::array<float, 3> mean{};  // preprocessing normalization
    std::array<float, 3> std{};
    size_t weight_bytes = 0;  // bytes of tensors used, as stored
    // What the weights are, wherever the folder is: "sha256:..." over the architecture and the
    // tensors (src/model/fingerprint.h). Collections remember it to refuse other models.
    std::string fingerprint;
};

class CLIPDEX_API ClipModel {
  public:
    // Throws Error(NotFound) for a missing directory/file, Corrupt for damaged files,
    // Unsupported for architectures this runtime does not implement.
    static std::unique_ptr<ClipModel> load(const std::filesystem::path& dir,
                                           const LoadOptions& options = {});
    ~ClipModel();
    ClipModel(const ClipModel&) = delete;
    ClipModel& operator=(const ClipModel&) = delete;

    const ModelInfo& info() const;

    // Tokenizes with the directory's CLIP BPE (vocab.json + merges.txt, or
    // bpe_simple_vocab_16e6.txt.gz).
    std::vector<float> encode_texts(std::span<const std::string> texts) const;
    // n rows of `length` token ids (length <= context_length); pooled at each row's largest id.
    std::vector<float> encode_token_ids(std::span<const int32_t> ids, size_t n) const;
    std::vector<float> encode_images(std::span<const float> pixels, size_t n) const;
    // Decodes and preprocesses each file as open_clip does, then encodes.
    std::vector<float> encode_image_files(std::span<const std::filesystem::path> files) const;
    std::vector<int32_t> tokenize(const std::string& text) const;  // context_length ids

  private:
    struct Impl;
    explicit ClipModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace clipdex
