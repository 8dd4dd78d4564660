// read_file_bounded / read_text_file_bounded: the bound holds while reading, so endless or
// growing inputs (/dev/zero, a FIFO) stop one byte past it; errors name the input.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <functional>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "clipdex/error.h"
#include "common/file_read.h"
#include "../error_of.h"

namespace clipdex {
namespace {

namespace fs = std::filesystem;

class FileRead : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("clipdex-file-read-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(FileRead, ReadsExactlyTheFileUpToTheBound) {
    std::ofstream(dir_ / "ten") << "0123456789";
    EXPECT_EQ(read_text_file_bounded(dir_ / "ten", 10, "ten"), "0123456789");
    EXPECT_EQ(read_file_bounded(dir_ / "ten", 10, "ten").size(), 10u);
    std::string message;
    EXPECT_EQ(code_of([&] { read_file_bounded(dir_ / "ten", 9, "file 'ten'"); }, &message),
              ErrorCode::TooLarge);
    EXPECT_NE(message.find("file 'ten'"), std::string::npos) << message;
    EXPECT_NE(message.find("limit of 9 bytes"), std::string::npos) << message;
    std::ofstream(dir_ / "empty");
    EXPECT_EQ(read_text_file_bounded(dir_ / "empty", 0, "empty"), "");
}

TEST_F(FileRead, EndlessInputStopsAtTheBound) {
    // /dev/zero has no size to check beforehand: only a bound kept while reading stops it.
    EXPECT_EQ(code_of([] { read_text_file_bounded("/dev/zero", 3 << 20, "zero"); }),
              ErrorCode::TooLarge);
    ::signal(SIGPIPE, SIG_IGN);  // the FIFO's writer outlives its reader
    const fs::path fifo = dir_ / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread writer([&] {
        std::ofstream out(fifo, std::ios::binary);
        const std::string block(1 << 16, 'x');
        for (int i = 0; i < 64 && out; ++i) out << block;  // 4 MiB, more than the bound
    });
    EXPECT_EQ(code_of([&] { read_file_bounded(fifo, 1 << 20, "fifo"); }), ErrorCode::TooLarge);
    // The reader has gone: the writer's next write fails with EPIPE and it ends.
    writer.join();
}

TEST_F(FileRead, MissingAndDirectoryAreNamed) {
    std::string message;
    EXPECT_EQ(code_of([&] { read_file_bounded(dir_ / "nope", 10, "image 'nope'"); }, &message),
              ErrorCode::NotFound);
    EXPECT_NE(message.find("image 'nope'"), std::string::npos) << message;
    EXPECT_EQ(code_of([&] { read_text_file_bounded(dir_, 10, "dir"); }, &message),
              ErrorCode::InvalidInput);
    EXPECT_NE(message.find("is a directory"), std::string::npos) << message;
}

}  // namespace
}  // namespace clipdex
