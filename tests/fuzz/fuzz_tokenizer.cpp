// Arbitrary bytes into BpeTokenizer::tokenize: must never crash, and the result must always be
// context_length ids framed by the start token, with the end token present.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "text/bpe_tokenizer.h"

namespace {

// The shared folder: $CLIPDEX_SHARED_DIR, else the path CMake compiles in. (__FILE__ is no
// anchor: with CCACHE_BASEDIR it is relative to the build folder, not to ctest's working folder.)
std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("CLIPDEX_SHARED_DIR")) return env;
    return CLIPDEX_SHARED_DIR;
}

const clipdex::text::BpeTokenizer& tokenizer() {
    static const clipdex::text::BpeTokenizer tok = clipdex::text::BpeTokenizer::from_bpe_gz(
        shared_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz");
    return tok;
}

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto& tok = tokenizer();
    const std::vector<int32_t> ids = tok.tokenize(text);
    check(ids.size() == 77 && ids[0] == tok.start_token());
    bool has_end = false;
    for (int32_t id : ids) {
        check(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
        has_end = has_end || id == tok.end_token();
    }
    check(has_end);
    const std::vector<int32_t> short_ids = tok.tokenize(text, 8);
    check(short_ids.size() == 8 && short_ids[0] == tok.start_token());
    return 0;
}
