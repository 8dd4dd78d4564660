// A model's identity, for the collections built with it: what the weights are, not where the
// folder is. The same files copied or moved anywhere give the same fingerprint; other weights
// (another checkpoint, a fine-tune, the same model in another precision or format) give another.
#pragma once

#include <string>

#include "model/clip_config.h"
#include "model/weights.h"

namespace clipdex::model {

// "sha256:" + 24 hex digits over the architecture (every ClipConfig value that changes an
// embedding) and every tensor's name, dtype, shape and bytes. Tensors over 12 KiB contribute
// their first, middle and last 4 KiB: a fine-tune changes every trained tensor throughout, so
// this tells models apart while reading about 5 MB of a ViT-B-32, not its 600 MB.
std::string fingerprint(const ClipConfig& config, const WeightFile& weights);

}  // namespace clipdex::model
