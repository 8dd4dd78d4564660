#include "model/pickle_reader.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "clipdex/error.h"

namespace clipdex::model::pickle {
namespace {

struct AllowedGlobal {
    std::string_view module;
    std::string_view name;
    Callable callable;
    DType dtype;
};

// Everything a state dict needs. Storage types are data (they name a dtype), never called.
constexpr AllowedGlobal kAllowed[] = {
    {"collections", "OrderedDict", Callable::OrderedDict, DType::F32},
    {"torch._utils", "_rebuild_tensor", Callable::RebuildTensor, DType::F32},
    {"torch._utils", "_rebuild_tensor_v2", Callable::RebuildTensorV2, DType::F32},
    {"torch._utils", "_rebuild_parameter", Callable::RebuildParameter, DType::F32},
    {"torch._utils", "_rebuild_parameter_with_state", Callable::RebuildParameterWithState,
     DType::F32},
    {"torch", "FloatStorage", Callable::StorageType, DType::F32},
    {"torch", "HalfStorage", Callable::StorageType, DType::F16},
    {"torch", "BFloat16Storage", Callable::StorageType, DType::BF16},
    {"torch", "DoubleStorage", Callable::StorageType, DType::F64},
    {"torch", "LongStorage", Callable::StorageType, DType::I64},
    {"torch", "IntStorage", Callable::StorageType, DType::I32},
    {"torch", "ShortStorage", Callable::StorageType, DType::I16},
    {"torch", "CharStorage", Callable::StorageType, DType::I8},
    {"torch", "ByteStorage", Callable::StorageType, DType::U8},
    {"torch", "BoolStorage", Callable::StorageType, DType::Bool},
};

struct OpcodeName {
    uint8_t code;
    const char* name;
};

// Names for the refusal message of opcodes that exist but are not allowed here.
constexpr OpcodeName kRefusedNames[] = {
    {'i', "INST"},
    {'o', "OBJ"},
    {0x81, "NEWOBJ"},
    {0x92, "NEWOBJ_EX"},
    {0x82, "EXT1"},
    {0x83, "EXT2"},
    {0x84, "EXT4"},
    {'P', "PERSID"},
    {'S', "STRING"},
    {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"},
    {'I', "INT"},
    {'L', "LONG"},
    {'F', "FLOAT"},
    {'p', "PUT"},
    {'g', "GET"},
    {'0', "POP"},
    {'1', "POP_MARK"},
    {'2', "DUP"},
    {'l', "LIST"},
    {'d', "DICT"},
    {0x8b, "LONG4"},
    {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"},
    {0x91, "FROZENSET"},
    {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
    {0x8e, "BINBYTES8"},
};

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<uint8_t>(s[i]);
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1fu;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0fu;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07u;
        } else
            return false;
        if (s.size() - i < len) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<uint8_t>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3fu);
        }
        const uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min_cp || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

class Machine {
  public:
    Machine(std::span<const std::byte> bytes, const std::string& label, const Limits& limits)
        : bytes_(bytes), label_(label), limits_(limits), doc_(std::make_unique<Document>()) {}

    std::unique_ptr<Document> run();

  private:
    [[noreturn]] void corrupt(const std::string& reason) const {
        throw Error(ErrorCode::Corrupt,
                    label_ + ": pickle " + reason + " at offset " + std::to_string(op_start_));
    }
    [[noreturn]] void refuse(const std::string& what) const {
        throw Error(
            ErrorCode::Unsupported,
            label_ + ": refusing pickle " + what + " at offset " + std::to_string(op_start_) +
                " (only plain state dicts of tensors are read; a checkpoint may not name code)");
    }

    bool step(uint8_t op);
    uint64_t read_uint(size_t width);
    std::string_view read_bytes(uint64_t n);
    std::string_view read_line();

    Value* make(Kind kind);
    void push(Value* value);
    Value* pop();
    Value* top();
    std::vector<Value*> pop_to_mark();
    void count_slots(size_t n);

    void push_string(Kind kind, uint64_t len);
    void push_int(int64_t value);
    void push_tuple(size_t n);
    void push_global(std::string_view module, std::string_view name);
    void memo_put(uint64_t index);
    void memo_get(uint64_t index);
    void long1();
    void binfloat();
    void set_items(Value* dict, const std::vector<Value*>& pairs);
    void append_items(const std::vector<Value*>& items);
    void build();
    void persistent_load();
    void reduce();
    Value* rebuild_tensor(const std::vector<Value*>& args);
    void check_extent(const Value& tensor);
    std::string dict_key(const Value& key);

    std::span<const std::byte> bytes_;
    const std::string& label_;
    const Limits& limits_;
    std::unique_ptr<Document> doc_;
    size_t pos_ = 0;
    size_t op_start_ = 0;
    size_t slots_ = 0;
    std::vector<Value*> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint64_t, Value*> memo_;
};

std::unique_ptr<Document> Machine::run() {
    if (bytes_.size() > limits_.max_pickle_bytes)
        corrupt("of " + std::to_string(bytes_.size()) + " bytes exceeds the limit of " +
                std::to_string(limits_.max_pickle_bytes));
    while (pos_ < bytes_.size()) {
        op_start_ = pos_;
        const auto op = static_cast<uint8_t>(bytes_[pos_++]);
        if (!step(op)) {
            doc_->root = pop();
            return std::move(doc_);
        }
    }
    op_start_ = pos_;
    corrupt("ends without STOP");
}

bool Machine::step(uint8_t op) {
    switch (op) {
        case 0x80: {  // PROTO
            const uint64_t proto = read_uint(1);
            if (proto < 2 || proto > 5) refuse("protocol " + std::to_string(proto));
            return true;
        }
        case 0x95:
            read_uint(8);
            return true;  // FRAME: a read-ahead hint only
        case '.':
            return false;  // STOP
        case '(':          // MARK
            if (marks_.size() >= limits_.max_marks) corrupt("nests MARKs deeper than the limit");
            marks_.push_back(stack_.size());
            return true;
        case '}':
            push(make(Kind::Dict));
            return true;
        case ']':
            push(make(Kind::List));
            return true;
        case ')':
            push_tuple(0);
            return true;
        case 0x85:
            push_tuple(1);
            return true;
        case 0x86:
            push_tuple(2);
            return true;
        case 0x87:
            push_tuple(3);
            return true;
        case 't': {  // TUPLE
            auto items = pop_to_mark();
            Value* tuple = make(Kind::Tuple);
            count_slots(items.size());
            tuple->items = std::move(items);
            push(tuple);
            return true;
        }
        case 'N':
            push(make(Kind::None));
            return true;
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
            Value* b = make(Kind::Bool);
            b->integer = op == 0x88 ? 1 : 0;
            push(b);
            return true;
        }
        case 'J':
            push_int(static_cast<int32_t>(static_cast<uint32_t>(read_uint(4))));
            return true;
        case 'K':
            push_int(static_cast<int64_t>(read_uint(1)));
            return true;
        case 'M':
            push_int(static_cast<int64_t>(read_uint(2)));
            return true;
        case 0x8a:
            long1();
            return true;
        case 'G':
            binfloat();
            return true;
        case 'X':
            push_string(Kind::String, read_uint(4));
            return true;
        case 0x8c:
            push_string(Kind::String, read_uint(1));
            return true;
        case 0x8d:
            push_string(Kind::String, read_uint(8));
            return true;
        case 'B':
            push_string(Kind::Bytes, read_uint(4));
            return true;
        case 'C':
            push_string(Kind::Bytes, read_uint(1));
            return true;
        case 'q':
            memo_put(read_uint(1));
            return true;
        case 'r':
            memo_put(read_uint(4));
            return true;
        case 0x94:
            memo_put(memo_.size());
            return true;  // MEMOIZE
        case 'h':
            memo_get(read_uint(1));
            return true;
        case 'j':
            memo_get(read_uint(4));
            return true;
        case 'c': {  // GLOBAL
            const std::string_view module = read_line();
            const std::string_view name = read_line();
            push_global(module, name);
            return true;
        }
        case 0x93: {  // STACK_GLOBAL
            Value* name = pop();
            Value* module = pop();
            if (module->kind != Kind::String || name->kind != Kind::String)
                corrupt("STACK_GLOBAL needs two strings");
            push_global(module->text, name->text);
            return true;
        }
        case 'Q':
            persistent_load();
            return true;
        case 'R':
            reduce();
            return true;
        case 'b':
            build();
            return true;
        case 's': {  // SETITEM
            Value* value = pop();
            Value* key = pop();
            set_items(top(), {key, value});
            return true;
        }
        case 'u': {  // SETITEMS
            auto pairs = pop_to_mark();
            set_items(top(), pairs);
            return true;
        }
        case 'a': {  // APPEND
            Value* item = pop();
            append_items({item});
            return true;
        }
        case 'e':
            append_items(pop_to_mark());
            return true;  // APPENDS
        default:
            break;
    }
    for (const auto& known : kRefusedNames)
        if (known.code == op) refuse(std::string("opcode ") + known.name);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    refuse(std::string("unknown opcode ") + hex);
}

uint64_t Machine::read_uint(size_t width) {
    if (bytes_.size() - pos_ < width) corrupt("is truncated");
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += width;
    return value;
}

std::string_view Machine::read_bytes(uint64_t n) {
    if (n > limits_.max_string)
        corrupt("string of " + std::to_string(n) + " bytes exceeds the limit");
    if (bytes_.size() - pos_ < n) corrupt("string runs past the end");
    std::string_view out(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return out;
}

std::string_view Machine::read_line() {
    const size_t start = pos_;
    // Module and attribute names are short; a long "line" is garbage, not a name.
    constexpr size_t kMaxLine = 256;
    while (pos_ < bytes_.size() && pos_ - start < kMaxLine) {
        if (static_cast<char>(bytes_[pos_]) == '\n') {
            std::string_view line(reinterpret_cast<const char*>(bytes_.data() + start),
                                  pos_ - start);
            ++pos_;
            return line;
        }
        ++pos_;
    }
    corrupt("GLOBAL name is unterminated or too long");
}

Value* Machine::make(Kind kind) {
    if (doc_->arena.size() >= limits_.max_objects) corrupt("creates more objects than the limit");
    Value& value = doc_->arena.emplace_back();
    value.kind = kind;
    return &value;
}

void Machine::push(Value* value) {
    if (stack_.size() >= limits_.max_stack) corrupt("stack grows past the limit");
    stack_.push_back(value);
}

Value* Machine::pop() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
        corrupt("pops an empty stack");
    Value* value = stack_.back();
    stack_.pop_back();
    return value;
}

Value* Machine::top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
        corrupt("needs a value on the stack");
    return stack_.back();
}

std::vector<Value*> Machine::pop_to_mark() {
    if (marks_.empty()) corrupt("has no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
}

void Machine::count_slots(size_t n) {
    if (n > limits_.max_slots - slots_) corrupt("holds more items than the limit");
    slots_ += n;
}

void Machine::push_string(Kind kind, uint64_t len) {
    const std::string_view bytes = read_bytes(len);
    if (kind == Kind::String && !valid_utf8(bytes)) corrupt("string is not valid UTF-8");
    Value* value = make(kind);
    value->text.assign(bytes);
    push(value);
}

void Machine::push_int(int64_t number) {
    Value* value = make(Kind::Int);
    value->integer = number;
    push(value);
}

void Machine::push_tuple(size_t n) {
    if (stack_.size() - (marks_.empty() ? 0 : marks_.back()) < n)
        corrupt("builds a tuple from too few values");
    Value* tuple = make(Kind::Tuple);
    count_slots(n);
    tuple->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    push(tuple);
}

void Machine::push_global(std::string_view module, std::string_view name) {
    for (const auto& allowed : kAllowed) {
        if (allowed.module != module || allowed.name != name) continue;
        Value* global = make(Kind::Global);
        global->text = std::string(module) + "." + std::string(name);
        global->callable = allowed.callable;
        global->dtype = allowed.dtype;
        push(global);
        return;
    }
    std::string shown;
    for (char c : std::string(module) + "." + std::string(name))
        shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    refuse("global " + shown);
}

void Machine::memo_put(uint64_t index) {
    Value* value = top();
    auto it = memo_.find(index);
    if (it != memo_.end()) {
        it->second = value;
        return;
    }
    if (memo_.size() >= limits_.max_memo) corrupt("memo grows past the limit");
    memo_.emplace(index, value);
}

void Machine::memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
        corrupt("reads memo slot " + std::to_string(index) + " that was never written");
    push(it->second);
}

void Machine::long1() {
    const uint64_t n = read_uint(1);
    if (n > 8) refuse("integer of " + std::to_string(n) + " bytes (more than 64 bits)");
    uint64_t raw = read_uint(n);
    // Two's complement of n bytes: sign-extend from the top byte written.
    if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1) raw |= ~uint64_t{0} << (8 * n);
    push_int(static_cast<int64_t>(raw));
}

void Machine::binfloat() {
    uint64_t raw = 0;
    if (bytes_.size() - pos_ < 8) corrupt("is truncated");
    for (size_t i = 0; i < 8; ++i)
        raw = (raw << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);  // big endian
    pos_ += 8;
    Value* value = make(Kind::Float);
    value->real = std::bit_cast<double>(raw);
    push(value);
}

std::string Machine::dict_key(const Value& key) {
    switch (key.kind) {
        case Kind::String:
            return std::string(1, 's').append(key.text);
        case Kind::Int:
        case Kind::Bool:
            return std::string(1, 'i').append(std::to_string(key.integer));  // Python: True == 1
        case Kind::None:
            return std::string(1, 'n');
        default:
            refuse(std::string("dict key of type ") + kind_name(key.kind));
    }
}

void Machine::set_items(Value* dict, const std::vector<Value*>& pairs) {
    if (dict->kind != Kind::Dict) corrupt(std::string("SETITEM on a ") + kind_name(dict->kind));
    if (pairs.size() % 2 != 0) corrupt("SETITEMS with an odd number of values");
    for (size_t i = 0; i < pairs.size(); i += 2) {
        auto [it, inserted] = dict->index.emplace(dict_key(*pairs[i]), dict->entries.size());
        if (!inserted) {
            dict->entries[it->second].second = pairs[i + 1];  // Python keeps the last value
            continue;
        }
        count_slots(1);
        dict->entries.emplace_back(pairs[i], pairs[i + 1]);
    }
}

void Machine::append_items(const std::vector<Value*>& items) {
    Value* list = top();
    if (list->kind != Kind::List) corrupt(std::string("APPEND on a ") + kind_name(list->kind));
    count_slots(items.size());
    list->items.insert(list->items.end(), items.begin(), items.end());
}

void Machine::build() {
    // torch state dicts carry `_metadata` (module versions) as OrderedDict attributes; parameters
    // may carry Python attributes. Neither changes tensor data, so the state is checked for shape
    // and dropped.
    Value* state = pop();
    Value* target = top();
    if (target->kind != Kind::Dict && target->kind != Kind::Tensor)
        refuse(std::string("BUILD on a ") + kind_name(target->kind));
    if (state->kind != Kind::Dict && state->kind != Kind::Tuple && state->kind != Kind::None)
        corrupt(std::string("BUILD with a ") + kind_name(state->kind) + " state");
}

void Machine::persistent_load() {
    Value* pid = pop();
    // torch.save's persistent id: ('storage', storage type, key, location, element count).
    const auto& f = pid->items;
    if (pid->kind != Kind::Tuple || f.size() != 5 || f[0]->kind != Kind::String ||
        f[0]->text != "storage" || f[1]->kind != Kind::Global ||
        f[1]->callable != Callable::StorageType || f[2]->kind != Kind::String ||
        f[3]->kind != Kind::String || f[4]->kind != Kind::Int)
        corrupt("persistent id is not ('storage', <storage type>, key, location, numel)");
    const int64_t numel = f[4]->integer;
    const auto elem = static_cast<int64_t>(dtype_size(f[1]->dtype));
    if (numel < 0 || numel > std::numeric_limits<int64_t>::max() / elem)
        corrupt("storage '" + f[2]->text + "' has an impossible element count " +
                std::to_string(numel));
    const std::string& key = f[2]->text;
    if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..")
        corrupt("storage key '" + key + "' is not a plain file name");
    Value* storage = make(Kind::Storage);
    storage->dtype = f[1]->dtype;
    storage->text = key;
    storage->integer = numel;
    push(storage);
}

void Machine::reduce() {
    Value* args = pop();
    Value* callable = pop();
    if (callable->kind != Kind::Global || callable->callable == Callable::StorageType)
        refuse(std::string("REDUCE on a ") +
               (callable->kind == Kind::Global ? callable->text : kind_name(callable->kind)));
    if (args->kind != Kind::Tuple) corrupt("REDUCE arguments are not a tuple");
    const auto& a = args->items;
    switch (callable->callable) {
        case Callable::OrderedDict:
            if (!a.empty()) refuse("OrderedDict called with arguments");
            push(make(Kind::Dict));
            return;
        case Callable::RebuildTensor:
            if (a.size() != 4) corrupt("_rebuild_tensor takes 4 arguments");
            push(rebuild_tensor(a));
            return;
        case Callable::RebuildTensorV2:
            if (a.size() != 6 && a.size() != 7)
                corrupt("_rebuild_tensor_v2 takes 6 or 7 arguments");
            push(rebuild_tensor(a));
            return;
        case Callable::RebuildParameter:
        case Callable::RebuildParameterWithState: {
            const size_t want = callable->callable == Callable::RebuildParameter ? 3 : 4;
            if (a.size() != want || a[0]->kind != Kind::Tensor)
                corrupt(callable->text + " takes a tensor and " + std::to_string(want - 1) +
                        " more arguments");
            push(a[0]);
            return;
        }
        default:
            refuse("REDUCE on " + callable->text);
    }
}

Value* Machine::rebuild_tensor(const std::vector<Value*>& args) {
    // (storage, storage_offset, size, stride, ...); the rest (requires_grad, hooks, metadata)
    // concern autograd, not data.
    const Value& storage = *args[0];
    const Value& offset = *args[1];
    const Value& size = *args[2];
    const Value& stride = *args[3];
    if (storage.kind != Kind::Storage || offset.kind != Kind::Int || size.kind != Kind::Tuple ||
        stride.kind != Kind::Tuple)
        corrupt("tensor rebuild arguments are not (storage, offset, size, stride)");
    if (size.items.size() != stride.items.size() || size.items.size() > limits_.max_dims)
        corrupt("tensor has " + std::to_string(size.items.size()) + " sizes and " +
                std::to_string(stride.items.size()) + " strides");
    Value* tensor = make(Kind::Tensor);
    tensor->storage = &storage;
    tensor->dtype = storage.dtype;
    tensor->offset = offset.integer;
    for (size_t d = 0; d < size.items.size(); ++d) {
        const Value& n = *size.items[d];
        const Value& s = *stride.items[d];
        if (n.kind != Kind::Int || s.kind != Kind::Int || n.integer < 0 || s.integer < 0)
            corrupt("tensor size or stride is not a non-negative integer");
        tensor->shape.push_back(n.integer);
        tensor->stride.push_back(s.integer);
    }
    if (tensor->offset < 0) corrupt("tensor storage offset is negative");
    check_extent(*tensor);
    return tensor;
}

void Machine::check_extent(const Value& tensor) {
    int64_t numel = 1;
    int64_t last = tensor.offset;  // highest element index the view touches
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
        if (__builtin_mul_overflow(numel, tensor.shape[d], &numel))
            corrupt("tensor element count overflows");
    }
    if (numel == 0) return;
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
        int64_t span = 0;
        if (__builtin_mul_overflow(tensor.shape[d] - 1, tensor.stride[d], &span) ||
            __builtin_add_overflow(last, span, &last))
            corrupt("tensor extent overflows");
    }
    if (last >= tensor.storage->integer)
        corrupt("tensor view reaches element " + std::to_string(last) + " of storage '" +
                tensor.storage->text + "' which holds " + std::to_string(tensor.storage->integer));
}

}  // namespace

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::None:
            return "None";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::Bytes:
            return "bytes";
        case Kind::Tuple:
            return "tuple";
        case Kind::List:
            return "list";
        case Kind::Dict:
            return "dict";
        case Kind::Global:
            return "global";
        case Kind::Storage:
            return "storage";
        case Kind::Tensor:
            return "tensor";
    }
    return "?";
}

std::unique_ptr<Document> parse(std::span<const std::byte> pickle, const std::string& label,
                                const Limits& limits) {
    return Machine(pickle, label, limits).run();
}

}  // namespace clipdex::model::pickle
