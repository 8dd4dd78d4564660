// Feeds arbitrary bytes to the PyTorch checkpoint reader (zip directory, strict unpickler,
// tensor views). Any outcome but a WeightFile or a clipdex::Error is a bug; every tensor it
// returns is read end to end so that a view past its bytes shows up under ASan.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "clipdex/error.h"
#include "model/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::byte> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(data[i]);
    try {
        const auto file = clipdex::model::open_torch_checkpoint_bytes(std::move(bytes), "fuzz.pt");
        unsigned sum = 0;
        for (const auto& [name, view] : file->tensors())
            for (size_t i = 0; i < view.nbytes; ++i) sum += static_cast<unsigned>(view.data[i]);
        volatile unsigned sink = sum;
        (void)sink;
    } catch (const clipdex::Error&) {
    }
    return 0;
}
