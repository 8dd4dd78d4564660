// The descriptions file of `clipdex index --descriptions` (fuzzed by
// tests/fuzz/fuzz_descriptions.cpp): errors name the file and the reason.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <functional>

#include "clipdex/engine.h"
#include "clipdex/error.h"
#include "engine/file_scan.h"

namespace clipdex {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}

TEST(Descriptions, ParsesNamesAndRefusesOtherShapes) {
    const Descriptions parsed =
        engine::parse_descriptions(R"({"cat.jpg": "a cat", "a/b.png": "\u732b"})", "d.json");
    EXPECT_EQ(parsed.at("cat.jpg"), "a cat");
    EXPECT_EQ(parsed.at("a/b.png"), "\xe7\x8c\xab");
    EXPECT_NE(error_of([] {
                  engine::parse_descriptions(R"(["a"])", "d.json");
              }).find("'d.json' must be a JSON object"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  engine::parse_descriptions(R"({"a": 1})", "d.json");
              }).find("value of 'a' is not a string"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  engine::parse_descriptions("{\"a\": \"\xff\"}", "d.json");
              }).find("is not valid JSON"),
              std::string::npos);
}

TEST(Descriptions, ADirectoryIsNamedAsOne) {
    const fs::path dir = fs::temp_directory_path() / ("clipdex-desc-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    EXPECT_NE(error_of([&] { load_descriptions(dir); }).find("is a directory"), std::string::npos);
    std::ofstream(dir / "d.json") << R"({"x.jpg": "x"})";
    EXPECT_EQ(load_descriptions(dir / "d.json").at("x.jpg"), "x");
    fs::remove_all(dir);
}

TEST(Descriptions, AnEndlessFileIsRefusedWhileReading) {
    // Read without a bound, /dev/zero (or a FIFO) named as the descriptions file filled memory.
    try {
        load_descriptions("/dev/zero");
        ADD_FAILURE() << "accepted /dev/zero";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::TooLarge) << e.what();
        EXPECT_NE(std::string(e.what()).find("descriptions file '/dev/zero'"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace clipdex
