// The embedded store's writer lock: one writer process per database file, any number of readers.
//
// A writer holds an exclusive flock on PATH.lock for as long as it is open, and writes one JSON
// line into that file saying who it is:
//   {"pid":1234,"program":"clipdex serve","url":"http://127.0.0.1:5002","token_required":false,
//    "since":"2026-12-06T02:30:00.000Z"}
// so that a second writer is refused with a message naming the holder, and a command line can
// tell the user which process to stop or which server to send the change through (find_writer).
// The kernel drops the flock when the process dies, so a line left behind by a killed writer is
// recognised as stale: the lock is free.
#pragma once

#include <optional>
#include <string>

#include "clipdex/store.h"

namespace clipdex::store::embedded {

class WriterLock {
  public:
    // Takes the lock of the database file `db_path` and records `owner` (its pid replaced by this
    // process's). Error(Conflict) naming the holder when another handle or process holds it;
    // Error(Io) when the lock file cannot be created or locked.
    WriterLock(const std::string& db_path, const WriterInfo& owner);
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;
    // Clears the owner line, then releases the lock.
    ~WriterLock();

  private:
    std::string path_;
    int fd_ = -1;
};

// The holder of the lock of `db_path` (see find_writer in clipdex/store.h).
std::optional<WriterInfo> find_writer(const std::string& db_path);

// "clipdex serve (pid 1234, serving http://127.0.0.1:5002)", or "another process" when the
// holder is unknown: for messages.
std::string describe_writer(const WriterInfo& writer);

}  // namespace clipdex::store::embedded
