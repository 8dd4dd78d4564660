// Model configs (src/model/clip_config.*): the first byte picks open_clip_config.json or
// transformers' config.json; for the latter a NUL byte may separate preprocessor_config.json.
// Parsing fails with clipdex::Error or gives a config a model can be built from: positive
// sizes within the parser's limits, heads dividing widths, patches tiling the image, finite
// positive normalisation.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "clipdex/error.h"
#include "model/clip_config.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_tower(const clipdex::model::TowerConfig& t) {
    check(t.width >= 1 && t.width <= (1 << 20));
    check(t.layers >= 1 && t.layers <= 1024);
    check(t.heads >= 1 && t.width % t.heads == 0);
    check(t.mlp_width >= 1 && t.mlp_width <= (1 << 24));
    check(std::isfinite(t.ln_eps) && t.ln_eps > 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace clipdex::model;
    if (size < 1) return 0;
    const Format format = (data[0] & 1) != 0 ? Format::HuggingFace : Format::OpenClip;
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const size_t split = format == Format::HuggingFace ? rest.find('\0') : std::string_view::npos;
    const std::string_view config = rest.substr(0, split);
    const std::string_view pre =
        split == std::string_view::npos ? std::string_view() : rest.substr(split + 1);
    ClipConfig cfg;
    try {
        cfg = parse_clip_config(format, config, pre, "fuzz");
    } catch (const clipdex::Error&) {
        return 0;
    }
    check(cfg.format == format && cfg.weights.empty());
    check(cfg.embed_dim >= 1);
    check(cfg.image_size >= 1 && cfg.patch_size >= 1 && cfg.image_size % cfg.patch_size == 0);
    check(cfg.context_length >= 1 && cfg.vocab_size >= 1);
    check_tower(cfg.vision);
    check_tower(cfg.text);
    for (int c = 0; c < 3; ++c) {
        check(std::isfinite(cfg.mean[size_t(c)]));
        check(std::isfinite(cfg.std[size_t(c)]) && cfg.std[size_t(c)] > 0);
    }
    return 0;
}
