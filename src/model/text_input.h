// The model's bridges to the tokenizer and image modules: text -> ids, file -> pixels.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace clipdex::model {

class TextInput {
  public:
    virtual ~TextInput() = default;
    // Finds vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz in `dir`; without them,
    // tokenize() throws NotFound (the model can still encode token ids and images).
    static std::unique_ptr<TextInput> open(const std::filesystem::path& dir);
    virtual std::vector<int32_t> tokenize(const std::string& text, int context_length) const = 0;
};

// Decodes and preprocesses one image file into 3*size*size normalized floats.
std::vector<float> load_pixels(const std::filesystem::path& file, int size,
                               const std::array<float, 3>& mean,
                               const std::array<float, 3>& std_dev);

}  // namespace clipdex::model
