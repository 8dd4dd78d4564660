// The descriptions file of `clipdex index --descriptions FILE` (src/engine/file_scan.*): any
// bytes either fail with clipdex::Error (InvalidInput) or give a map that survives a JSON
// round trip.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "clipdex/error.h"
#include "engine/file_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    clipdex::Descriptions parsed;
    try {
        parsed = clipdex::engine::parse_descriptions(text, "fuzz.json");
    } catch (const clipdex::Error& e) {
        if (e.code() != clipdex::ErrorCode::InvalidInput) std::abort();
        return 0;
    }
    // Keys and values came from JSON strings, so they are valid UTF-8 and dump back.
    const nlohmann::json again(parsed);
    if (clipdex::engine::parse_descriptions(again.dump(), "again.json") != parsed) std::abort();
    // Every entry took at least `"":""` of the input.
    if (parsed.size() * 5 > size) std::abort();
    return 0;
}
