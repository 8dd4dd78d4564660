// PyTorch checkpoints (torch.save, zip format since torch 1.6): `<archive>/data.pkl` is a
// pickle describing the object, each tensor storage is a stored (uncompressed, 64-byte aligned)
// zip entry `<archive>/data/<key>`. The pickle goes through the strict reader of
// pickle_reader.h; contiguous tensors then point straight into the mapped file.
#include "model/torch_checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <span>

#include "clipdex/error.h"
#include "model/mapped_file.h"
#include "model/pickle_reader.h"
#include "model/zip_reader.h"

namespace clipdex::model {
namespace {

class ByteSource {
  public:
    virtual ~ByteSource() = default;
    virtual std::span<const std::byte> bytes() const = 0;
    // See WeightFile::release_pages; only a file mapping can give pages back without losing them.
    virtual void release_pages(const std::byte* data, size_t n) const {
        (void)data;
        (void)n;
    }
};

class OwnedBytes final : public ByteSource {
  public:
    explicit OwnedBytes(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
    std::span<const std::byte> bytes() const override { return bytes_; }

  private:
    std::vector<std::byte> bytes_;
};

class MappedBytes final : public ByteSource {
  public:
    explicit MappedBytes(const std::filesystem::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw Error(ErrorCode::Io, path.string() + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            throw Error(ErrorCode::Io, path.string() + ": not a regular file");
        }
        size_ = static_cast<size_t>(st.st_size);
        if (size_ > 0) {
            void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            const int err = errno;
            ::close(fd);
            if (addr == MAP_FAILED)
                throw Error(ErrorCode::Io, path.string() + ": cannot map: " + std::strerror(err));
            data_ = static_cast<const std::byte*>(addr);
        } else {
            ::close(fd);
        }
    }
    ~MappedBytes() override {
        if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    }
    MappedBytes(const MappedBytes&) = delete;
    MappedBytes& operator=(const MappedBytes&) = delete;
    std::span<const std::byte> bytes() const override { return {data_, size_}; }
    void release_pages(const std::byte* data, size_t n) const override {
        release_mapped_pages(bytes(), data, n);
    }

  private:
    const std::byte* data_ = nullptr;
    size_t size_ = 0;
};

class TorchCheckpoint final : public WeightFile {
  public:
    TorchCheckpoint(std::filesystem::path path, std::unique_ptr<ByteSource> source)
        : path_(std::move(path)), source_(std::move(source)) {}
    const std::map<std::string, TensorView>& tensors() const override { return tensors_; }
    const std::filesystem::path& path() const override { return path_; }
    void release_pages(const std::byte* data, size_t n) const override {
        source_->release_pages(data, n);
    }

    void load();

  private:
    const pickle::Value& select_state_dict(const pickle::Value& root) const;
    void flatten(const pickle::Value& dict, const std::string& prefix, int depth,
                 std::vector<std::pair<std::string, const pickle::Value*>>& out) const;
    TensorView view(const zip::Archive& archive, const std::string& name,
                    const pickle::Value& tensor);
    std::byte* materialise(size_t nbytes);

    std::filesystem::path path_;
    std::unique_ptr<ByteSource> source_;
    std::string archive_prefix_;
    std::deque<std::vector<std::byte>> copies_;  // views that could not point into the file
    std::map<std::string, TensorView> tensors_;
};

std::string label_of(const std::filesystem::path& path) {
    return path.string();
}

bool starts_with_pickle(std::span<const std::byte> bytes) {
    return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x80 &&
           static_cast<uint8_t>(bytes[1]) <= 5;
}

// `<archive>/data.pkl` where <archive> is any single folder name (torch uses the file's stem).
const zip::Entry& find_data_pkl(const zip::Archive& archive) {
    const zip::Entry* found = nullptr;
    bool torchscript = false;
    for (const auto& entry : archive.entries()) {
        const std::string& name = entry.name;
        const size_t slash = name.find('/');
        const bool top_level =
            slash == std::string::npos || name.find('/', slash + 1) == std::string::npos;
        if (name.ends_with("/constants.pkl") || name.find("/code/") != std::string::npos)
            torchscript = true;
        if (!top_level || (name != "data.pkl" && !name.ends_with("/data.pkl"))) continue;
        if (found != nullptr)
            throw Error(ErrorCode::Corrupt, archive.label() + ": archive holds two pickles ('" +
                                                found->name + "', '" + name + "')");
        found = &entry;
    }
    if (found == nullptr && torchscript)
        throw Error(ErrorCode::Unsupported,
                    archive.label() +
                        ": TorchScript archive (torch.jit.save), not a state dict: save "
                        "model.state_dict() with torch.save instead");
    if (found == nullptr)
        throw Error(ErrorCode::Corrupt,
                    archive.label() + ": zip archive without data.pkl, not a torch checkpoint");
    return *found;
}

void TorchCheckpoint::load() {
    const auto bytes = source_->bytes();
    const std::string label = label_of(path_);
    if (!zip::looks_like_zip(bytes)) {
        if (starts_with_pickle(bytes))
            throw Error(ErrorCode::Unsupported,
                        label +
                            ": legacy non-zip torch checkpoint: re-save with torch>=1.6 "
                            "(torch.save(torch.load(path), new_path))");
        throw Error(ErrorCode::Corrupt, label + ": not a zip archive, so not a PyTorch checkpoint");
    }
    const zip::Archive archive(bytes, label);
    const zip::Entry& pkl = find_data_pkl(archive);
    archive_prefix_ = pkl.name.substr(0, pkl.name.size() - std::string_view("data.pkl").size());
    if (const zip::Entry* order = archive.find(archive_prefix_ + "byteorder")) {
        const auto text = archive.checked_data(*order);
        const std::string_view value(reinterpret_cast<const char*>(text.data()), text.size());
        if (value != "little")
            throw Error(ErrorCode::Unsupported, label + ": checkpoint byte order is '" +
                                                    std::string(value.substr(0, 16)) +
                                                    "', only little endian is read");
    }
    if (pkl.size > pickle::Limits{}.max_pickle_bytes)
        throw Error(ErrorCode::Corrupt, label + ": " + pkl.name + " is " +
                                            std::to_string(pkl.size) +
                                            " bytes, more than a state dict needs");
    const auto doc = pickle::parse(archive.checked_data(pkl), label + ": " + pkl.name);
    std::vector<std::pair<std::string, const pickle::Value*>> found;
    flatten(select_state_dict(*doc->root), "", 0, found);
    for (auto& [raw_name, tensor] : found) {
        std::string name = raw_name.starts_with("module.") ? raw_name.substr(7) : raw_name;
        TensorView v = view(archive, name, *tensor);
        if (!tensors_.emplace(name, v).second)
            throw Error(ErrorCode::Corrupt,
                        label + ": tensor '" + name + "' appears twice (after dropping 'module.')");
    }
}

// open_clip training checkpoints wrap the weights: {"epoch": .., "state_dict": {...}, ...}.
const pickle::Value& TorchCheckpoint::select_state_dict(const pickle::Value& root) const {
    if (root.kind != pickle::Kind::Dict)
        throw Error(ErrorCode::Unsupported, path_.string() + ": checkpoint holds a " +
                                                pickle::kind_name(root.kind) +
                                                ", not a dict of tensors");
    for (const auto& [key, value] : root.entries)
        if (key->kind == pickle::Kind::String && key->text == "state_dict" &&
            value->kind == pickle::Kind::Dict)
            return *value;
    return root;
}

// Nested dicts of tensors become dotted names, as nn.Module.state_dict() would spell them.
// Non-tensor values (epoch numbers, names) are skipped.
void TorchCheckpoint::flatten(
    const pickle::Value& dict, const std::string& prefix, int depth,
    std::vector<std::pair<std::string, const pickle::Value*>>& out) const {
    constexpr int kMaxDepth = 8;
    if (depth > kMaxDepth)
        throw Error(ErrorCode::Corrupt, path_.string() + ": dicts nested deeper than " +
                                            std::to_string(kMaxDepth) + " at '" + prefix + "'");
    for (const auto& [key, value] : dict.entries) {
        if (key->kind != pickle::Kind::String) continue;
        const std::string name = prefix + key->text;
        if (value->kind == pickle::Kind::Tensor) out.emplace_back(name, value);
        if (value->kind == pickle::Kind::Dict) flatten(*value, name + ".", depth + 1, out);
    }
}

std::byte* TorchCheckpoint::materialise(size_t nbytes) {
    return copies_.emplace_back(nbytes).data();
}

TensorView TorchCheckpoint::view(const zip::Archive& archive, const std::string& name,
                                 const pickle::Value& tensor) {
    const pickle::Value& storage = *tensor.storage;
    const std::string where = path_.string() + ": tensor '" + name + "'";
    const zip::Entry* entry = archive.find(archive_prefix_ + "data/" + storage.text);
    if (entry == nullptr)
        throw Error(ErrorCode::Corrupt,
                    where + ": storage '" + storage.text + "' is missing from the archive");
    const auto elem = static_cast<int64_t>(dtype_size(tensor.dtype));
    const auto data = archive.data(*entry);
    // The pickle checked the view against the storage's element count; the count itself must
    // fit in the entry (the reader already checked count * elem does not overflow).
    if (static_cast<uint64_t>(storage.integer * elem) > data.size())
        throw Error(ErrorCode::Corrupt, where + ": storage '" + storage.text + "' claims " +
                                            std::to_string(storage.integer * elem) +
                                            " bytes but its zip entry holds " +
                                            std::to_string(data.size()));
    TensorView v;
    v.dtype = tensor.dtype;
    v.shape = tensor.shape;
    int64_t numel = 1;
    for (int64_t n : tensor.shape) numel *= n;  // overflow ruled out by the pickle reader
    v.nbytes = static_cast<size_t>(numel * elem);
    if (numel == 0) {
        v.data = data.data();
        return v;
    }
    bool contiguous = true;
    int64_t expected = 1;
    for (size_t d = tensor.shape.size(); d-- > 0;) {
        if (tensor.shape[d] != 1 && tensor.stride[d] != expected) contiguous = false;
        expected *= tensor.shape[d];
    }
    const std::byte* base = data.data() + tensor.offset * elem;
    // Zero-copy only when aligned, so that readers may treat the bytes as elements.
    if (contiguous && reinterpret_cast<uintptr_t>(base) % static_cast<uintptr_t>(elem) == 0) {
        v.data = base;
        return v;
    }
    std::byte* out = materialise(v.nbytes);
    const size_t dims = tensor.shape.size();
    std::vector<int64_t> index(dims, 0);
    int64_t src = tensor.offset;
    for (int64_t i = 0; i < numel; ++i) {
        std::memcpy(out + i * elem, data.data() + src * elem, static_cast<size_t>(elem));
        // Odometer over the shape, last dimension fastest, moving the source index with it.
        for (size_t d = dims; d-- > 0;) {
            if (++index[d] < tensor.shape[d]) {
                src += tensor.stride[d];
                break;
            }
            src -= (tensor.shape[d] - 1) * tensor.stride[d];
            index[d] = 0;
        }
    }
    v.data = out;
    return v;
}

}  // namespace

std::unique_ptr<WeightFile> open_torch_checkpoint(const std::filesystem::path& path) {
    auto file = std::make_unique<TorchCheckpoint>(path, std::make_unique<MappedBytes>(path));
    file->load();
    return file;
}

std::unique_ptr<WeightFile> open_torch_checkpoint_bytes(std::vector<std::byte> bytes,
                                                        const std::string& label) {
    auto file =
        std::make_unique<TorchCheckpoint>(label, std::make_unique<OwnedBytes>(std::move(bytes)));
    file->load();
    return file;
}

}  // namespace clipdex::model
