// The transformer's operations, written for a team of threads that all run the same forward
// pass (SPMD): each op takes its share of the work, then the team meets at a barrier.
// GEMMs go to single-threaded BLAS calls on each thread's slice of output columns, so a
// weight slice is converted from F16/BF16 by the one thread that uses it.
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

// Per-thread scratch, sized before the team starts so that no op allocates.
struct ThreadScratch {
    std::vector<float> weights;  // a converted weight slice
    std::vector<float> scores;   // one head's attention matrix
};

// dst[i] = LN(src[rows[i]]) for the team's share of i; dst is dense [rows.size(), width].
void layer_norm_rows(const Team& team, const float* src, std::span<const int> rows, int width, const Norm& norm,
                     float eps, float* dst);

enum class Epilogue { None, QuickGelu, Gelu };

// y[:, cols] (=|+=) x @ W^T + b for M rows; x has leading dimension ldx, y ldy.
void linear(const Team& team, const Linear& layer, const float* x, int m, int ldx, float* y, int ldy, bool accumulate,
            Epilogue epilogue, ThreadScratch& scratch);

struct Sequences {
    std::vector<int> offset, length;  // rows of each sequence in the packed activations
};

// Multi-head attention over packed sequences. qkv is [rows, 3W] (q | k | v), out is [rows, W].
void attention(const Team& team, const float* qkv, const Sequences& seqs, int width, int heads, bool causal, float* out,
               ThreadScratch& scratch);

// Scales each of the team's rows of [n, dim] to unit length (zero rows stay zero).
void l2_normalize_rows(const Team& team, float* x, int n, int dim);

// Sizes one weight-slice scratch large enough for any linear of the block list at this team size.
size_t weight_scratch_floats(const Linear& layer, int threads);

}  // namespace clipdex::model
