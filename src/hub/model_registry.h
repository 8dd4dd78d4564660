// Model names -> where the weights are, and making them present locally.
//
// A model name is one of:
//   - a registered name such as "ViT-B-32::openai" (the default) or "ViT-B-32::laion2b_e16"
//     (case-insensitive), mapped to a Hugging Face repo and its file list;
//   - "hf-hub:ORG/NAME" (optionally "@revision"): any repo; its files are probed at download
//     time, open_clip files first, else transformers files;
//   - a local directory holding the files.
//
//   auto dir = clipdex::hub::ensure_model("ViT-B-32::openai", [](const auto& p) { bar(p); });
//   // dir is the HF snapshot folder: dir/"config.json", dir/"model.safetensors", ...
#pragma once

#include "hub/hf_download.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace clipdex::hub {

inline constexpr std::string_view kDefaultModel = "ViT-B-32::openai";

enum class SourceKind { LocalDir, HfRepo };
enum class ModelFormat { OpenClip, Transformers, Unknown };

// One needed file: the first of `choices` that the repo has is used.
struct RepoFile {
    std::vector<std::string> choices;
    bool required = true;
};

struct ModelSource {
    SourceKind kind = SourceKind::HfRepo;
    std::string name;                 // as the user wrote it
    std::filesystem::path local_dir;  // kind == LocalDir
    std::string repo;                 // kind == HfRepo: "ORG/NAME"
    std::string revision = "main";
    ModelFormat format = ModelFormat::Unknown;  // Unknown: probe the repo (hf-hub: names)
    std::vector<RepoFile> files;                // empty while the format is unknown
    int embed_dim = 0;                          // 0 when only the checkpoint can tell
};

struct ModelInfo {
    std::string name;
    std::string repo;
    int embed_dim = 0;
    bool is_default = false;
    bool cached = false;             // every required file is in the HF cache
    std::filesystem::path snapshot;  // where, when cached
};

// Pure lookup, never touches the network or the cache. Throws NotFound for unknown names
// (listing the known ones) and InvalidInput for malformed hf-hub: names.
ModelSource resolve_model(std::string_view name);

// The file list of a repo in the given format (transformers: config.json, model.safetensors,
// vocab.json, merges.txt, preprocessor_config.json; open_clip: open_clip_config.json and the
// weights, tokenizer files optional).
std::vector<RepoFile> files_for_format(ModelFormat format);

// Registered models, for `clipdex models list`.
std::vector<ModelInfo> list_models(const HubConfig& config = HubConfig::from_environment());

// Snapshot directory holding every file of the model, downloading what is missing. A model
// that is complete in the cache is returned without any network request. With
// HF_HUB_OFFLINE=1 a missing model fails with "model X is not in the cache at ... and
// HF_HUB_OFFLINE=1". A local directory is returned as it is.
std::filesystem::path ensure_model(std::string_view name, const ProgressCallback& progress = {},
                                   const HubConfig& config = HubConfig::from_environment());

// Format of a directory holding model files (open_clip_config.json wins over config.json).
ModelFormat detect_format(const std::filesystem::path& dir);

}  // namespace clipdex::hub
