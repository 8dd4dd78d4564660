// What the engine tests share: the emoji model, the Twemoji drawings (npm test data), and a
// fixture with a fresh folder per test that fails (not skips) when the drawings are missing.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace clipdex::engine_test {

namespace fs = std::filesystem;

inline const fs::path kModel = fs::path(CLIPDEX_SHARED_DIR) / "models" / "emoji-clip-tiny";
inline const fs::path kTwemoji =
    fs::path(CLIPDEX_SOURCE_DIR) / ".cache" / "npm" / "node_modules" / "@twemoji" / "svg";

inline std::vector<uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// dir_ is clipdex-<prefix>-<pid>-<test name> under the temp folder, empty at the start.
class TempFolderTest : public ::testing::Test {
  protected:
    explicit TempFolderTest(std::string prefix) : prefix_(std::move(prefix)) {}
    void SetUp() override {
        if (!fs::is_directory(kTwemoji))
            GTEST_FAIL() << "npm test data missing: run scripts/deps.sh (" << kTwemoji << ")";
        dir_ = fs::temp_directory_path() /
               ("clipdex-" + prefix_ + "-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;

  private:
    std::string prefix_;
};

}  // namespace clipdex::engine_test
