#include "model/fingerprint.h"

#include "common/hash.h"

namespace clipdex::model {

namespace {

constexpr size_t kSample = 4096;

// Fields go in with their sizes, so that no two different sequences hash alike.
class Hasher {
  public:
    void add(const void* data, size_t n) { sha_.update(data, n); }
    void add(const std::string& text) {
        add_number(static_cast<int64_t>(text.size()));
        add(text.data(), text.size());
    }
    void add_number(int64_t value) { add(&value, sizeof value); }
    void add_float(float value) { add(&value, sizeof value); }
    std::string hex() { return sha_.hex(); }

  private:
    Sha256 sha_;
};

void add_tower(Hasher& hash, const TowerConfig& tower) {
    for (int value : {tower.width, tower.layers, tower.heads, tower.mlp_width})
        hash.add_number(value);
    hash.add_float(tower.ln_eps);
    hash.add_number(tower.act == Activation::QuickGelu ? 1 : 2);
}

}  // namespace

std::string fingerprint(const ClipConfig& config, const WeightFile& weights) {
    Hasher hash;
    hash.add(std::string("clipdex model fingerprint v1"));
    for (int value : {config.embed_dim, config.image_size, config.patch_size,
                      config.context_length, config.vocab_size})
        hash.add_number(value);
    add_tower(hash, config.vision);
    add_tower(hash, config.text);
    for (int c = 0; c < 3; ++c) {
        hash.add_float(config.mean[c]);
        hash.add_float(config.std[c]);
    }
    for (const auto& [name, tensor] : weights.tensors()) {  // a map: in name order
        hash.add(name);
        hash.add(std::string(dtype_name(tensor.dtype)));
        hash.add_number(static_cast<int64_t>(tensor.shape.size()));
        for (int64_t extent : tensor.shape) hash.add_number(extent);
        hash.add_number(static_cast<int64_t>(tensor.nbytes));
        if (tensor.nbytes <= 3 * kSample) {
            hash.add(tensor.data, tensor.nbytes);
        } else {
            hash.add(tensor.data, kSample);
            hash.add(tensor.data + (tensor.nbytes / 2 - kSample / 2), kSample);
            hash.add(tensor.data + (tensor.nbytes - kSample), kSample);
        }
    }
    return "sha256:" + hash.hex().substr(0, 24);
}

}  // namespace clipdex::model
