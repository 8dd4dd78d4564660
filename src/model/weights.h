// Weight files: a name -> tensor view table over memory-mapped bytes, whatever the format.
// Readers: safetensors (single and sharded) and PyTorch zip checkpoints (.bin/.pt, read by a
// strict unpickler that never runs code). The towers read tensors through this table only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace clipdex::model {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };
size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "F32", "F16", ... as safetensors spells them

struct TensorView {
    DType dtype = DType::F32;
    std::vector<int64_t> shape;       // empty for a scalar
    const std::byte* data = nullptr;  // C-contiguous, little endian, valid while the file lives
    size_t nbytes = 0;
    int64_t numel() const;
};

// Keeps its mappings (and any buffer it had to materialise) alive.
class WeightFile {
  public:
    virtual ~WeightFile() = default;
    virtual const std::map<std::string, TensorView>& tensors() const = 0;
    virtual const std::filesystem::path& path() const = 0;
    // Throws Error(NotFound) naming the file and the tensor.
    const TensorView& at(const std::string& name) const;
    bool contains(const std::string& name) const { return tensors().count(name) != 0; }
    // Hints that bytes [data, data + n) of a tensor will not be read again (the model keeps its
    // own copy): pages of the file mapping wholly inside the range leave this process's memory,
    // the bytes stay readable (from the file). A no-op for bytes the reader had to copy.
    virtual void release_pages(const std::byte* data, size_t n) const {
        (void)data;
        (void)n;
    }
};

// Each throws Error(Corrupt) naming the file and, where one is at fault, the tensor; Io when
// the file cannot be read. Never crashes on hostile bytes.
std::unique_ptr<WeightFile> open_safetensors(const std::filesystem::path& path);
// `*.safetensors.index.json` with a weight_map over several shards.
std::unique_ptr<WeightFile> open_safetensors_sharded(const std::filesystem::path& index_json);
std::unique_ptr<WeightFile> open_torch_checkpoint(const std::filesystem::path& path);
// Picks the reader by name and content.
std::unique_ptr<WeightFile> open_weights(const std::filesystem::path& path);

}  // namespace clipdex::model
