// Model fingerprints: the same weights anywhere are the same model; other weights, another
// precision or another architecture are not.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "clipdex/model.h"
#include "model/fingerprint.h"

namespace clipdex::model {
namespace {

namespace fs = std::filesystem;

const fs::path kEmoji = fs::path(CLIPDEX_SHARED_DIR) / "models/emoji-clip-tiny";
const fs::path kEmojiF16 = fs::path(CLIPDEX_SOURCE_DIR) / "models/emoji-clip-tiny-f16";

// Tensors over bytes in memory.
class MemoryWeights final : public WeightFile {
  public:
    explicit MemoryWeights(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {
        // "big": 64 KiB of F32 (sampled); "small": 256 bytes (hashed whole).
        add("big", {128, 128}, 0);
        add("small", {64}, 128 * 128 * 4);
    }
    const std::map<std::string, TensorView>& tensors() const override { return tensors_; }
    const fs::path& path() const override { return path_; }

  private:
    void add(const std::string& name, std::vector<int64_t> shape, size_t offset) {
        TensorView view;
        view.shape = std::move(shape);
        view.nbytes = static_cast<size_t>(view.numel()) * 4;
        view.data = bytes_.data() + offset;
        tensors_[name] = view;
    }
    std::vector<std::byte> bytes_;
    std::map<std::string, TensorView> tensors_;
    fs::path path_ = "memory";
};

std::vector<std::byte> pattern() {
    std::vector<std::byte> bytes(128 * 128 * 4 + 64 * 4);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7 % 253);
    return bytes;
}

ClipConfig small_config() {
    ClipConfig config;
    config.embed_dim = 64;
    config.image_size = 32;
    config.patch_size = 8;
    config.context_length = 77;
    config.vocab_size = 49408;
    config.vision = {64, 2, 2, 256};
    config.text = {64, 2, 2, 256};
    return config;
}

TEST(Fingerprint, SameBytesSameFingerprintAnyChangeAnother) {
    const std::string base = fingerprint(small_config(), MemoryWeights(pattern()));
    EXPECT_EQ(base.rfind("sha256:", 0), 0u) << base;
    EXPECT_EQ(base.size(), 7u + 24u);
    EXPECT_EQ(fingerprint(small_config(), MemoryWeights(pattern())), base);
    // One byte at the start, in the middle sample and at the end of the big tensor, and in the
    // small one: each is another model.
    for (size_t at : {size_t{0}, size_t{128 * 128 * 2}, size_t{128 * 128 * 4 - 1},
                      size_t{128 * 128 * 4 + 100}}) {
        auto bytes = pattern();
        bytes[at] ^= std::byte{1};
        EXPECT_NE(fingerprint(small_config(), MemoryWeights(bytes)), base) << "byte " << at;
    }
    ClipConfig other = small_config();
    other.text.act = Activation::QuickGelu;
    EXPECT_NE(fingerprint(other, MemoryWeights(pattern())), base);
    other = small_config();
    other.mean[1] = 0.5f;
    EXPECT_NE(fingerprint(other, MemoryWeights(pattern())), base);
}

TEST(Fingerprint, AModelCopiedElsewhereIsTheSameModelItsF16CopyIsNot) {
    const fs::path copy = fs::temp_directory_path() /
                          ("clipdex-fingerprint-" + std::to_string(::getpid())) / "renamed";
    fs::create_directories(copy);
    for (const auto& entry : fs::directory_iterator(kEmoji))
        fs::copy_file(entry.path(), copy / entry.path().filename());
    const std::string original = ClipModel::load(kEmoji, {.threads = 1})->info().fingerprint;
    EXPECT_EQ(ClipModel::load(copy, {.threads = 1})->info().fingerprint, original);
    EXPECT_NE(ClipModel::load(kEmojiF16, {.threads = 1})->info().fingerprint, original);
    fs::remove_all(copy.parent_path());
}

}  // namespace
}  // namespace clipdex::model
