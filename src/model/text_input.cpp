#include "model/text_input.h"

#include "clipdex/error.h"
#include "image/image.h"
#include "text/bpe_tokenizer.h"

namespace clipdex::model {

namespace {

class MissingTokenizer final : public TextInput {
  public:
    explicit MissingTokenizer(std::string why) : why_(std::move(why)) {}
    std::vector<int32_t> tokenize(const std::string&, int) const override {
        throw Error(ErrorCode::NotFound, why_);
    }

  private:
    std::string why_;
};

class BpeInput final : public TextInput {
  public:
    explicit BpeInput(text::BpeTokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
    std::vector<int32_t> tokenize(const std::string& text, int context_length) const override {
        return tokenizer_.tokenize(text, context_length);
    }

  private:
    text::BpeTokenizer tokenizer_;
};

}  // namespace

std::unique_ptr<TextInput> TextInput::open(const std::filesystem::path& dir) {
    if (std::filesystem::exists(dir / "vocab.json") && std::filesystem::exists(dir / "merges.txt"))
        return std::make_unique<BpeInput>(
            text::BpeTokenizer::from_hf_files(dir / "vocab.json", dir / "merges.txt"));
    if (std::filesystem::exists(dir / "bpe_simple_vocab_16e6.txt.gz"))
        return std::make_unique<BpeInput>(
            text::BpeTokenizer::from_bpe_gz(dir / "bpe_simple_vocab_16e6.txt.gz"));
    return std::make_unique<MissingTokenizer>(dir.string() +
                                              ": no tokenizer files (vocab.json + merges.txt)");
}

std::vector<float> load_pixels(const std::filesystem::path& file, int size,
                               const std::array<float, 3>& mean,
                               const std::array<float, 3>& std_dev) {
    image::Normalization norm;
    for (int c = 0; c < 3; ++c) {
        norm.mean[c] = mean[static_cast<size_t>(c)];
        norm.std[c] = std_dev[static_cast<size_t>(c)];
    }
    // SVGs are rasterised at the model's input size, as the engine does (one file, one vector).
    image::DecodeLimits limits;
    limits.svg_min_size = size;
    return image::preprocess(image::load_image(file, limits), size, norm);
}

}  // namespace clipdex::model
