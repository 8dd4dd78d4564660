// The embedded store's writer lock and its owner line (writer_lock.h has the design).
#include "store/embedded/writer_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace clipdex::store::embedded {

namespace {

constexpr size_t kMaxOwnerLine = 4096;

std::string lock_path(const std::string& db_path) {
    return db_path + ".lock";
}

std::string process_name() {
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    return name.empty() ? "a process" : name;
}

std::string owner_line(const WriterInfo& owner) {
    nlohmann::json line = {{"pid", static_cast<int64_t>(::getpid())},
                           {"program", owner.program.empty() ? process_name() : owner.program},
                           {"since", utc_timestamp_now()}};
    if (!owner.url.empty()) line["url"] = owner.url;
    line["token_required"] = owner.token_required;
    // Replacement of invalid UTF-8 keeps a program name from a strange argv from throwing.
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool process_alive(int64_t pid) {
    if (pid <= 0 || pid != static_cast<int64_t>(static_cast<pid_t>(pid))) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// The first line of the lock file as the holder wrote it; WriterInfo{} (pid 0) when it is
// missing, unreadable or names a process that no longer exists.
WriterInfo read_owner(int fd) {
    std::string text(kMaxOwnerLine, '\0');
    const ssize_t got = ::pread(fd, text.data(), text.size(), 0);
    if (got <= 0) return {};
    text.resize(static_cast<size_t>(got));
    text.resize(std::min(text.size(), text.find('\n')));
    const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object()) return {};
    WriterInfo owner;
    try {
        owner.pid = line.value("pid", int64_t{0});
        owner.program = line.value("program", std::string());
        owner.url = line.value("url", std::string());
        owner.token_required = line.value("token_required", false);
    } catch (const nlohmann::json::exception&) {
        return {};
    }
    if (!process_alive(owner.pid)) return {};
    return owner;
}

}  // namespace

WriterLock::WriterLock(const std::string& db_path, const WriterInfo& owner)
    : path_(lock_path(db_path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw Error(ErrorCode::Io, "embedded store " + db_path + ": cannot create lock file " +
                                       path_ + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const WriterInfo holder = err == EWOULDBLOCK ? read_owner(fd_) : WriterInfo{};
        ::close(fd_);
        if (err == EWOULDBLOCK)
            throw Error(ErrorCode::Conflict, "embedded store " + db_path +
                                                 " is open for writing by " +
                                                 describe_writer(holder) + " (lock " + path_ +
                                                 " is held); one writer at a time");
        throw Error(ErrorCode::Io, "embedded store " + db_path + ": cannot lock " + path_ + ": " +
                                       std::strerror(err));
    }
    // The line is written over the old one and then cut to its length, so a reader never sees
    // an empty file in between. Failing to write it only costs find_writer its detail.
    const std::string line = owner_line(owner);
    if (::pwrite(fd_, line.data(), line.size(), 0) == static_cast<ssize_t>(line.size())) {
        [[maybe_unused]] const int cut = ::ftruncate(fd_, static_cast<off_t>(line.size()));
    }
}

WriterLock::~WriterLock() {
    [[maybe_unused]] const int cut = ::ftruncate(fd_, 0);
    ::close(fd_);
}

std::optional<WriterInfo> find_writer(const std::string& db_path) {
    const std::string path = lock_path(db_path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;  // no lock file: never opened for writing (or unreadable)
    std::optional<WriterInfo> holder;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0)
        ::flock(fd, LOCK_UN);  // free: whatever line is there was left by a dead writer
    else if (errno == EWOULDBLOCK)
        holder = read_owner(fd);
    ::close(fd);
    return holder;
}

std::string describe_writer(const WriterInfo& writer) {
    if (writer.pid <= 0) return "another process";
    std::string text = (writer.program.empty() ? std::string("a process") : writer.program) +
                       " (pid " + std::to_string(writer.pid);
    if (!writer.url.empty()) text += ", serving " + writer.url;
    return text + ")";
}

}  // namespace clipdex::store::embedded
