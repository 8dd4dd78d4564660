// The command line beside another writer (issue #14). The embedded store takes one writer
// process at a time (a running `clipdex serve` is one) and any number of readers: read commands
// open it read-only and work beside the server; write commands are refused before any model
// loads, with advice naming the holder (from its lock file, store::find_writer): stop it, or
// send the change through its HTTP API with the curl line given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "clipdex/engine.h"
#include "clipdex/store.h"

namespace clipdex::cli {

// What a write command is about to do, for the advice when it cannot.
struct WriteIntent {
    enum class Command { Index, AddUrl, AddFile, Remove, Migrate, Serve };
    Command command = Command::Index;
    int64_t id = 0;                // AddUrl
    std::string url, description;  // AddUrl
    std::vector<int64_t> ids;      // Remove
};

// "clipdex add", "clipdex serve", ...: the program a writer records on the lock.
std::string program_name(WriteIntent::Command command);

// The refusal for `intent` on `db` while `holder` holds it: who holds it, then what works now.
std::string writer_conflict_message(const std::string& db, const store::WriterInfo& holder,
                                    const WriteIntent& intent);

// Throws Error(Conflict) with writer_conflict_message when another process holds `db` for
// writing; returns when none does (Milvus URIs: never).
void refuse_if_held(const std::string& db, const WriteIntent& intent);

// The base URL clients on this machine reach a server listening on host:port by; a wildcard host
// (0.0.0.0, ::) becomes loopback, IPv6 literals are bracketed.
std::string local_url(const std::string& host, int port);


}  // namespace clipdex::cli
