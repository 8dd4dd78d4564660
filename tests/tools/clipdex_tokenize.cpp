// Token ids for many strings in one process, for the conformance tests (pytest).
//   clipdex_tokenize gz|hf MODEL_PATH... tokenize|encode|clean IN.json OUT.json [context_length]
//     gz: MODEL_PATH = bpe_simple_vocab_16e6.txt.gz; hf: vocab.json merges.txt
//     IN.json: a JSON array of strings, or of arrays of byte values (for invalid UTF-8)
//     OUT.json: a JSON array with one id array (or cleaned string) per input
//   clipdex_tokenize classes FIRST LAST OUT.txt: one letter per code point (L N S O D),
//     the pre-tokenizer's class, and the lower-cased form, for the exhaustive Unicode check
//   clipdex_tokenize bench gz PATH TEXT N: mean microseconds per tokenize(TEXT) over N calls
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "clipdex/error.h"
#include "text/bpe_tokenizer.h"
#include "text/clip_text_cleaner.h"
#include "text/unicode_text.h"

namespace {

using clipdex::text::BpeTokenizer;
namespace detail = clipdex::text::detail;

std::string as_bytes(const nlohmann::json& item) {
    if (item.is_string()) return item.get<std::string>();
    std::string bytes;
    for (const auto& b : item) bytes.push_back(static_cast<char>(b.get<int>()));
    return bytes;
}

int run_batch(const BpeTokenizer& tok, const std::string& mode, const char* in_path,
              const char* out_path, int context_length) {
    std::ifstream in(in_path);
    const nlohmann::json items = nlohmann::json::parse(in);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : items) {
        const std::string text = as_bytes(item);
        if (mode == "tokenize")
            out.push_back(tok.tokenize(text, context_length));
        else if (mode == "encode")
            out.push_back(tok.encode(text));
        else
            out.push_back(detail::clean_clip_text(text));
    }
    std::ofstream(out_path) << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
}

int run_classes(char32_t first, char32_t last, const char* out_path) {
    std::ofstream out(out_path);
    for (char32_t cp = first; cp <= last; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        static constexpr char kNames[] = {'L', 'N', 'S', 'O', 'D'};
        const std::u32string lower = detail::to_lower(std::u32string(1, cp));
        out << std::hex << static_cast<uint32_t>(cp) << ' '
            << kNames[static_cast<int>(detail::classify(cp))];
        for (char32_t c : lower) out << ' ' << static_cast<uint32_t>(c);
        out << '\n';
    }
    return 0;
}

int run_bench(const BpeTokenizer& tok, const std::string& text, int n) {
    volatile size_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) sink = sink + tok.tokenize(text).size();
    const auto t1 = std::chrono::steady_clock::now();
    std::printf("%.3f\n", std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string kind = argc > 1 ? argv[1] : "";
        if (kind == "classes" && argc == 5)
            return run_classes(static_cast<char32_t>(std::stoul(argv[2], nullptr, 16)),
                               static_cast<char32_t>(std::stoul(argv[3], nullptr, 16)), argv[4]);
        if (kind == "bench" && argc == 6)
            return run_bench(BpeTokenizer::from_bpe_gz(argv[3]), argv[4], std::stoi(argv[5]));
        if (kind == "gz" && argc >= 6)
            return run_batch(BpeTokenizer::from_bpe_gz(argv[2]), argv[3], argv[4], argv[5],
                             argc > 6 ? std::stoi(argv[6]) : 77);
        if (kind == "hf" && argc >= 7)
            return run_batch(BpeTokenizer::from_hf_files(argv[2], argv[3]), argv[4], argv[5],
                             argv[6], argc > 7 ? std::stoi(argv[7]) : 77);
        std::cerr << "usage: see the comment at the top of clipdex_tokenize.cpp\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "clipdex_tokenize: " << e.what() << '\n';
        return 1;
    }
}
