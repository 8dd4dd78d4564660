// safetensors reader: u64 header length, JSON header, raw little-endian buffer. Every field of
// the header is checked before a view is handed out, so hostile files end in Error(Corrupt).
#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "model/mapped_file.h"
#include "model/weights.h"

namespace clipdex::model {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;
constexpr int kMaxJsonDepth = 64;

using json = nlohmann::json;

Error corrupt(const std::filesystem::path& path, const std::string& what) {
    return Error(ErrorCode::Corrupt, path.string() + ": " + what);
}

Error corrupt_tensor(const std::filesystem::path& path, const std::string& tensor,
                     const std::string& what) {
    return Error(ErrorCode::Corrupt, path.string() + ": tensor '" + tensor + "': " + what);
}

bool parse_dtype(const std::string& s, DType& out) {
    static const std::pair<const char*, DType> table[] = {
        {"F32", DType::F32}, {"F16", DType::F16},   {"BF16", DType::BF16}, {"F64", DType::F64},
        {"I64", DType::I64}, {"I32", DType::I32},   {"I16", DType::I16},   {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::Bool},
    };
    for (const auto& [name, dtype] : table)
        if (s == name) {
            out = dtype;
            return true;
        }
    return false;
}

// nlohmann's parser recurses per nesting level; a header of a million '[' must not reach it.
bool nesting_within(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > limit) return false;
        } else if (c == ']' || c == '}')
            --depth;
    }
    return true;
}

json parse_json(const std::filesystem::path& path, std::string_view text, const char* what) {
    if (!nesting_within(text, kMaxJsonDepth))
        throw corrupt(path, std::string(what) + " is nested too deeply");
    json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) throw corrupt(path, std::string(what) + " is not valid JSON");
    if (!parsed.is_object()) throw corrupt(path, std::string(what) + " is not a JSON object");
    return parsed;
}

uint64_t json_u64(const json& v, bool& ok) {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0)
        return static_cast<uint64_t>(v.get<int64_t>());
    ok = false;
    return 0;
}

struct Span {
    uint64_t begin, end;
    const std::string* name;
};

TensorView parse_entry(const std::filesystem::path& path, const std::string& name,
                       const json& entry, std::span<const std::byte> buffer,
                       std::vector<Span>& spans) {
    if (!entry.is_object()) throw corrupt_tensor(path, name, "header entry is not an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || shape_it == entry.end() || offsets_it == entry.end())
        throw corrupt_tensor(path, name, "needs dtype, shape and data_offsets");
    TensorView view;
    if (!dtype_it->is_string() || !parse_dtype(dtype_it->get<std::string>(), view.dtype))
        throw corrupt_tensor(path, name, "unknown dtype " + dtype_it->dump());
    if (!shape_it->is_array() || shape_it->size() > 8)
        throw corrupt_tensor(path, name, "shape is not a short array");
    uint64_t numel = 1;
    for (const json& d : *shape_it) {
        bool ok = true;
        uint64_t dim = json_u64(d, ok);
        if (!ok || dim > (1ull << 40))
            throw corrupt_tensor(path, name, "shape entry " + d.dump() + " is invalid");
        if (__builtin_mul_overflow(numel, dim, &numel))
            throw corrupt_tensor(path, name, "shape overflows");
        view.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!offsets_it->is_array() || offsets_it->size() != 2)
        throw corrupt_tensor(path, name, "data_offsets is not [begin, end]");
    bool ok = true;
    uint64_t begin = json_u64((*offsets_it)[0], ok);
    uint64_t end = json_u64((*offsets_it)[1], ok);
    if (!ok || begin > end)
        throw corrupt_tensor(path, name, "data_offsets " + offsets_it->dump() + " are invalid");
    if (end > buffer.size())
        throw corrupt_tensor(path, name,
                             "data_offsets " + offsets_it->dump() +
                                 " run past the end of the file (buffer of " +
                                 std::to_string(buffer.size()) + " bytes)");
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, dtype_size(view.dtype), &nbytes) || nbytes != end - begin)
        throw corrupt_tensor(path, name,
                             "holds " + std::to_string(end - begin) +
                                 " bytes but shape and dtype need " + std::to_string(nbytes));
    view.data = buffer.data() + begin;
    view.nbytes = static_cast<size_t>(nbytes);
    spans.push_back({begin, end, &name});
    return view;
}

class SafetensorsFile final : public WeightFile {
  public:
    explicit SafetensorsFile(const std::filesystem::path& path) : map_(path) { parse(); }
    const std::map<std::string, TensorView>& tensors() const override { return tensors_; }
    const std::filesystem::path& path() const override { return map_.path(); }
    void release_pages(const std::byte* data, size_t n) const override {
        map_.release_pages(data, n);
    }

  private:
    void parse() {
        const auto& p = map_.path();
        auto bytes = map_.bytes();
        if (bytes.size() < 8)
            throw corrupt(p, "too short for a safetensors header (" + std::to_string(bytes.size()) +
                                 " bytes)");
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; --i)
            header_len = (header_len << 8) | static_cast<uint8_t>(bytes[i]);
        if (header_len > kMaxHeaderBytes)
            throw corrupt(
                p, "header of " + std::to_string(header_len) + " bytes exceeds the 100 MB limit");
        if (header_len > bytes.size() - 8)
            throw corrupt(p, "header length " + std::to_string(header_len) +
                                 " runs past the end of the file (truncated?)");
        std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
        json header = parse_json(p, text, "header");
        auto buffer = bytes.subspan(8 + header_len);
        std::vector<Span> spans;
        for (auto it = header.begin(); it != header.end(); ++it) {
            if (it.key() == "__metadata__") continue;
            auto [pos, inserted] = tensors_.emplace(it.key(), TensorView{});
            pos->second = parse_entry(p, pos->first, it.value(), buffer, spans);
        }
        check_no_overlap(spans);
    }

    void check_no_overlap(std::vector<Span>& spans) const {
        std::sort(spans.begin(), spans.end(),
                  [](const Span& a, const Span& b) { return a.begin < b.begin; });
        const Span* furthest = nullptr;  // the span reaching furthest so far
        for (const Span& s : spans) {
            if (s.end == s.begin) continue;  // empty tensors occupy no bytes
            if (furthest != nullptr && s.begin < furthest->end)
                throw corrupt_tensor(map_.path(), *s.name,
                                     "data overlaps tensor '" + *furthest->name + "'");
            if (furthest == nullptr || s.end > furthest->end) furthest = &s;
        }
    }

    MappedFile map_;
    std::map<std::string, TensorView> tensors_;
};

class ShardedFile final : public WeightFile {
  public:
    explicit ShardedFile(const std::filesystem::path& index) : path_(index) { load(); }
    const std::map<std::string, TensorView>& tensors() const override { return tensors_; }
    const std::filesystem::path& path() const override { return path_; }
    void release_pages(const std::byte* data, size_t n) const override {
        for (const auto& shard : shards_) shard->release_pages(data, n);  // only the owner acts
    }

  private:
    void load() {
        std::ifstream in(path_, std::ios::binary);
        if (!in) throw Error(ErrorCode::NotFound, path_.string() + ": cannot open shard index");
        std::ostringstream text;
        text << in.rdbuf();
        std::string s = text.str();
        if (s.size() > kMaxHeaderBytes) throw corrupt(path_, "shard index exceeds 100 MB");
        json index = parse_json(path_, s, "shard index");
        auto map_it = index.find("weight_map");
        if (map_it == index.end() || !map_it->is_object())
            throw corrupt(path_, "shard index has no weight_map object");
        std::map<std::string, size_t> shard_of_file;
        for (auto it = map_it->begin(); it != map_it->end(); ++it) {
            if (!it.value().is_string())
                throw corrupt_tensor(path_, it.key(), "weight_map entry is not a file name");
            std::string file = it.value().get<std::string>();
            if (file.empty() || file.find('/') != std::string::npos ||
                file.find('\\') != std::string::npos || file == "..")
                throw corrupt_tensor(path_, it.key(),
                                     "shard name '" + file + "' is not a plain file name");
            auto [pos, inserted] = shard_of_file.emplace(file, shards_.size());
            if (inserted) shards_.push_back(open_safetensors(path_.parent_path() / file));
            const WeightFile& shard = *shards_[pos->second];
            auto t = shard.tensors().find(it.key());
            if (t == shard.tensors().end())
                throw Error(ErrorCode::Corrupt, path_.string() + ": tensor '" + it.key() +
                                                    "' is listed in shard " + file +
                                                    " but missing there");
            tensors_.emplace(it.key(), t->second);
        }
    }

    std::filesystem::path path_;
    std::vector<std::unique_ptr<WeightFile>> shards_;
    std::map<std::string, TensorView> tensors_;
};

}  // namespace

std::unique_ptr<WeightFile> open_safetensors(const std::filesystem::path& path) {
    return std::make_unique<SafetensorsFile>(path);
}

std::unique_ptr<WeightFile> open_safetensors_sharded(const std::filesystem::path& index_json) {
    return std::make_unique<ShardedFile>(index_json);
}

}  // namespace clipdex::model
