#include "store/embedded/sqlite_db.h"

#include <cstring>

namespace clipdex::store::embedded {

namespace {

ErrorCode code_for(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
            return ErrorCode::Corrupt;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return ErrorCode::Unavailable;
        case SQLITE_CANTOPEN:
            return ErrorCode::Io;
        case SQLITE_TOOBIG:
            return ErrorCode::TooLarge;
        case SQLITE_READONLY:
            return ErrorCode::Unsupported;
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
            return ErrorCode::InvalidInput;
        default:
            return ErrorCode::Io;
    }
}

}  // namespace

Db::Db(const std::string& path, int flags) : path_(path) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail(rc, "cannot open the database");
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 10000);
}

void Db::fail(int rc, std::string_view what) const {
    std::string detail = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
    throw Error(code_for(rc), "embedded store " + path_ + ": " + std::string(what) + ": " + detail);
}

void Db::exec(std::string_view sql) {
    std::string text(sql);
    char* message = nullptr;
    int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string detail = message ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        throw Error(code_for(rc), "embedded store " + path_ + ": `" + text + "` failed: " + detail);
    }
}

namespace {

struct BlobCloser {
    void operator()(sqlite3_blob* blob) const { sqlite3_blob_close(blob); }
};

}  // namespace

void Db::blob_read(std::string_view table, std::string_view column, int64_t rowid, int64_t offset,
                   std::span<uint8_t> out) {
    std::string t(table), c(column);
    sqlite3_blob* raw = nullptr;
    int rc = sqlite3_blob_open(db_.get(), "main", t.c_str(), c.c_str(), rowid, 0, &raw);
    std::unique_ptr<sqlite3_blob, BlobCloser> blob(raw);
    if (rc != SQLITE_OK)
        fail(rc, "cannot open blob " + t + "." + c + " row " + std::to_string(rowid));
    if (offset < 0 || offset + static_cast<int64_t>(out.size()) > sqlite3_blob_bytes(raw))
        throw Error(ErrorCode::Corrupt, "embedded store " + path_ + ": blob " + t + " row " +
                                            std::to_string(rowid) + " is shorter than expected");
    rc = sqlite3_blob_read(raw, out.data(), static_cast<int>(out.size()), static_cast<int>(offset));
    if (rc != SQLITE_OK) fail(rc, "cannot read blob " + t + " row " + std::to_string(rowid));
}

void Db::blob_write(std::string_view table, std::string_view column, int64_t rowid, int64_t offset,
                    std::span<const uint8_t> bytes) {
    std::string t(table), c(column);
    sqlite3_blob* raw = nullptr;
    int rc = sqlite3_blob_open(db_.get(), "main", t.c_str(), c.c_str(), rowid, 1, &raw);
    std::unique_ptr<sqlite3_blob, BlobCloser> blob(raw);
    if (rc != SQLITE_OK)
        fail(rc, "cannot open blob " + t + "." + c + " row " + std::to_string(rowid));
    rc = sqlite3_blob_write(raw, bytes.data(), static_cast<int>(bytes.size()),
                            static_cast<int>(offset));
    if (rc != SQLITE_OK) fail(rc, "cannot write blob " + t + " row " + std::to_string(rowid));
}

Statement::Statement(Db& db, std::string_view sql) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    int rc =
        sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    stmt_.reset(raw);
    if (rc != SQLITE_OK) db.fail(rc, "cannot prepare `" + std::string(sql) + "`");
}

Statement& Statement::bind(int index, int64_t value) {
    int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK) db_.fail(rc, "bind");
    return *this;
}

Statement& Statement::bind(int index, double value) {
    int rc = sqlite3_bind_double(stmt_.get(), index, value);
    if (rc != SQLITE_OK) db_.fail(rc, "bind");
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    int rc = sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
    if (rc != SQLITE_OK) db_.fail(rc, "bind");
    return *this;
}

Statement& Statement::bind_blob(int index, std::span<const uint8_t> bytes) {
    int rc = sqlite3_bind_blob64(stmt_.get(), index,
                                 bytes.empty() ? "" : static_cast<const void*>(bytes.data()),
                                 bytes.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) db_.fail(rc, "bind");
    return *this;
}

Statement& Statement::bind_zeroblob(int index, int64_t bytes) {
    int rc = sqlite3_bind_zeroblob64(stmt_.get(), index, static_cast<sqlite3_uint64>(bytes));
    if (rc != SQLITE_OK) db_.fail(rc, "bind");
    return *this;
}

bool Statement::step() {
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail(rc, "statement `" + std::string(sqlite3_sql(stmt_.get())) + "` failed");
}

void Statement::run() {
    while (step()) {
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

int64_t Statement::column_int(int column) {
    return sqlite3_column_int64(stmt_.get(), column);
}
std::string Statement::column_text(int column) {
    const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
    int size = sqlite3_column_bytes(stmt_.get(), column);
    return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size))
                : std::string();
}

Transaction::Transaction(Db& db, bool write) : db_(db) {
    db_.exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
    if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    db_.exec("COMMIT");
    open_ = false;
}

}  // namespace clipdex::store::embedded
