// Opening the engine from the global options, and output helpers shared by subcommands.
#pragma once

#include <memory>
#include <string>

#include "cli/cli.h"
#include "cli/writer_conflict.h"
#include "clipdex/engine.h"

namespace clipdex::cli {

EngineOptions engine_options(const GlobalOptions& global);
// For commands that only read (search, list, stats, info): opens the store read-only, so they
// work beside a running `clipdex serve`; a missing database is NotFound, nothing is created. The
// model loads on the first encode (downloading it with a progress bar when needed): --model, else
// the collection's own, else the default; list, stats and info load none.
std::unique_ptr<Engine> open_engine_to_read(const GlobalOptions& global);
// For commands that write: refused with Error(Conflict) and advice (writer_conflict.h) before the
// model loads when another process holds the store; otherwise as above, writable (the database
// is created when absent, the collection by the first write), and recording `intent`'s program
// (and `serve_url`, where it serves one) on the store's lock.
std::unique_ptr<Engine> open_engine_to_write(const GlobalOptions& global, const WriteIntent& intent,
                                             const std::string& serve_url = {},
                                             bool token_required = false);
// The model alone (no store), resolved and limited as open_engine's.
std::unique_ptr<Embedder> open_embedder(const GlobalOptions& global);

// Exit code when a batch finished but some inputs failed (each was reported).
inline constexpr int kExitSomeFailed = 8;

bool is_url(const std::string& text);

// A row id as the user typed it: a whole decimal integer in the signed 64-bit range. Anything
// else ("12abc", "1e3", 99999999999999999999) is InvalidInput naming `what` and the text, never
// clamped to another row's id.
int64_t parse_row_id(const std::string& text, const std::string& what);

}  // namespace clipdex::cli
