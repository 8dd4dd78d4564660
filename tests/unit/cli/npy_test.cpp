// The .npy reader and writer that `clipdex embed` exchanges arrays with Python through.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "../error_of.h"
#include "cli/npy.h"

namespace fs = std::filesystem;

namespace clipdex::cli {
namespace {

class NpyTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("clipdex-npy-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A version 1.0 file with this header dict (padded as numpy pads it) and these data bytes.
    fs::path write_raw(const std::string& name, std::string header, const std::string& data) {
        const size_t total = 10 + header.size() + 1;
        header.append((64 - total % 64) % 64, ' ');
        header.push_back('\n');
        std::string bytes = "\x93NUMPY";
        bytes.push_back(1);
        bytes.push_back(0);
        bytes.push_back(static_cast<char>(header.size() & 0xff));
        bytes.push_back(static_cast<char>(header.size() >> 8));
        const fs::path path = dir_ / name;
        std::ofstream(path, std::ios::binary) << bytes << header << data;
        return path;
    }

    fs::path dir_;
};

TEST_F(NpyTest, WrittenFloatsReadBackWithTheirShape) {
    const std::vector<float> values = {0.5f, -1.25f, 3.0e-8f, 1.0f / 3.0f, -0.0f, 65504.0f};
    const fs::path path = dir_ / "out.npy";
    write_npy_f32(path, values, 2, 3);
    EXPECT_EQ(fs::file_size(path) % 64, values.size() * 4 % 64);  // header padded to 64 bytes
    const NpyArray a = read_npy(path);
    EXPECT_EQ(a.descr, "<f4");
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    const std::vector<float> back = npy_as_f32(a, path);
    ASSERT_EQ(back.size(), values.size());
    EXPECT_EQ(std::memcmp(back.data(), values.data(), values.size() * 4), 0);
}

TEST_F(NpyTest, HeaderIsWhatNumpyWrites) {
    const fs::path path = dir_ / "h.npy";
    const float one = 1.0f;
    write_npy_f32(path, {&one, 1}, 1, 1);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const size_t header_len = static_cast<unsigned char>(bytes[8]) |
                              (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u);
    const std::string header = bytes.substr(10, header_len);
    EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 0), 0u)
        << header;
    EXPECT_EQ(header.back(), '\n');
}

TEST_F(NpyTest, IntegerTokenIdsWidenOrNarrowWithARangeCheck) {
    const int64_t ids64[] = {49406, 320, 49407};
    const fs::path ok =
        write_raw("ids.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3), }",
                  std::string(reinterpret_cast<const char*>(ids64), sizeof ids64));
    EXPECT_EQ(npy_as_i32(read_npy(ok), ok), (std::vector<int32_t>{49406, 320, 49407}));

    const int64_t big[] = {int64_t{1} << 40};
    const fs::path bad =
        write_raw("big.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                  std::string(reinterpret_cast<const char*>(big), sizeof big));
    EXPECT_EQ(error_of([&] { npy_as_i32(read_npy(bad), bad); }).code(), ErrorCode::InvalidInput);
    const fs::path floats = write_raw(
        "f.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
    EXPECT_EQ(error_of([&] { npy_as_i32(read_npy(floats), floats); }).code(),
              ErrorCode::InvalidInput);
}

TEST_F(NpyTest, MalformedFilesAreInvalidInputNamingTheFile) {
    const std::pair<std::string, std::string> cases[] = {
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0')},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", std::string(4, '\0')},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", std::string(4, '\0')},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }", std::string(4, '\0')},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", std::string(4, '\0')},
        {"{'descr': '<f4', 'fortran_order': False, }", std::string(4, '\0')},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", std::string(4, '\0')},
    };
    int i = 0;
    for (const auto& [header, data] : cases) {
        const fs::path path = write_raw("bad" + std::to_string(i++) + ".npy", header, data);
        const Error e = error_of([&] { read_npy(path); });
        EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << header;
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    const fs::path text = dir_ / "text.npy";
    std::ofstream(text) << "not numpy at all";
    EXPECT_EQ(error_of([&] { read_npy(text); }).code(), ErrorCode::InvalidInput);
    EXPECT_EQ(error_of([&] { read_npy(dir_ / "missing.npy"); }).code(), ErrorCode::NotFound);
}

TEST_F(NpyTest, AShapeWhoseElementCountOverflowsIsRefused) {
    // 2^40 * 2^24 elements wrap a 64-bit count to 0, which matched an empty data section: the
    // reader returned an array claiming 2^40 rows with no bytes behind them.
    const fs::path path = write_raw(
        "wrap.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 16777216), }", "");
    const Error e = error_of([&] { read_npy(path); });
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
}

}  // namespace
}  // namespace clipdex::cli
