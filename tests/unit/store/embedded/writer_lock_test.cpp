// The embedded store's writer lock file and its owner line (src/store/embedded/writer_lock.h):
// find_writer names the process that holds a database for writing, and ignores what a dead or
// departed writer left behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "../../error_of.h"
#include "clipdex/store.h"

namespace fs = std::filesystem;
using namespace clipdex;
using namespace clipdex::store;

namespace {

struct Folder {
    fs::path dir =
        fs::temp_directory_path() /
        ("clipdex_writer_lock_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::string db = (dir / "clip.db").string();
    std::string lock = db + ".lock";
    static inline int counter = 0;
    Folder() { fs::create_directories(dir); }
    ~Folder() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

StoreOptions serving(const std::string& url, bool token) {
    StoreOptions options;
    options.writer.program = "clipdex serve";
    options.writer.url = url;
    options.writer.token_required = token;
    return options;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A pid that belonged to a process that has exited and been reaped.
pid_t dead_pid() {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    return child;
}

// Holds an exclusive flock on `path` with `line` in it, as a writer of another program would.
struct ForeignHolder {
    int fd;
    ForeignHolder(const std::string& path, const std::string& line) {
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        EXPECT_GE(fd, 0);
        EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
        EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    }
    ~ForeignHolder() { ::close(fd); }
};

}  // namespace

TEST(WriterLock, TheWriterIsNamedWithItsUrlAndToken) {
    Folder folder;
    auto writer = open_store(folder.db, serving("http://127.0.0.1:5002", true));
    const auto found = find_writer(folder.db);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->pid, ::getpid());
    EXPECT_EQ(found->program, "clipdex serve");
    EXPECT_EQ(found->url, "http://127.0.0.1:5002");
    EXPECT_TRUE(found->token_required);
    // "file:" URIs name the same database.
    ASSERT_TRUE(find_writer("file:" + folder.db).has_value());
    EXPECT_EQ(find_writer("file:" + folder.db)->url, "http://127.0.0.1:5002");
    // One JSON line a person can read too.
    const std::string line = read_text(folder.lock);
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_NE(line.find("\"pid\":" + std::to_string(::getpid())), std::string::npos) << line;
}

TEST(WriterLock, ProgramDefaultsToTheProcessName) {
    Folder folder;
    auto writer = open_store(folder.db);
    const auto found = find_writer(folder.db);
    ASSERT_TRUE(found.has_value());
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    EXPECT_EQ(found->program, name);
    EXPECT_TRUE(found->url.empty());
    EXPECT_FALSE(found->token_required);
}

TEST(WriterLock, ASecondWriterIsRefusedNamingTheFirst) {
    Folder folder;
    auto writer = open_store(folder.db, serving("http://127.0.0.1:7777", false));
    std::string message;
    EXPECT_EQ(code_of([&] { open_store(folder.db); }, &message), ErrorCode::Conflict);
    EXPECT_NE(message.find("clipdex serve (pid " + std::to_string(::getpid()) +
                           ", serving http://127.0.0.1:7777)"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(folder.lock), std::string::npos) << message;
    // The refused writer did not overwrite the holder's line.
    EXPECT_EQ(find_writer(folder.db)->url, "http://127.0.0.1:7777");
}

TEST(WriterLock, ReadersAndClosedWritersHoldNothing) {
    Folder folder;
    EXPECT_FALSE(find_writer(folder.db).has_value());
    EXPECT_FALSE(fs::exists(folder.lock)) << "find_writer created the lock file";
    EXPECT_FALSE(fs::exists(folder.db)) << "find_writer created the database";
    open_store(folder.db, serving("http://127.0.0.1:5002", false)).reset();
    EXPECT_FALSE(find_writer(folder.db).has_value());
    EXPECT_EQ(read_text(folder.lock), "") << "a closed writer leaves its owner line behind";
    StoreOptions read_only;
    read_only.read_only = true;
    auto reader = open_store(folder.db, read_only);
    EXPECT_FALSE(find_writer(folder.db).has_value());
    // A writer opens beside the reader and is found.
    auto writer = open_store(folder.db, serving("http://127.0.0.1:5003", false));
    EXPECT_EQ(find_writer(folder.db)->url, "http://127.0.0.1:5003");
}

TEST(WriterLock, AKilledWritersLineIsStale) {
    Folder folder;
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        try {
            auto writer = open_store(folder.db, serving("http://127.0.0.1:5004", false));
            const char byte = 1;
            [[maybe_unused]] const ssize_t n = write(ready[1], &byte, 1);
            pause();
        } catch (...) {
        }
        _exit(1);
    }
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    const auto held = find_writer(folder.db);
    ASSERT_TRUE(held.has_value());
    EXPECT_EQ(held->pid, child);
    EXPECT_EQ(held->url, "http://127.0.0.1:5004");
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    close(ready[0]);
    close(ready[1]);
    // The line is still in the file, but the kernel dropped the lock with the process.
    EXPECT_NE(read_text(folder.lock).find("5004"), std::string::npos);
    EXPECT_FALSE(find_writer(folder.db).has_value());
    auto next = open_store(folder.db);
    EXPECT_EQ(find_writer(folder.db)->pid, ::getpid());
}

TEST(WriterLock, AnUnlockedLineOfALiveProcessIsIgnored) {
    Folder folder;
    std::ofstream(folder.lock) << "{\"pid\":" << ::getpid()
                               << ",\"program\":\"clipdex serve\",\"url\":\"http://x:1\"}\n";
    EXPECT_FALSE(find_writer(folder.db).has_value());
}

TEST(WriterLock, AHolderWithoutAReadableLineIsAnotherProcess) {
    Folder folder;
    for (const std::string& line :
         {std::string(), std::string("not json\n"), std::string("[1,2]\n"),
          std::string("{\"pid\":\"twelve\"}\n"),
          "{\"pid\":" + std::to_string(dead_pid()) + ",\"program\":\"clipdex serve\"}\n"}) {
        ForeignHolder holder(folder.lock, line);
        const auto found = find_writer(folder.db);
        ASSERT_TRUE(found.has_value()) << line;
        EXPECT_EQ(found->pid, 0) << line;
        EXPECT_TRUE(found->url.empty()) << line;
        std::string message;
        EXPECT_EQ(code_of([&] { open_store(folder.db); }, &message), ErrorCode::Conflict);
        EXPECT_NE(message.find("by another process"), std::string::npos) << message;
    }
}

TEST(WriterLock, MilvusHasNoSingleWriter) {
    EXPECT_FALSE(find_writer("http://127.0.0.1:1").has_value());
    EXPECT_EQ(code_of([] { find_writer(""); }), ErrorCode::InvalidInput);
}
