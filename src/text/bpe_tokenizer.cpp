#include "text/bpe_tokenizer.h"

#include <zlib.h>

#include <array>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <unordered_map>

#include "clipdex/error.h"
#include "common/file_read.h"
#include "text/clip_text_cleaner.h"
#include "text/unicode_text.h"

namespace clipdex::text {
namespace {

// open_clip reads merges[1 : 49152 - 256 - 2 + 1] from either file form.
constexpr size_t kMaxMerges = 49152 - 256 - 2;
constexpr size_t kCacheMaxEntries = 1 << 16;
constexpr size_t kCacheMaxWordBytes = 128;
constexpr std::string_view kStartText = "<start_of_text>";  // open_clip's special token text
constexpr std::string_view kEndText = "<end_of_text>";
// Real tokenizer files are 0.5-3.2 MB (bpe_simple_vocab_16e6.txt unpacked); reads stop at this
// size, so a hostile model folder (a gzip bomb, a huge vocab.json) cannot exhaust memory.
constexpr size_t kMaxFileBytes = 64u << 20;

std::string byte_symbol(uint8_t b) {
    // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68
    // bytes take code points 256, 257, ... in byte order.
    auto printable = [](unsigned x) {
        return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
    };
    char32_t cp = b;
    if (!printable(b)) {
        cp = 256;
        for (unsigned x = 0; x < b; ++x)
            if (!printable(x)) ++cp;
    }
    std::string out;
    detail::append_utf8(out, cp);
    return out;
}

// The 256 byte symbols in open_clip's vocabulary order (printable ranges first).
std::vector<uint8_t> byte_order() {
    std::vector<uint8_t> order;
    for (unsigned pass = 0; pass < 2; ++pass)
        for (unsigned b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            if (printable == (pass == 0)) order.push_back(static_cast<uint8_t>(b));
        }
    return order;
}

uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
}

// Bounded while reading: a FIFO or /dev/zero named vocab.json stops at the limit.
std::string read_file(const std::filesystem::path& path) {
    return read_text_file_bounded(path, kMaxFileBytes, "tokenizer file " + path.string());
}

std::string read_gzip(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error(ErrorCode::NotFound, "tokenizer file " + path.string() + ": not found");
    std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), gzclose);
    if (!gz) throw Error(ErrorCode::Io, "tokenizer file " + path.string() + ": cannot open");
    std::string out;
    std::array<char, 1 << 16> buf{};
    while (true) {
        const int n = gzread(gz.get(), buf.data(), static_cast<unsigned>(buf.size()));
        int err = Z_OK;
        const char* msg = gzerror(gz.get(), &err);
        if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
            throw Error(ErrorCode::Corrupt, "tokenizer file " + path.string() +
                                                ": bad gzip data (" + (msg ? msg : "?") + ")");
        if (n == 0) break;
        out.append(buf.data(), static_cast<size_t>(n));
        if (out.size() > kMaxFileBytes)
            throw Error(ErrorCode::Corrupt, "tokenizer file " + path.string() +
                                                ": unpacks to more than " +
                                                std::to_string(kMaxFileBytes >> 20) + " MB");
    }
    return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t pos = 0;
    while (pos <= text.size()) {
        const size_t nl = text.find('\n', pos);
        const size_t end = nl == std::string_view::npos ? text.size() : nl;
        lines.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return lines;
}

// One "left right" merge line, split on ASCII whitespace as Python's str.split() would.
std::pair<std::string, std::string> parse_merge(std::string_view line, const std::string& where) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
        if (j > i) parts.emplace_back(line.substr(i, j - i));
        i = j;
    }
    if (parts.size() != 2)
        throw Error(ErrorCode::Corrupt, where + ": malformed merge \"" +
                                            std::string(line.substr(0, 80)) +
                                            "\" (expected two symbols)");
    return {std::move(parts[0]), std::move(parts[1])};
}

}  // namespace

struct BpeTokenizer::Model {
    std::unordered_map<std::string, int32_t> encoder;
    std::array<int32_t, 256> byte_id{};
    std::array<int32_t, 256> byte_end_id{};  // the byte symbol with "</w>", ending a word
    struct Merge {
        int32_t rank;
        int32_t merged;
    };
    std::unordered_map<uint64_t, Merge> merges;
    int32_t sot = 0;
    int32_t eot = 0;
    size_t vocab_size = 0;

    mutable std::shared_mutex cache_mutex;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

    int32_t id_of(const std::string& token, const std::string& where) const {
        auto it = encoder.find(token);
        if (it == encoder.end())
            throw Error(ErrorCode::Corrupt,
                        where + ": token \"" + token + "\" is not in the vocabulary");
        return it->second;
    }

    void index_bytes(const std::string& where) {
        for (unsigned b = 0; b < 256; ++b) {
            const std::string sym = byte_symbol(static_cast<uint8_t>(b));
            byte_id[b] = id_of(sym, where);
            byte_end_id[b] = id_of(sym + "</w>", where);
        }
    }

    void add_merges(const std::vector<std::pair<std::string, std::string>>& list,
                    const std::string& where) {
        merges.reserve(list.size() * 2);
        for (size_t rank = 0; rank < list.size(); ++rank) {
            const auto& [left, right] = list[rank];
            // Python's dict(zip(merges, ranks)): a repeated merge keeps its last rank.
            merges[pair_key(id_of(left, where), id_of(right, where))] =
                Merge{static_cast<int32_t>(rank), id_of(left + right, where)};
        }
    }

    void bpe(const std::string& word, std::vector<int32_t>& out) const;
    void word_ids(const std::string& word, std::vector<int32_t>& out) const;
};

// Merges the lowest-ranked adjacent pair until none is in the table, as open_clip's bpe():
// all occurrences of the chosen pair, left to right, before pairs the merges create are
// considered. A heap keeps this O(n log n) for very long words.
void BpeTokenizer::Model::bpe(const std::string& word, std::vector<int32_t>& out) const {
    const size_t n = word.size();
    std::vector<int32_t> id(n);
    std::vector<int32_t> prev(n);
    std::vector<int32_t> next(n);
    std::vector<bool> alive(n, true);
    for (size_t i = 0; i < n; ++i) {
        const auto b = static_cast<uint8_t>(word[i]);
        id[i] = i + 1 == n ? byte_end_id[b] : byte_id[b];
        prev[i] = static_cast<int32_t>(i) - 1;
        next[i] = i + 1 == n ? -1 : static_cast<int32_t>(i) + 1;
    }
    struct Candidate {
        int32_t rank;
        int32_t pos;
        int32_t left;
        int32_t right;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    std::vector<Candidate> deferred;
    auto consider = [&](int32_t pos, std::vector<Candidate>* sink) {
        if (pos < 0 || next[pos] < 0) return;
        auto it = merges.find(pair_key(id[pos], id[next[pos]]));
        if (it == merges.end()) return;
        const Candidate c{it->second.rank, pos, id[pos], id[next[pos]]};
        if (sink)
            sink->push_back(c);
        else
            heap.push(c);
    };
    for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i), nullptr);
    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        if (alive[c.pos] && next[c.pos] >= 0 && id[c.pos] == c.left && id[next[c.pos]] == c.right) {
            const int32_t right = next[c.pos];
            id[c.pos] = merges.at(pair_key(c.left, c.right)).merged;
            alive[right] = false;
            next[c.pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = c.pos;
            consider(prev[c.pos], &deferred);
            consider(c.pos, &deferred);
        }
        if (heap.empty() || heap.top().rank != c.rank) {
            for (const Candidate& d : deferred) heap.push(d);
            deferred.clear();
        }
    }
    for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(id[i]);
}

void BpeTokenizer::Model::word_ids(const std::string& word, std::vector<int32_t>& out) const {
    if (word == kStartText) return out.push_back(sot);
    if (word == kEndText) return out.push_back(eot);
    if (word.size() > kCacheMaxWordBytes) return bpe(word, out);
    {
        std::shared_lock lock(cache_mutex);
        if (auto it = cache.find(word); it != cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<int32_t> ids;
    bpe(word, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(cache_mutex);
    if (cache.size() >= kCacheMaxEntries) cache.clear();
    cache.emplace(word, std::move(ids));
}

BpeTokenizer::BpeTokenizer(std::shared_ptr<Model> model) : model_(std::move(model)) {}

BpeTokenizer BpeTokenizer::from_bpe_gz(const std::filesystem::path& path) {
    const std::string where = "tokenizer file " + path.string();
    const std::string text = read_gzip(path);
    std::vector<std::string_view> lines = split_lines(text);
    std::vector<std::pair<std::string, std::string>> list;
    for (size_t i = 1; i < lines.size() && list.size() < kMaxMerges; ++i) {
        if (lines[i].empty() && i + 1 == lines.size()) break;  // the file's final newline
        list.push_back(parse_merge(lines[i], where));
    }
    if (list.empty()) throw Error(ErrorCode::Corrupt, where + ": no merges");

    auto model = std::make_shared<Model>();
    // open_clip's vocabulary: byte symbols, the same with "</w>", one token per merge, then the
    // two special tokens; a repeated string keeps its last id, as dict(zip(vocab, ids)) does.
    std::vector<std::string> vocab;
    for (uint8_t b : byte_order()) vocab.push_back(byte_symbol(b));
    for (size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");
    for (const auto& [l, r] : list) vocab.push_back(l + r);
    vocab.emplace_back(kStartText);
    vocab.emplace_back(kEndText);
    for (size_t i = 0; i < vocab.size(); ++i) model->encoder[vocab[i]] = static_cast<int32_t>(i);
    model->vocab_size = model->encoder.size();
    model->sot = model->encoder.at(std::string(kStartText));
    model->eot = model->encoder.at(std::string(kEndText));
    model->index_bytes(where);
    model->add_merges(list, where);
    return BpeTokenizer(std::move(model));
}

BpeTokenizer BpeTokenizer::from_hf_files(const std::filesystem::path& vocab_json,
                                         const std::filesystem::path& merges_txt) {
    const std::string vocab = read_file(vocab_json);
    const std::string merges = read_file(merges_txt);
    return from_hf_text(vocab, merges, vocab_json.string(), merges_txt.string());
}

BpeTokenizer BpeTokenizer::from_hf_text(std::string_view vocab_json, std::string_view merges_txt,
                                        std::string_view vocab_name, std::string_view merges_name) {
    auto model = std::make_shared<Model>();
    const std::string vocab_where = "tokenizer file " + std::string(vocab_name);
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(vocab_json);
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::Corrupt, vocab_where + ": invalid JSON (" + e.what() + ")");
    }
    if (!json.is_object()) throw Error(ErrorCode::Corrupt, vocab_where + ": not a JSON object");
    for (const auto& [token, id] : json.items()) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
            throw Error(ErrorCode::Corrupt,
                        vocab_where + ": id of \"" + token + "\" is not a valid integer");
        model->encoder[token] = static_cast<int32_t>(id.get<int64_t>());
    }
    model->vocab_size = model->encoder.size();
    model->sot = model->id_of("<|startoftext|>", vocab_where);
    model->eot = model->id_of("<|endoftext|>", vocab_where);
    model->index_bytes(vocab_where);

    const std::string merges_where = "tokenizer file " + std::string(merges_name);
    std::vector<std::pair<std::string, std::string>> list;
    const std::vector<std::string_view> lines = split_lines(merges_txt);
    for (size_t i = 0; i < lines.size() && list.size() < kMaxMerges; ++i) {
        if (i == 0 && lines[i].starts_with("#version")) continue;
        if (lines[i].empty() && i + 1 == lines.size()) break;
        list.push_back(parse_merge(lines[i], merges_where));
    }
    if (list.empty()) throw Error(ErrorCode::Corrupt, merges_where + ": no merges");
    model->add_merges(list, merges_where);
    return BpeTokenizer(std::move(model));
}

void BpeTokenizer::encode_into(std::string_view text, size_t max_ids,
                               std::vector<int32_t>& ids) const {
    std::string word;
    detail::for_each_clip_piece(text, [&](std::u32string_view piece) {
        word.clear();
        for (char32_t c : piece) detail::append_utf8(word, c);
        model_->word_ids(word, ids);
        return ids.size() < max_ids;
    });
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
    std::vector<int32_t> ids;
    encode_into(text, SIZE_MAX, ids);
    return ids;
}

std::vector<int32_t> BpeTokenizer::tokenize(std::string_view text, int context_length) const {
    if (context_length < 1)
        throw Error(ErrorCode::InvalidInput, "tokenize: context_length must be at least 1, got " +
                                                 std::to_string(context_length));
    const auto length = static_cast<size_t>(context_length);
    std::vector<int32_t> tokens{model_->sot};
    encode_into(text, length, tokens);
    tokens.push_back(model_->eot);
    if (tokens.size() > length) {
        tokens.resize(length);
        tokens.back() = model_->eot;
    }
    tokens.resize(length, 0);
    return tokens;
}

int32_t BpeTokenizer::start_token() const {
    return model_->sot;
}
int32_t BpeTokenizer::end_token() const {
    return model_->eot;
}
size_t BpeTokenizer::vocab_size() const {
    return model_->vocab_size;
}

}  // namespace clipdex::text
