#include "hub/model_registry.h"

#include "clipdex/error.h"
#include "hub/curl_util.h"

#include <algorithm>
#include <array>
#include "common/ascii.h"

namespace clipdex::hub {

namespace fs = std::filesystem;

namespace {

struct Registered {
    std::string_view name;
    std::string_view repo;
    ModelFormat format;
    int embed_dim;
};

// Where each name's weights live (notes/clip-reference.md). The timm repo's own
// model.safetensors is a vision-only timm checkpoint, so only its open_clip files are used.
constexpr std::array<Registered, 6> kRegistry{{
    {"ViT-B-32::openai", "openai/clip-vit-base-patch32", ModelFormat::Transformers, 512},
    {"ViT-B-16::openai", "openai/clip-vit-base-patch16", ModelFormat::Transformers, 512},
    {"ViT-L-14::openai", "openai/clip-vit-large-patch14", ModelFormat::Transformers, 768},
    {"ViT-L-14-336::openai", "openai/clip-vit-large-patch14-336", ModelFormat::Transformers, 768},
    {"ViT-B-32::laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", ModelFormat::OpenClip,
     512},
    {"ViT-B-32::laion2b_e16", "timm/vit_base_patch32_clip_224.laion2b_e16", ModelFormat::OpenClip,
     512},
}};

constexpr std::string_view kHfPrefix = "hf-hub:";
const std::string kOpenClipConfig = "open_clip_config.json";

const Registered* find_registered(std::string_view name) {
    const auto it = std::find_if(kRegistry.begin(), kRegistry.end(), [&](const Registered& entry) {
        return ascii_iequals(entry.name, name);
    });
    return it == kRegistry.end() ? nullptr : &*it;
}

std::string known_names() {
    std::string names;
    for (const Registered& entry : kRegistry) {
        names += (names.empty() ? "" : ", ") + std::string(entry.name);
    }
    return names;
}

ModelSource from_hf_name(std::string_view name) {
    std::string repo(name.substr(kHfPrefix.size()));
    ModelSource source;
    source.name = std::string(name);
    if (const auto at = repo.find('@'); at != std::string::npos) {
        source.revision = repo.substr(at + 1);
        repo.resize(at);
        if (source.revision.empty() || source.revision.find("..") != std::string::npos) {
            throw Error(ErrorCode::InvalidInput,
                        "model '" + source.name + "': empty or invalid revision");
        }
    }
    validate_repo_id(repo);
    source.repo = repo;
    return source;
}

bool looks_like_path(std::string_view name) {
    return name.find('/') != std::string_view::npos || name.rfind('.', 0) == 0 ||
           name.rfind('~', 0) == 0;
}

// A file entry is satisfied when one of its choices is cached, or (optional entries) when
// every choice is known to be absent.
bool entry_satisfied(const HubConfig& config, const ModelSource& source, const std::string& commit,
                     const RepoFile& file) {
    bool all_missing = true;
    for (const std::string& choice : file.choices) {
        const CacheState state = cached_file_state(config, source.repo, commit, choice);
        if (state == CacheState::Present) {
            return true;
        }
        all_missing = all_missing && state == CacheState::KnownMissing;
    }
    return !file.required && all_missing;
}

ModelFormat cached_format(const HubConfig& config, const ModelSource& source,
                          const std::string& commit) {
    if (source.format != ModelFormat::Unknown) {
        return source.format;
    }
    switch (cached_file_state(config, source.repo, commit, kOpenClipConfig)) {
        case CacheState::Present:
            return ModelFormat::OpenClip;
        case CacheState::KnownMissing:
            return ModelFormat::Transformers;
        case CacheState::Unknown:
            return ModelFormat::Unknown;
    }
    return ModelFormat::Unknown;
}

// The snapshot folder when every file of the model is in the cache; no network involved.
std::optional<fs::path> complete_snapshot(const HubConfig& config, const ModelSource& source) {
    const auto commit = cached_commit(config, source.repo, source.revision);
    if (!commit) {
        return std::nullopt;
    }
    const ModelFormat format = cached_format(config, source, *commit);
    if (format == ModelFormat::Unknown) {
        return std::nullopt;
    }
    const auto files = files_for_format(format);
    const bool complete = std::all_of(files.begin(), files.end(), [&](const RepoFile& file) {
        return entry_satisfied(config, source, *commit, file);
    });
    if (!complete) {
        return std::nullopt;
    }
    return repo_cache_dir(config, source.repo) / "snapshots" / *commit;
}

// Downloads the first available choice of one entry; returns false when the repo has none.
bool fetch_entry(const HubConfig& config, RepoFileRef ref, const RepoFile& file,
                 const ProgressCallback& progress, std::string& commit) {
    for (const std::string& choice : file.choices) {
        ref.file = choice;
        if (auto got = download_file(config, ref, progress)) {
            commit = got->commit;
            return true;
        }
    }
    return false;
}

fs::path download_model(const HubConfig& config, const ModelSource& source,
                        const ProgressCallback& progress) {
    RepoFileRef ref{source.repo, source.revision, ""};
    std::string commit;
    ModelFormat format = source.format;
    if (format == ModelFormat::Unknown) {
        // hf-hub: repos may hold either layout; open_clip's config decides, as open_clip does.
        format = fetch_entry(config, ref, RepoFile{{kOpenClipConfig}, false}, progress, commit)
                     ? ModelFormat::OpenClip
                     : ModelFormat::Transformers;
    }
    for (const RepoFile& file : files_for_format(format)) {
        if (!commit.empty()) {
            ref.revision = commit;  // every file from the same commit, even if the branch moves
        }
        if (!fetch_entry(config, ref, file, progress, commit) && file.required) {
            std::string names;
            for (const std::string& choice : file.choices) {
                names += (names.empty() ? "'" : " or '") + choice + "'";
            }
            throw Error(ErrorCode::NotFound, "model '" + source.name + "': repository '" +
                                                 source.repo + "' at " + config.endpoint +
                                                 " has no " + names);
        }
    }
    if (commit.empty()) {
        throw Error(ErrorCode::Internal,
                    "model '" + source.name + "': no commit learnt from the hub");
    }
    return repo_cache_dir(config, source.repo) / "snapshots" / commit;
}

}  // namespace

std::vector<RepoFile> files_for_format(ModelFormat format) {
    switch (format) {
        case ModelFormat::Transformers:
            return {{{"config.json"}, true},
                    {{"model.safetensors"}, true},
                    {{"vocab.json"}, true},
                    {{"merges.txt"}, true},
                    {{"preprocessor_config.json"}, true}};
        case ModelFormat::OpenClip:
            return {{{kOpenClipConfig}, true},
                    {{"open_clip_model.safetensors", "open_clip_pytorch_model.bin"}, true},
                    {{"vocab.json"}, false},
                    {{"merges.txt"}, false}};
        case ModelFormat::Unknown:
            break;
    }
    return {};
}

ModelFormat detect_format(const fs::path& dir) {
    std::error_code ignored;
    if (fs::exists(dir / kOpenClipConfig, ignored)) {
        return ModelFormat::OpenClip;
    }
    if (fs::exists(dir / "config.json", ignored)) {
        return ModelFormat::Transformers;
    }
    return ModelFormat::Unknown;
}

ModelSource resolve_model(std::string_view name) {
    if (name.rfind(kHfPrefix, 0) == 0) {
        return from_hf_name(name);
    }
    if (const Registered* entry = find_registered(name)) {
        ModelSource source;
        source.name = std::string(entry->name);
        source.repo = std::string(entry->repo);
        source.format = entry->format;
        source.files = files_for_format(entry->format);
        source.embed_dim = entry->embed_dim;
        return source;
    }
    std::error_code ignored;
    const fs::path dir{std::string(name)};
    if (!name.empty() && fs::is_directory(dir, ignored)) {
        ModelSource source;
        source.kind = SourceKind::LocalDir;
        source.name = std::string(name);
        source.local_dir = dir;
        source.format = detect_format(dir);
        source.files = files_for_format(source.format);
        return source;
    }
    if (looks_like_path(name)) {
        throw Error(ErrorCode::NotFound,
                    "model directory '" + std::string(name) +
                        "' does not exist (for a Hugging Face repo write hf-hub:ORG/NAME)");
    }
    throw Error(ErrorCode::NotFound, "unknown model '" + std::string(name) +
                                         "'; known models: " + known_names() +
                                         "; or hf-hub:ORG/NAME, or a directory holding the files");
}

std::vector<ModelInfo> list_models(const HubConfig& config) {
    std::vector<ModelInfo> models;
    for (const Registered& entry : kRegistry) {
        ModelInfo info;
        info.name = std::string(entry.name);
        info.repo = std::string(entry.repo);
        info.embed_dim = entry.embed_dim;
        info.is_default = entry.name == kDefaultModel;
        if (auto snapshot = complete_snapshot(config, resolve_model(entry.name))) {
            info.cached = true;
            info.snapshot = *snapshot;
        }
        models.push_back(std::move(info));
    }
    return models;
}

fs::path ensure_model(std::string_view name, const ProgressCallback& progress,
                      const HubConfig& config) {
    const ModelSource source = resolve_model(name);
    if (source.kind == SourceKind::LocalDir) {
        if (source.format == ModelFormat::Unknown) {
            throw Error(ErrorCode::InvalidInput,
                        "model directory '" + source.local_dir.string() +
                            "' holds no model (neither open_clip_config.json nor config.json)");
        }
        return source.local_dir;
    }
    if (auto snapshot = complete_snapshot(config, source)) {
        return *snapshot;
    }
    if (config.offline) {
        throw Error(ErrorCode::NotFound, "model " + source.name + " is not in the cache at " +
                                             repo_cache_dir(config, source.repo).string() +
                                             " and HF_HUB_OFFLINE=1");
    }
    return download_model(config, source, progress);
}

}  // namespace clipdex::hub
