// Opening the engine from the global options, and output helpers shared by subcommands.
#pragma once

#include <memory>
#include <string>

#include "cli/cli.h"
#include "clipdex/engine.h"

namespace clipdex::cli {

EngineOptions engine_options(const GlobalOptions& global);
// Loads the model (downloading it with a progress bar when needed) and opens the store.
std::unique_ptr<Engine> open_engine(const GlobalOptions& global);

// Exit code when a batch finished but some inputs failed (each was reported).
inline constexpr int kExitSomeFailed = 8;

bool is_url(const std::string& text);

}  // namespace clipdex::cli
