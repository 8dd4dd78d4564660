// CLIP's byte-level BPE tokenizer, giving the same ids as open_clip 3.3's SimpleTokenizer
// (open_clip.get_tokenizer('ViT-B-32'), clean='lower') on every string, except where that
// depends on ftfy's mojibake repair or on Unicode data newer than ICU's (see
// clip_text_cleaner.cpp and unicode_text.cpp).
//
//   auto tok = clipdex::text::BpeTokenizer::from_bpe_gz(".../bpe_simple_vocab_16e6.txt.gz");
//   std::vector<int32_t> ids = tok.tokenize("a photo of a cat");  // 77 ids: 49406 ... 49407 0 ...
//
// Input is UTF-8; invalid bytes read as U+FFFD, as Python's bytes.decode(errors="replace").
// Thread safety: a tokenizer is immutable after loading except for an internal, mutex-guarded
// word cache; encode() and tokenize() may be called concurrently. Copies share the vocabulary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace clipdex::text {

class BpeTokenizer {
  public:
    // Hugging Face form: vocab.json (token -> id) and merges.txt ("#version" line, then one
    // "left right" merge per line, best first). Throws Error NotFound, Io or Corrupt.
    static BpeTokenizer from_hf_files(const std::filesystem::path& vocab_json,
                                      const std::filesystem::path& merges_txt);
    // from_hf_files on the files' contents; errors name the files as vocab_name / merges_name.
    static BpeTokenizer from_hf_text(std::string_view vocab_json, std::string_view merges_txt,
                                     std::string_view vocab_name = "vocab.json",
                                     std::string_view merges_name = "merges.txt");
    // OpenAI / open_clip form: the gzip'd merge list; the vocabulary is derived from it.
    static BpeTokenizer from_bpe_gz(const std::filesystem::path& bpe_simple_vocab_16e6_txt_gz);

    // Token ids of the cleaned text, without start/end tokens and without truncation.
    std::vector<int32_t> encode(std::string_view text) const;
    // [start] + ids + [end], padded with 0 to context_length; a longer text keeps its first
    // context_length ids with the last replaced by the end token. Only as much of the text as
    // these ids need is processed. Throws Error InvalidInput if context_length < 1.
    std::vector<int32_t> tokenize(std::string_view text, int context_length = 77) const;

    int32_t start_token() const;
    int32_t end_token() const;
    size_t vocab_size() const;

    struct Model;  // vocabulary, merge table and word cache; defined in bpe_tokenizer.cpp

  private:
    explicit BpeTokenizer(std::shared_ptr<Model> model);
    void encode_into(std::string_view text, size_t max_ids, std::vector<int32_t>& ids) const;

    std::shared_ptr<Model> model_;
};

}  // namespace clipdex::text
