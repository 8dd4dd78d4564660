// libFuzzer target for the safetensors reader: any bytes must end in a view table or in
// clipdex::Error, never a crash, and every view handed out must lie inside the file.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "clipdex/error.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The reader maps files, so each input goes through a private temporary file.
    char name[] = "/tmp/clipdex-fuzz-st-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) return 0;
    size_t written = 0;
    while (written < size) {
        ssize_t n = write(fd, data + written, size - written);
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    close(fd);
    try {
        auto file = clipdex::model::open_safetensors(name);
        volatile uint8_t sink = 0;
        for (const auto& [tensor, view] : file->tensors()) {
            // Touch the first and last byte so ASan sees any view outside the mapping.
            if (view.nbytes > 0)
                sink = sink ^ static_cast<uint8_t>(view.data[0]) ^
                       static_cast<uint8_t>(view.data[view.nbytes - 1]);
            if (static_cast<size_t>(view.numel()) * clipdex::model::dtype_size(view.dtype) !=
                view.nbytes)
                std::abort();
        }
    } catch (const clipdex::Error&) {
    }
    unlink(name);
    return 0;
}
