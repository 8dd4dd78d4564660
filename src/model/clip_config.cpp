#include "model/clip_config.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "common/file_read.h"

namespace clipdex::model {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxConfigBytes = 16 * 1024 * 1024;

// Bounded while reading: a FIFO or /dev/zero named config.json stops at the limit.
std::string read_text(const fs::path& path) {
    return read_text_file_bounded(path, kMaxConfigBytes, path.string() + " (model config)");
}

json parse_json(const fs::path& path, std::string_view text) {
    if (text.size() > kMaxConfigBytes)
        throw Error(ErrorCode::Corrupt, path.string() + ": config larger than 16 MB");
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object())
        throw Error(ErrorCode::Corrupt, path.string() + ": not a JSON object");
    return parsed;
}

// A value for an error message: scalars as JSON (long strings cut), containers by kind only, so a
// deeply nested value cannot make the message itself recurse or grow without bound.
std::string shown(const json& value) {
    if (value.is_array()) return "an array";
    if (value.is_object()) return "an object";
    std::string text = value.dump();
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return text;
}

// Reads an integer field, or the default when absent; image sizes may be [h, w] lists.
int get_int(const fs::path& file, const json& obj, const char* key, int fallback,
            int max_value = 1 << 20) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        if (fallback < 0)
            throw Error(ErrorCode::Corrupt, file.string() + ": '" + key + "' is missing");
        return fallback;
    }
    const json* v = &*it;
    // [h, w] with h == w; only numbers are compared (== on nested arrays would recurse).
    if (v->is_array() && v->size() == 2 && (*v)[0].is_number() && (*v)[0] == (*v)[1]) v = &(*v)[0];
    if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
        v->get<double>() >= 1 && v->get<double>() <= max_value)
        return static_cast<int>(v->get<double>());
    if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > max_value)
        throw Error(ErrorCode::Corrupt, file.string() + ": '" + key +
                                            "' must be a positive integer, not " + shown(*it));
    return static_cast<int>(v->get<int64_t>());
}

double get_number(const fs::path& file, const json& obj, const char* key, double fallback) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_number())
        throw Error(ErrorCode::Corrupt, file.string() + ": '" + key + "' must be a number");
    return it->get<double>();
}

// A float field that must stay finite once narrowed to float (1e300 would become inf).
float get_float(const fs::path& file, const json& obj, const char* key, double fallback) {
    const double value = get_number(file, obj, key, fallback);
    if (!std::isfinite(static_cast<float>(value)))
        throw Error(ErrorCode::Corrupt,
                    file.string() + ": '" + key + "' is out of range: " + std::to_string(value));
    return static_cast<float>(value);
}

// width * mlp_ratio as an MLP width; the product is checked before it becomes an int.
int mlp_width(const fs::path& file, const json& tower, int width) {
    const double ratio = get_number(file, tower, "mlp_ratio", 4.0);
    const double product = std::floor(static_cast<double>(width) * ratio);
    if (!(product >= 1 && product <= (1 << 24)))
        throw Error(ErrorCode::Corrupt, file.string() + ": mlp_ratio " + std::to_string(ratio) +
                                            " gives an MLP width outside 1.." +
                                            std::to_string(1 << 24));
    return static_cast<int>(product);
}

const json& get_object(const fs::path& file, const json& obj, const char* key) {
    static const json empty = json::object();
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return empty;
    if (!it->is_object())
        throw Error(ErrorCode::Corrupt, file.string() + ": '" + key + "' must be an object");
    return *it;
}

void read_triple(const fs::path& file, const json& obj, const char* key,
                 std::array<float, 3>& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return;
    const auto finite = [&](const json& value) {
        if (!value.is_number() || !std::isfinite(static_cast<float>(value.get<double>())))
            throw Error(ErrorCode::Corrupt,
                        file.string() + ": '" + key + "' must be three finite numbers");
        return static_cast<float>(value.get<double>());
    };
    if (it->is_number()) {
        out.fill(finite(*it));
        return;
    }
    if (!it->is_array() || it->size() != 3)
        throw Error(ErrorCode::Corrupt,
                    file.string() + ": '" + key + "' must be three finite numbers");
    for (size_t i = 0; i < 3; ++i) out[i] = finite((*it)[i]);
}

void check_positive_std(const fs::path& file, const std::array<float, 3>& std_dev) {
    for (float s : std_dev)
        if (!(s > 0.0f))
            throw Error(ErrorCode::Corrupt, file.string() + ": normalization std must be positive");
}

bool truthy(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_number()) return it->get<double>() != 0.0;
    if (it->is_string()) return !it->get<std::string>().empty();
    return true;
}

void refuse_if(const fs::path& file, bool condition, const std::string& feature) {
    if (condition)
        throw Error(ErrorCode::Unsupported, file.string() + ": " + feature + " is not supported");
}

std::string get_string(const json& obj, const char* key, const std::string& fallback) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

ClipConfig parse_open_clip(const fs::path& dir, std::string_view text) {
    const fs::path file = dir / "open_clip_config.json";
    json root = parse_json(file, text);
    const json& model = root.contains("model_cfg") ? get_object(file, root, "model_cfg") : root;
    const json& vis = get_object(file, model, "vision_cfg");
    const json& txt = get_object(file, model, "text_cfg");
    refuse_if(file, truthy(vis, "timm_model_name"), "a timm vision tower");
    refuse_if(file, truthy(vis, "ls_init_value"), "layer scale (ls_init_value)");
    refuse_if(file, truthy(vis, "attentional_pool"), "attentional pooling");
    refuse_if(file, truthy(vis, "no_ln_pre"), "no_ln_pre");
    refuse_if(file, get_string(vis, "pool_type", "tok") != "tok",
              "vision pool_type other than 'tok'");
    refuse_if(file, truthy(vis, "layers") && vis["layers"].is_array(), "a ResNet vision tower");
    refuse_if(file, truthy(txt, "hf_model_name"), "a Hugging Face text tower");
    refuse_if(file, truthy(txt, "ls_init_value"), "layer scale (ls_init_value)");
    refuse_if(file, truthy(txt, "embed_cls"), "embed_cls");
    refuse_if(file, truthy(txt, "no_causal_mask"), "a text tower without causal mask");
    refuse_if(file, truthy(txt, "proj_bias"), "a text projection bias");
    refuse_if(file, get_string(txt, "pool_type", "argmax") != "argmax",
              "text pool_type other than 'argmax'");
    refuse_if(file, get_string(txt, "proj_type", "linear") != "linear",
              "text proj_type other than 'linear'");

    ClipConfig cfg;
    cfg.format = Format::OpenClip;
    cfg.embed_dim = get_int(file, model, "embed_dim", -1);
    Activation act = truthy(model, "quick_gelu") ? Activation::QuickGelu : Activation::Gelu;
    cfg.image_size = get_int(file, vis, "image_size", 224);
    cfg.patch_size = get_int(file, vis, "patch_size", 16);
    cfg.vision.width = get_int(file, vis, "width", 768);
    cfg.vision.layers = get_int(file, vis, "layers", 12, 1024);
    int head_width = get_int(file, vis, "head_width", 64);
    if (cfg.vision.width % head_width != 0)
        throw Error(ErrorCode::Corrupt,
                    file.string() + ": vision width is not a multiple of head_width");
    cfg.vision.heads = cfg.vision.width / head_width;
    cfg.vision.mlp_width = mlp_width(file, vis, cfg.vision.width);
    cfg.vision.act = act;
    cfg.context_length = get_int(file, txt, "context_length", 77);
    cfg.vocab_size = get_int(file, txt, "vocab_size", 49408, 1 << 24);
    cfg.text.width = get_int(file, txt, "width", 512);
    cfg.text.heads = get_int(file, txt, "heads", 8);
    cfg.text.layers = get_int(file, txt, "layers", 12, 1024);
    cfg.text.mlp_width = mlp_width(file, txt, cfg.text.width);
    cfg.text.act = act;
    const json& pre = get_object(file, root, "preprocess_cfg");
    read_triple(file, pre, "mean", cfg.mean);
    read_triple(file, pre, "std", cfg.std);
    check_positive_std(file, cfg.std);
    return cfg;
}

ClipConfig read_open_clip(const fs::path& dir) {
    ClipConfig cfg = parse_open_clip(dir, read_text(dir / "open_clip_config.json"));
    for (const char* name : {"open_clip_model.safetensors", "open_clip_pytorch_model.bin",
                             "open_clip_model.safetensors.index.json"})
        if (fs::exists(dir / name)) {
            cfg.weights = dir / name;
            return cfg;
        }
    throw Error(ErrorCode::NotFound,
                dir.string() +
                    ": open_clip_config.json found but no open_clip_model.safetensors or "
                    "open_clip_pytorch_model.bin");
}

Activation hf_activation(const fs::path& file, const json& tower) {
    std::string act = get_string(tower, "hidden_act", "quick_gelu");
    if (act == "quick_gelu") return Activation::QuickGelu;
    if (act == "gelu") return Activation::Gelu;
    throw Error(ErrorCode::Unsupported,
                file.string() + ": hidden_act '" + act + "' is not supported");
}

// transformers writes only the values that differ from its defaults, so those apply here.
// `preprocessor` is preprocessor_config.json's text, nullptr when there is no such file.
ClipConfig parse_hf(const fs::path& dir, std::string_view text, const std::string* preprocessor) {
    const fs::path file = dir / "config.json";
    json root = parse_json(file, text);
    const std::string model_type = get_string(root, "model_type", "clip");
    refuse_if(file, model_type != "clip", "model_type '" + model_type + "'");
    const json& vis = get_object(file, root, "vision_config");
    const json& txt = get_object(file, root, "text_config");
    ClipConfig cfg;
    cfg.format = Format::HuggingFace;
    cfg.embed_dim = get_int(file, root, "projection_dim", 512);
    cfg.image_size = get_int(file, vis, "image_size", 224);
    cfg.patch_size = get_int(file, vis, "patch_size", 32);
    cfg.vision.width = get_int(file, vis, "hidden_size", 768);
    cfg.vision.layers = get_int(file, vis, "num_hidden_layers", 12, 1024);
    cfg.vision.heads = get_int(file, vis, "num_attention_heads", 12);
    cfg.vision.mlp_width = get_int(file, vis, "intermediate_size", 3072);
    cfg.vision.ln_eps = get_float(file, vis, "layer_norm_eps", 1e-5);
    cfg.vision.act = hf_activation(file, vis);
    cfg.context_length = get_int(file, txt, "max_position_embeddings", 77);
    cfg.vocab_size = get_int(file, txt, "vocab_size", 49408, 1 << 24);
    cfg.text.width = get_int(file, txt, "hidden_size", 512);
    cfg.text.layers = get_int(file, txt, "num_hidden_layers", 12, 1024);
    cfg.text.heads = get_int(file, txt, "num_attention_heads", 8);
    cfg.text.mlp_width = get_int(file, txt, "intermediate_size", 2048);
    cfg.text.ln_eps = get_float(file, txt, "layer_norm_eps", 1e-5);
    cfg.text.act = hf_activation(file, txt);
    if (preprocessor != nullptr) {
        const fs::path pre_file = dir / "preprocessor_config.json";
        json pre = parse_json(pre_file, *preprocessor);
        read_triple(pre_file, pre, "image_mean", cfg.mean);
        read_triple(pre_file, pre, "image_std", cfg.std);
        check_positive_std(pre_file, cfg.std);
    }
    return cfg;
}

ClipConfig read_hf(const fs::path& dir) {
    const std::string config = read_text(dir / "config.json");
    const fs::path pre_file = dir / "preprocessor_config.json";
    std::optional<std::string> pre;
    if (fs::exists(pre_file)) pre = read_text(pre_file);
    ClipConfig cfg = parse_hf(dir, config, pre ? &*pre : nullptr);
    for (const char* name :
         {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"})
        if (fs::exists(dir / name)) {
            cfg.weights = dir / name;
            return cfg;
        }
    throw Error(ErrorCode::NotFound,
                dir.string() + ": config.json found but no model.safetensors or pytorch_model.bin");
}

void check_tower(const fs::path& dir, const char* tower, const TowerConfig& t) {
    if (t.heads < 1 || t.width % t.heads != 0)
        throw Error(ErrorCode::Corrupt, dir.string() + ": " + tower + " width " +
                                            std::to_string(t.width) + " is not divisible by its " +
                                            std::to_string(t.heads) + " heads");
    if (t.mlp_width < 1)
        throw Error(ErrorCode::Corrupt, dir.string() + ": " + tower + " MLP width is invalid");
    if (!(t.ln_eps > 0.0f))
        throw Error(ErrorCode::Corrupt, dir.string() + ": " + tower + " layer_norm_eps is invalid");
}

void check_config(const fs::path& dir, const ClipConfig& cfg) {
    if (cfg.image_size % cfg.patch_size != 0)
        throw Error(ErrorCode::Corrupt,
                    dir.string() + ": image size " + std::to_string(cfg.image_size) +
                        " is not a multiple of patch size " + std::to_string(cfg.patch_size));
    check_tower(dir, "vision", cfg.vision);
    check_tower(dir, "text", cfg.text);
}

}  // namespace

ClipConfig read_clip_config(const fs::path& dir) {
    if (!fs::is_directory(dir))
        throw Error(ErrorCode::NotFound, dir.string() + ": model directory not found");
    ClipConfig cfg;
    if (fs::exists(dir / "open_clip_config.json"))
        cfg = read_open_clip(dir);
    else if (fs::exists(dir / "config.json"))
        cfg = read_hf(dir);
    else
        throw Error(ErrorCode::NotFound,
                    dir.string() + ": neither open_clip_config.json nor config.json found");
    check_config(dir, cfg);
    return cfg;
}

ClipConfig parse_clip_config(Format format, std::string_view config, std::string_view preprocessor,
                             const fs::path& dir) {
    const std::string pre(preprocessor);
    ClipConfig cfg = format == Format::OpenClip
                         ? parse_open_clip(dir, config)
                         : parse_hf(dir, config, preprocessor.empty() ? nullptr : &pre);
    check_config(dir, cfg);
    return cfg;
}

}  // namespace clipdex::model
