// Reads a CLIP checkpoint directory's config (OpenCLIP or HF transformers) into one shape.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace clipdex::model {

enum class Format { OpenClip, HuggingFace };
enum class Activation { QuickGelu, Gelu };

struct TowerConfig {
    int width = 0;
    int layers = 0;
    int heads = 0;
    int mlp_width = 0;
    float ln_eps = 1e-5f;
    Activation act = Activation::Gelu;
};

struct ClipConfig {
    Format format = Format::OpenClip;
    int embed_dim = 0;
    int image_size = 0;
    int patch_size = 0;
    int context_length = 0;
    int vocab_size = 0;
    TowerConfig vision, text;
    std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
    std::filesystem::path weights;  // the file holding the tensors
};

// Throws Error(NotFound) when the directory holds neither format, Corrupt for malformed
// config values, Unsupported for features this runtime does not implement.
ClipConfig read_clip_config(const std::filesystem::path& dir);

// The config part of read_clip_config, from the files' text instead of a directory, without
// the weights lookup (ClipConfig::weights stays empty): `config` is open_clip_config.json
// (Format::OpenClip) or config.json (Format::HuggingFace); `preprocessor` is
// preprocessor_config.json's text or empty when there is none (HuggingFace only). Errors name
// files under `dir`. For tests and fuzzing; throws what read_clip_config throws for them.
ClipConfig parse_clip_config(Format format, std::string_view config,
                             std::string_view preprocessor = {},
                             const std::filesystem::path& dir = "model");

}  // namespace clipdex::model
