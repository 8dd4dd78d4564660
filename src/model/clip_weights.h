// The tensors of both towers, resolved by name from either naming scheme and checked against
// the config. Large matrices stay in the mapped file; small vectors are copied to F32.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/clip_config.h"
#include "model/weights.h"

namespace clipdex::model {

// A 2-D weight as stored: `rows` x `cols`, C order, any float dtype.
struct Matrix {
    const std::byte* data = nullptr;
    DType dtype = DType::F32;
    int rows = 0;
    int cols = 0;
    // F32 and 4-byte aligned: usable in place, no conversion.
    bool direct() const {
        return dtype == DType::F32 && reinterpret_cast<uintptr_t>(data) % alignof(float) == 0;
    }
};

// A layer's F32 weights copied once into oneDNN's blocked layout (see kernels.h).
struct PackedWeights;

// y = x W^T + b with W [out, in] ("out_in"), or y = x W with W [in, out].
struct Linear {
    Matrix w;
    bool out_in = true;
    std::vector<float> bias;                      // empty: none
    std::shared_ptr<const PackedWeights> packed;  // set: GEMMs use it, never w
    int out() const { return out_in ? w.rows : w.cols; }
    int in() const { return out_in ? w.cols : w.rows; }
};

struct Norm {
    std::vector<float> gamma, beta;
};

struct Block {
    Norm ln1, ln2;
    std::vector<Linear> qkv;  // one fused [3W, W] (open_clip) or q, k, v (HF)
    Linear out, fc1, fc2;
};

struct VisionWeights {
    Linear patch;                                    // conv1 as [W, 3*P*P]
    std::vector<float> class_embedding, positional;  // [W], [1+G*G, W]
    Norm ln_pre, ln_post;
    std::vector<Block> blocks;
    Linear proj;  // no bias
};

struct TextWeights {
    Matrix token_embedding;         // [vocab, W]
    std::vector<float> positional;  // [context, W]
    std::vector<Block> blocks;
    Norm ln_final;
    Linear proj;
};

struct ClipWeights {
    std::unique_ptr<WeightFile> file;
    std::vector<std::vector<float>> owned;  // F32 copies when asked to convert at load
    VisionWeights vision;
    TextWeights text;
    DType matrix_dtype = DType::F32;
    size_t bytes_used = 0;
};

// Throws Error(NotFound/Corrupt) naming the file and tensor for missing or misshapen tensors.
ClipWeights resolve_weights(std::unique_ptr<WeightFile> file, const ClipConfig& cfg,
                            bool half_to_f32);

// Converts `rows` x `cols` elements of `src` (row stride `ld` elements) into dense F32 `dst`.
void to_f32(const std::byte* src, DType dtype, int rows, int cols, size_t ld, float* dst);

}  // namespace clipdex::model
