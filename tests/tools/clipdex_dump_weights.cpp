// clipdex_dump_weights <checkpoint>: prints every tensor of a PyTorch checkpoint as JSON
// (name, dtype, shape, byte count, CRC-32 of the bytes, first bytes in hex) so that pytest can
// compare the reader with torch.load. Errors go to stderr as "error: <Code>: <message>", exit 2.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "model/weights.h"
#include "model/zip_reader.h"

namespace {

std::string head_hex(const clipdex::model::TensorView& view) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < view.nbytes && i < 16; ++i) {
        const auto b = static_cast<uint8_t>(view.data[i]);
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

nlohmann::json dump(const clipdex::model::WeightFile& file) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& [name, view] : file.tensors()) {
        tensors.push_back({{"name", name},
                           {"dtype", clipdex::model::dtype_name(view.dtype)},
                           {"shape", view.shape},
                           {"nbytes", view.nbytes},
                           {"crc32", clipdex::model::zip::crc32({view.data, view.nbytes})},
                           {"head", head_hex(view)}});
    }
    return {{"path", file.path().string()}, {"tensors", tensors}};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: clipdex_dump_weights <checkpoint.pt|.bin>\n";
        return 64;
    }
    try {
        const auto file = clipdex::model::open_torch_checkpoint(argv[1]);
        std::cout << dump(*file).dump(1, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
        return 0;
    } catch (const clipdex::Error& e) {
        std::cerr << "error: " << clipdex::error_code_name(e.code()) << ": " << e.what() << "\n";
        return 2;
    }
}
