// Shared parts of the weight-file contract and the reader dispatch.
#include "model/weights.h"

#include <array>
#include <cstring>
#include <fstream>

#include "clipdex/error.h"

namespace clipdex::model {

size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::F64:
        case DType::I64:
            return 8;
        case DType::F32:
        case DType::I32:
            return 4;
        case DType::F16:
        case DType::BF16:
        case DType::I16:
            return 2;
        case DType::I8:
        case DType::U8:
        case DType::Bool:
            return 1;
    }
    return 0;
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::F32:
            return "F32";
        case DType::F16:
            return "F16";
        case DType::BF16:
            return "BF16";
        case DType::F64:
            return "F64";
        case DType::I64:
            return "I64";
        case DType::I32:
            return "I32";
        case DType::I16:
            return "I16";
        case DType::I8:
            return "I8";
        case DType::U8:
            return "U8";
        case DType::Bool:
            return "BOOL";
    }
    return "?";
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

const TensorView& WeightFile::at(const std::string& name) const {
    const auto& table = tensors();
    auto it = table.find(name);
    if (it == table.end())
        throw Error(ErrorCode::NotFound, path().string() + ": tensor '" + name + "' is missing");
    return it->second;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first bytes decide when the name does not: zip (PK), legacy pickle (0x80), JSON index
// ('{'), otherwise a safetensors length prefix followed by '{'.
std::array<unsigned char, 9> read_magic(const std::filesystem::path& path) {
    std::array<unsigned char, 9> magic{};
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::NotFound, path.string() + ": cannot open weight file");
    in.read(reinterpret_cast<char*>(magic.data()), magic.size());
    return magic;
}

}  // namespace

std::unique_ptr<WeightFile> open_weights(const std::filesystem::path& path) {
    const std::string name = path.filename().string();
    if (ends_with(name, ".safetensors.index.json")) return open_safetensors_sharded(path);
    if (ends_with(name, ".safetensors")) return open_safetensors(path);
    if (ends_with(name, ".bin") || ends_with(name, ".pt") || ends_with(name, ".pth"))
        return open_torch_checkpoint(path);
    auto magic = read_magic(path);
    if (magic[0] == 'P' && magic[1] == 'K') return open_torch_checkpoint(path);
    if (magic[0] == 0x80) return open_torch_checkpoint(path);
    if (magic[0] == '{') return open_safetensors_sharded(path);
    if (magic[8] == '{') return open_safetensors(path);
    throw Error(ErrorCode::Unsupported,
                path.string() + ": not a safetensors or PyTorch weight file");
}

}  // namespace clipdex::model
