// Deterministic test vectors shared by the store tests and the crash-test writer (which must
// produce the very vectors the test later checks bit for bit).
#pragma once

#include <cstdint>
#include <vector>

namespace clipdex::store::conformance {

// Values in [-1, 1) from a 64-bit mixer (splitmix64); never all zeros for dim >= 1.
inline std::vector<float> random_vector(int dim, uint64_t seed) {
    std::vector<float> v(static_cast<size_t>(dim));
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 12345;
    for (auto& x : v) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        x = static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    if (v[0] == 0.0f) v[0] = 0.5f;
    return v;
}

}  // namespace clipdex::store::conformance
