// PyTorch checkpoint reader internals, exposed for the fuzzer and the unit tests; the rest of
// clipdex calls open_torch_checkpoint() (model/weights.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "model/weights.h"

namespace clipdex::model {

// Reads a checkpoint held in memory; the WeightFile keeps `bytes` alive. `label` stands for
// the path in error messages and in WeightFile::path().
std::unique_ptr<WeightFile> open_torch_checkpoint_bytes(std::vector<std::byte> bytes,
                                                        const std::string& label);

}  // namespace clipdex::model
