// The transformer's operations, written for a team of threads that all run the same forward
// pass (SPMD): each op takes its share of the work, then the team meets at a barrier.
// F32 weights are packed once at load into the blocked layout of oneDNN's matmul primitive
// (brgemm kernels), whose bias, activation and residual add run as post-ops on the output block
// while it is in cache; each thread runs a single-threaded primitive on its rows (or on its
// 64-column panel of the packed weights when there are few rows). F16/BF16 weights go to
// single-threaded oneDNN sgemm calls after the team converts them into one shared F32 buffer
// just before use, so memory holds one layer's F32 copy, not the model's.
#pragma once

#include <barrier>
#include <cstddef>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "model/clip_config.h"
#include "model/clip_weights.h"

namespace clipdex::model {

class Team {
  public:
    Team(int tid, int size, std::barrier<>* barrier) : tid_(tid), size_(size), barrier_(barrier) {}
    int tid() const { return tid_; }
    int size() const { return size_; }
    void sync() const {
        if (size_ > 1) barrier_->arrive_and_wait();
    }
    // This thread's half-open share of `total` items, in chunks that are multiples of `align`.
    std::pair<int, int> share(int total, int align = 1) const;

  private:
    int tid_, size_;
    std::barrier<>* barrier_;
};

// Runs fn on `threads` threads (the caller is one of them) and joins them. fn must not throw.
void run_team(int threads, const std::function<void(const Team&)>& fn);

// dst[i] = LN(src[rows[i]]) for the team's share of i; dst is dense [rows.size(), width].
void layer_norm_rows(const Team& team, const float* src, std::span<const int> rows, int width,
                     const Norm& norm, float eps, float* dst);

enum class Epilogue { None, QuickGelu, Gelu };

// y (=|+=) x @ W^T + b, then the activation, for m rows; x has leading dimension ldx, y ldy.
// `converted` is the team's shared buffer of weight_scratch_floats(layer) floats (unused for
// direct F32 weights). Every thread of the team must call it (it may meet at barriers).
void linear(const Team& team, const Linear& layer, const float* x, int m, int ldx, float* y,
            int ldy, bool accumulate, Epilogue epilogue, float* converted);

// Packs the F32 weights of `layers` (F16/BF16 and layers oneDNN declines are left as they are)
// on `threads` threads; `done` is called on the packing thread for each packed layer, whose
// w.data is not read by linear() any more. Returns the number packed.
int pack_weights(std::span<Linear* const> layers, int threads,
                 const std::function<void(const Linear&)>& done);

// Floats of the shared buffer that linear() needs to convert this layer's weights.
size_t weight_scratch_floats(const Linear& layer);

struct Sequences {
    std::vector<int> offset, length;  // rows of each sequence in the packed activations
};

// Multi-head attention over packed sequences. qkv is [rows, 3W] (q | k | v), out is [rows, W].
// `scratch` is this thread's own buffer of attention_scratch_floats(longest sequence, W / heads).
void attention(const Team& team, const float* qkv, const Sequences& seqs, int width, int heads,
               bool causal, float* out, float* scratch);
size_t attention_scratch_floats(int max_len, int head_dim);

// Scales each of the team's rows of [n, dim] to unit length (zero rows stay zero).
void l2_normalize_rows(const Team& team, float* x, int n, int dim);

}  // namespace clipdex::model
