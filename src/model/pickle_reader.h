// A strict unpickler for PyTorch state dicts. It understands the few opcodes and globals that
// torch.save emits for dicts of tensors (protocols 2 to 5) and refuses everything else, so a
// checkpoint can describe data but never name a function to run: the only callables are an
// allow-list (OrderedDict and torch's tensor/parameter rebuild helpers), applied here to plain
// values rather than looked up and called.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/weights.h"

namespace clipdex::model::pickle {

enum class Kind {
    None,
    Bool,
    Int,
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Global,
    Storage,
    Tensor
};

// What an allowed global stands for.
enum class Callable {
    None,
    OrderedDict,
    RebuildTensor,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    StorageType
};

// One unpickled object. Objects live in an arena and point at each other, so memo sharing and
// even cycles (hostile but expressible) cost nothing to free.
struct Value {
    Kind kind = Kind::None;
    int64_t integer = 0;        // Int, Bool; Storage: element count
    double real = 0;            // Float
    std::string text;           // String, Bytes; Global: "module.name"; Storage: key in data/
    std::vector<Value*> items;  // Tuple, List
    std::vector<std::pair<Value*, Value*>> entries;  // Dict, in insertion order
    std::unordered_map<std::string, size_t> index;   // Dict: key identity -> entries position
    Callable callable = Callable::None;              // Global
    DType dtype = DType::F32;                        // Global of a storage type, Storage, Tensor
    // Tensor: a strided view into `storage`, all in elements; checked against storage's count.
    const Value* storage = nullptr;
    int64_t offset = 0;
    std::vector<int64_t> shape;
    std::vector<int64_t> stride;
};

struct Limits {
    size_t max_pickle_bytes = size_t{64} << 20;  // data.pkl of a 10k-tensor model is ~1 MiB
    size_t max_objects = size_t{1} << 20;
    size_t max_slots = size_t{1} << 22;  // tuple/list items and dict entries, all together
    size_t max_stack = size_t{1} << 20;
    size_t max_marks = 1024;
    size_t max_memo = size_t{1} << 20;
    size_t max_string = size_t{16} << 20;
    size_t max_dims = 64;
};

struct Document {
    std::deque<Value> arena;  // deque: growing it never moves an object
    const Value* root = nullptr;
};

// `label` names the input in errors ("<path>: pickle ..."). Throws Error(Unsupported) for a
// refused opcode or global, Error(Corrupt) for malformed or over-limit input.
std::unique_ptr<Document> parse(std::span<const std::byte> pickle, const std::string& label,
                                const Limits& limits = {});

const char* kind_name(Kind kind);

}  // namespace clipdex::model::pickle
