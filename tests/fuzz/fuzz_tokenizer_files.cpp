// Tokenizer files of a model folder (src/text/bpe_tokenizer.*): the input is vocab.json, a NUL
// byte, then merges.txt, loaded with BpeTokenizer::from_hf_text as TextInput::open loads a
// folder's files. Loading either fails with clipdex::Error or gives a tokenizer that tokenizes
// fixed texts and the input itself into context_length ids framed by its start and end tokens.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "clipdex/error.h"
#include "text/bpe_tokenizer.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_ids(const clipdex::text::BpeTokenizer& tok, const std::vector<int32_t>& ids,
               size_t length) {
    check(ids.size() == length && ids[0] == tok.start_token());
    bool has_end = false;
    for (int32_t id : ids) {
        check(id >= 0);
        has_end = has_end || id == tok.end_token();
    }
    check(has_end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t split = input.find('\0');
    const std::string_view vocab = input.substr(0, split);
    const std::string_view merges =
        split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
    try {
        const auto tok = clipdex::text::BpeTokenizer::from_hf_text(vocab, merges);
        for (std::string_view text :
             {std::string_view("a photo of a cat"),
              std::string_view("Hello, World! 123 \xf0\x9f\x98\x80"),
              std::string_view("<start_of_text>in the  then"), merges.substr(0, 256)}) {
            check_ids(tok, tok.tokenize(text), 77);
            check_ids(tok, tok.tokenize(text, 5), 5);
        }
    } catch (const clipdex::Error&) {
    }
    return 0;
}
