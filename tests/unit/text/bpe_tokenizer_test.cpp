// BpeTokenizer: known ids (taken from open_clip 3.3), framing, truncation, concurrency and the
// errors for missing or damaged files. The exhaustive comparison with open_clip is
// tests/conformance/test_tokenizer.py.
#include "../error_of.h"
#include "text/bpe_tokenizer.h"

#include <zlib.h>

#include <gtest/gtest.h>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "clipdex/error.h"
#include "text/clip_text_cleaner.h"

namespace {

using clipdex::Error;
using clipdex::ErrorCode;
using clipdex::text::BpeTokenizer;
namespace fs = std::filesystem;

const fs::path kShared = CLIPDEX_SHARED_DIR;
const fs::path kGz = kShared / "data/clip/bpe_simple_vocab_16e6.txt.gz";
const fs::path kHfDir = kShared / "models/emoji-clip-tiny";

const BpeTokenizer& gz_tokenizer() {
    static const BpeTokenizer tok = BpeTokenizer::from_bpe_gz(kGz);
    return tok;
}

const BpeTokenizer& hf_tokenizer() {
    static const BpeTokenizer tok =
        BpeTokenizer::from_hf_files(kHfDir / "vocab.json", kHfDir / "merges.txt");
    return tok;
}

fs::path temp_file(const std::string& name, const std::string& bytes) {
    const fs::path path = fs::temp_directory_path() / ("clipdex_text_test_" + name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Known {
    const char* text;
    std::vector<int32_t> ids;
};

// open_clip.get_tokenizer('ViT-B-32'): t.encode(t.clean_fn(text)).
const std::vector<Known> kKnown = {
    {"a photo of a cat", {320, 1125, 539, 320, 2368}},
    {"Hello, World!", {3306, 267, 1002, 256}},
    {"don\xe2\x80\x99t &amp; caf\xc3\xa9", {847, 713, 261, 15304}},
    {"\xc4\xb0stanbul \xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\xa5\xce\xa3",
     {328, 16384, 11231, 138, 123, 138, 112, 139, 227, 139, 225, 139, 225, 138, 113, 139, 227, 139,
      480}},
    {"\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc "
     "\xf0\x9f\x97\xbc\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
     {48338, 21078, 105, 34941, 2429, 107, 30391, 7045, 120, 43722}},
    {"<start_of_text>x<end_of_text>", {49406, 343, 49407}},
    {"", {}},
};

TEST(BpeTokenizer, VocabularyAndSpecialTokens) {
    for (const BpeTokenizer* tok : {&gz_tokenizer(), &hf_tokenizer()}) {
        EXPECT_EQ(tok->vocab_size(), 49408u);
        EXPECT_EQ(tok->start_token(), 49406);
        EXPECT_EQ(tok->end_token(), 49407);
    }
}

TEST(BpeTokenizer, KnownIdsFromOpenClip) {
    for (const Known& k : kKnown) {
        EXPECT_EQ(gz_tokenizer().encode(k.text), k.ids) << k.text;
        EXPECT_EQ(hf_tokenizer().encode(k.text), k.ids) << k.text;
    }
}

TEST(BpeTokenizer, FramingPadsWithZero) {
    const std::vector<int32_t> t = gz_tokenizer().tokenize("a photo of a cat");
    ASSERT_EQ(t.size(), 77u);
    const std::vector<int32_t> head(t.begin(), t.begin() + 8);
    EXPECT_EQ(head, (std::vector<int32_t>{49406, 320, 1125, 539, 320, 2368, 49407, 0}));
    for (size_t i = 7; i < t.size(); ++i) EXPECT_EQ(t[i], 0);
    const std::vector<int32_t> empty = gz_tokenizer().tokenize("   ");
    EXPECT_EQ(empty[0], 49406);
    EXPECT_EQ(empty[1], 49407);
    EXPECT_EQ(empty[2], 0);
}

TEST(BpeTokenizer, TruncationKeepsEndTokenLast) {
    std::string text;
    for (int i = 0; i < 100; ++i) text += "word ";
    const std::vector<int32_t> t = gz_tokenizer().tokenize(text);
    ASSERT_EQ(t.size(), 77u);
    EXPECT_EQ(t.front(), 49406);
    EXPECT_EQ(t[75], 2653);
    EXPECT_EQ(t.back(), 49407);
    EXPECT_EQ(gz_tokenizer().encode(text).size(), 100u);
    // Exactly 75 ids fit without truncation.
    std::string fits;
    for (int i = 0; i < 75; ++i) fits += "word ";
    EXPECT_EQ(gz_tokenizer().tokenize(fits), t);
}

TEST(BpeTokenizer, OtherContextLengths) {
    EXPECT_EQ(gz_tokenizer().tokenize("a photo of a cat", 1), (std::vector<int32_t>{49407}));
    EXPECT_EQ(gz_tokenizer().tokenize("a photo of a cat", 3),
              (std::vector<int32_t>{49406, 320, 49407}));
    EXPECT_EQ(gz_tokenizer().tokenize("a cat", 5),
              (std::vector<int32_t>{49406, 320, 2368, 49407, 0}));
    EXPECT_EQ(code_of([] { gz_tokenizer().tokenize("x", 0); }), ErrorCode::InvalidInput);
}

TEST(BpeTokenizer, InvalidUtf8ReadsAsReplacementCharacter) {
    const std::string bad = "a\xff\xc3(\xed\xa0\x80z";
    const std::vector<int32_t> t = gz_tokenizer().tokenize(bad);
    EXPECT_EQ(t.front(), 49406);
    // Python: b"a\xff\xc3(\xed\xa0\x80z".decode("utf-8", "replace") has five U+FFFD.
    EXPECT_EQ(clipdex::text::detail::clean_clip_text(bad),
              "a\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
}

TEST(BpeTokenizer, LongTextStopsEarlyAndStaysFast) {
    std::string text;
    for (int i = 0; i < 200000; ++i) text += "lorem ipsum &amp; dolor ";
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> t = gz_tokenizer().tokenize(text);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(t.back(), 49407);
    EXPECT_LT(ms, 2000.0);  // generous for sanitizer builds; Release takes a few ms
    // A very long single word has no early stop but must not be quadratic.
    const std::string word(50000, 'a');
    EXPECT_EQ(gz_tokenizer().tokenize(word).back(), 49407);
}

TEST(BpeTokenizer, ConcurrentTokenizeMatchesSerial) {
    std::vector<std::string> texts;
    for (int i = 0; i < 200; ++i)
        texts.push_back("text number " + std::to_string(i * 7919) +
                        " \xe6\x9d\xb1\xe4\xba\xac caf\xc3\xa9 #" + std::to_string(i));
    std::vector<std::vector<int32_t>> serial;
    for (const auto& t : texts) serial.push_back(gz_tokenizer().tokenize(t));
    const BpeTokenizer fresh = BpeTokenizer::from_bpe_gz(kGz);  // cold cache
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int w = 0; w < 4; ++w)
        threads.emplace_back([&, w] {
            for (int round = 0; round < 5; ++round)
                for (size_t i = w; i < texts.size() + w; ++i) {
                    const size_t k = i % texts.size();
                    if (fresh.tokenize(texts[k]) != serial[k]) ++failures;
                }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(BpeTokenizerFiles, MissingFilesAreNotFound) {
    std::string msg;
    EXPECT_EQ(code_of([] { BpeTokenizer::from_bpe_gz("/nonexistent/bpe.txt.gz"); }, &msg),
              ErrorCode::NotFound);
    EXPECT_NE(msg.find("/nonexistent/bpe.txt.gz"), std::string::npos);
    EXPECT_EQ(code_of([] {
                  BpeTokenizer::from_hf_files("/nonexistent/vocab.json", kHfDir / "merges.txt");
              }),
              ErrorCode::NotFound);
    EXPECT_EQ(code_of([] {
                  BpeTokenizer::from_hf_files(kHfDir / "vocab.json", "/nonexistent/merges.txt");
              }),
              ErrorCode::NotFound);
}

TEST(BpeTokenizerFiles, TruncatedGzipIsCorrupt) {
    const std::string gz = read_all(kGz);
    const fs::path path = temp_file("truncated.gz", gz.substr(0, gz.size() / 2));
    std::string msg;
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_bpe_gz(path); }, &msg), ErrorCode::Corrupt);
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    const fs::path garbage = temp_file("garbage.gz", std::string("\x1f\x8b\x08\x00garbage", 11));
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_bpe_gz(garbage); }), ErrorCode::Corrupt);
    fs::remove(path);
    fs::remove(garbage);
}

TEST(BpeTokenizerFiles, MalformedMergesAreCorrupt) {
    const fs::path vocab = kHfDir / "vocab.json";
    const fs::path three = temp_file("merges3.txt", "#version: 0.2\ni n\nt h e\n");
    std::string msg;
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_hf_files(vocab, three); }, &msg),
              ErrorCode::Corrupt);
    EXPECT_NE(msg.find("malformed merge"), std::string::npos) << msg;
    const fs::path unknown =
        temp_file("merges_unknown.txt", "#version: 0.2\n\xe2\x82\xac\xe2\x82\xac q\n");
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_hf_files(vocab, unknown); }), ErrorCode::Corrupt);
    const fs::path empty = temp_file("merges_empty.txt", "#version: 0.2\n");
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_hf_files(vocab, empty); }), ErrorCode::Corrupt);
    const fs::path bad_json = temp_file("vocab_bad.json", "{\"a\": ");
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_hf_files(bad_json, kHfDir / "merges.txt"); }),
              ErrorCode::Corrupt);
    const fs::path no_special = temp_file("vocab_small.json", "{\"a\": 1}");
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_hf_files(no_special, kHfDir / "merges.txt"); }),
              ErrorCode::Corrupt);
    for (const auto& p : {three, unknown, empty, bad_json, no_special}) fs::remove(p);
}

TEST(BpeTokenizerFiles, GzipBombStopsAtTheSizeLimit) {
    // 80 MB of one merge line repeated packs into ~80 KB; reading it whole took 80 MB and more.
    const fs::path bomb = fs::temp_directory_path() / "clipdex-bomb.txt.gz";
    {
        gzFile out = gzopen(bomb.c_str(), "wb9");
        ASSERT_NE(out, nullptr);
        const std::string line = "#version: 0.2\n" + std::string(1 << 20, 'a');
        for (int i = 0; i < 80; ++i)
            ASSERT_EQ(gzwrite(out, line.data(), unsigned(line.size())), int(line.size()));
        gzclose(out);
    }
    ASSERT_LT(fs::file_size(bomb), 1u << 20);
    std::string msg;
    EXPECT_EQ(code_of([&] { BpeTokenizer::from_bpe_gz(bomb); }, &msg), ErrorCode::Corrupt);
    EXPECT_NE(msg.find("unpacks to more than 64 MB"), std::string::npos) << msg;
    fs::remove(bomb);
}

TEST(BpeTokenizerFiles, CopiesShareTheModel) {
    const BpeTokenizer copy = gz_tokenizer();
    EXPECT_EQ(copy.encode("a photo of a cat"), kKnown[0].ids);
}

}  // namespace

namespace {

TEST(BpeTokenizer, DeeplyNestedEntitiesStayFast) {
    // ftfy peels one "&amp;" level per pass; a long space-free run of them must not be quadratic.
    std::string text = "&";
    for (int i = 0; i < 5000; ++i) text += "amp;";
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> t = gz_tokenizer().tokenize(text);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(t.front(), 49406);
    EXPECT_LT(ms, 10000.0);
    // Shallow nesting is decoded exactly as ftfy + html.unescape: 3 + 2 levels here.
    EXPECT_EQ(clipdex::text::detail::clean_clip_text("&amp;amp;amp;amp;lt;"), "<");
}

}  // namespace
