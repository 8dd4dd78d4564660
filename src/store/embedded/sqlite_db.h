// A thin RAII layer over the SQLite C API for the embedded store: one connection (Db), one
// prepared statement (Statement), errors turned into clipdex::Error with the file named.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "clipdex/error.h"

namespace clipdex::store::embedded {

class Db;

class Statement {
  public:
    Statement(Db& db, std::string_view sql);
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Binding is 1-based as in SQLite.
    Statement& bind(int index, int64_t value);
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind_blob(int index, std::span<const uint8_t> bytes);
    Statement& bind_zeroblob(int index, int64_t bytes);

    bool step();  // true while a row is available
    void run();   // steps to completion
    void reset();

    int64_t column_int(int column);
    std::string column_text(int column);

  private:
    struct Finalizer {
        void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
    };
    Db& db_;
    std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

class Db {
  public:
    // flags: SQLITE_OPEN_* flags. Throws Error(Io / NotFound / Corrupt) naming `path`.
    Db(const std::string& path, int flags);
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    sqlite3* handle() const { return db_.get(); }
    const std::string& path() const { return path_; }

    void exec(std::string_view sql);
    int64_t changes() const { return sqlite3_changes64(db_.get()); }

    // Raises the error for a failed SQLite call with `what` as context.
    [[noreturn]] void fail(int rc, std::string_view what) const;

    // Incremental blob access for the vector chunks (no whole-blob copies on write).
    void blob_read(std::string_view table, std::string_view column, int64_t rowid, int64_t offset,
                   std::span<uint8_t> out);
    void blob_write(std::string_view table, std::string_view column, int64_t rowid, int64_t offset,
                    std::span<const uint8_t> bytes);

  private:
    struct Closer {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    std::string path_;
    std::unique_ptr<sqlite3, Closer> db_;
};

// RAII transaction: rolls back unless commit() was called.
class Transaction {
  public:
    Transaction(Db& db, bool write);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void commit();

  private:
    Db& db_;
    bool open_ = true;
};

}  // namespace clipdex::store::embedded
