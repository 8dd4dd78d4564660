// The safetensors reader on valid, damaged and hostile files, and the reader dispatch.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "clipdex/error.h"
#include "model/weights.h"

namespace fs = std::filesystem;
using clipdex::Error;
using clipdex::ErrorCode;
using namespace clipdex::model;

namespace {

class TempDir {
  public:
    TempDir() {
        path_ = fs::temp_directory_path() /
                ("clipdex-st-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::string le64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i)
        s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
}

std::string file_bytes(const std::string& header, const std::string& data) {
    std::string h = header;
    while ((8 + h.size()) % 8 != 0) h.push_back(' ');
    return le64(h.size()) + h + data;
}

fs::path write(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string floats(std::initializer_list<float> values) {
    std::string s(values.size() * 4, '\0');
    size_t i = 0;
    for (float v : values) std::memcpy(&s[4 * i++], &v, 4);
    return s;
}

// Expects open_safetensors(path) to throw `code` with every `needle` in the message.
void expect_error(const fs::path& path, ErrorCode code, const std::vector<std::string>& needles) {
    try {
        open_safetensors(path);
        FAIL() << "no error for " << path;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        for (const auto& needle : needles)
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

const std::string kSix = floats({0, 1, 2, 3, 4, 5});

}  // namespace

TEST(Safetensors, ReadsViewsOfAllFloatTypes) {
    TempDir dir;
    std::string data = kSix + std::string("\x00\x3c\x00\x40", 4) + std::string("\x80\x3f", 2);
    auto path = write(
        dir.path() / "ok.safetensors",
        file_bytes(
            R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
            R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},"s":{"dtype":"BF16","shape":[],"data_offsets":[28,30]}})",
            data));
    auto file = open_safetensors(path);
    ASSERT_EQ(file->tensors().size(), 3u);
    const TensorView& a = file->at("a");
    EXPECT_EQ(a.dtype, DType::F32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.numel(), 6);
    float v;
    std::memcpy(&v, a.data + 20, 4);
    EXPECT_EQ(v, 5.0f);
    EXPECT_EQ(file->at("h").dtype, DType::F16);
    EXPECT_EQ(file->at("s").numel(), 1);
    EXPECT_TRUE(file->at("s").shape.empty());
    EXPECT_EQ(std::string(dtype_name(DType::BF16)), "BF16");
    EXPECT_EQ(dtype_size(DType::I64), 8u);
}

TEST(Safetensors, MissingTensorNamesFileAndTensor) {
    TempDir dir;
    auto path =
        write(dir.path() / "m.safetensors",
              file_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", kSix));
    auto file = open_safetensors(path);
    try {
        file->at("visual.proj");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::NotFound);
        EXPECT_NE(std::string(e.what()).find("m.safetensors"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("visual.proj"), std::string::npos);
    }
}

TEST(Safetensors, RejectsDamagedAndHostileFiles) {
    TempDir dir;
    const fs::path d = dir.path();
    const std::string good =
        file_bytes(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", kSix);
    expect_error(write(d / "trunc.safetensors", good.substr(0, good.size() - 4)),
                 ErrorCode::Corrupt, {"trunc.safetensors", "'a'"});
    expect_error(write(d / "short.safetensors", "abc"), ErrorCode::Corrupt, {"short.safetensors"});
    expect_error(write(d / "huge.safetensors", le64(200ull << 20) + "{}"), ErrorCode::Corrupt,
                 {"100 MB"});
    expect_error(write(d / "lies.safetensors", le64(4096) + good.substr(8)), ErrorCode::Corrupt,
                 {"past the end"});
    // Headers that lie about one tensor, each over the same six floats of data.
    const struct {
        const char* file;
        const char* header;
        std::vector<std::string> needles;
    } lies[] = {
        {"range",
         R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[8,32]}})",
         {"'a'", "past the end"}},
        {"overlap",
         R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
         {"overlaps"}},
        {"shape", R"({"a":{"dtype":"F32","shape":[5],"data_offsets":[0,24]}})", {"'a'", "bytes"}},
        {"dtype", R"({"a":{"dtype":"F8","shape":[6],"data_offsets":[0,24]}})", {"'a'", "dtype"}},
        {"overflow",
         R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,24]}})",
         {"'a'"}},
        {"entry", R"({"a":{"dtype":"F32","shape":[6]}})", {"data_offsets"}},
        {"neg", R"({"a":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}})", {"'a'"}},
    };
    for (const auto& lie : lies) {
        SCOPED_TRACE(lie.file);
        expect_error(
            write(d / (std::string(lie.file) + ".safetensors"), file_bytes(lie.header, kSix)),
            ErrorCode::Corrupt, lie.needles);
    }
    expect_error(write(d / "deep.safetensors", le64(10000) + std::string(10000, '[')),
                 ErrorCode::Corrupt, {"nested"});
    expect_error(write(d / "notjson.safetensors", le64(8) + "not json"), ErrorCode::Corrupt,
                 {"JSON"});
    expect_error(write(d / "array.safetensors", file_bytes("[1,2]", "")), ErrorCode::Corrupt,
                 {"object"});
    expect_error(write(d / "empty.safetensors", ""), ErrorCode::Corrupt, {"too short"});
    expect_error(d / "absent.safetensors", ErrorCode::NotFound, {"absent.safetensors"});
}

TEST(Safetensors, EmptyTensorsMayShareAnOffset) {
    TempDir dir;
    auto path = write(
        dir.path() / "e.safetensors",
        file_bytes(
            R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})",
            kSix));
    EXPECT_EQ(open_safetensors(path)->tensors().size(), 2u);
}

TEST(Safetensors, ShardedIndexJoinsShards) {
    TempDir dir;
    write(dir.path() / "s1.safetensors",
          file_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", kSix));
    write(dir.path() / "s2.safetensors",
          file_bytes(R"({"b":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", kSix));
    auto index =
        write(dir.path() / "model.safetensors.index.json",
              R"({"metadata":{},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
    auto file = open_weights(index);
    EXPECT_EQ(file->tensors().size(), 2u);
    EXPECT_EQ(file->at("b").shape, (std::vector<int64_t>{2, 3}));

    write(index, R"({"weight_map":{"a":"s1.safetensors","c":"s2.safetensors"}})");
    try {
        open_safetensors_sharded(index);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Corrupt);
        EXPECT_NE(std::string(e.what()).find("'c'"), std::string::npos) << e.what();
    }
    write(index, R"({"weight_map":{"a":"../s1.safetensors"}})");
    EXPECT_THROW(open_safetensors_sharded(index), Error);
    write(index, R"({"weight_map":[]})");
    EXPECT_THROW(open_safetensors_sharded(index), Error);
}

TEST(Safetensors, OpenWeightsSniffsUnnamedFiles) {
    TempDir dir;
    auto path =
        write(dir.path() / "weights",
              file_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", kSix));
    EXPECT_EQ(open_weights(path)->tensors().size(), 1u);
    auto junk = write(dir.path() / "junk", "hello world, not weights");
    EXPECT_THROW(open_weights(junk), Error);
}

TEST(Safetensors, CommittedFuzzCorpusNeverCrashes) {
    const fs::path corpus = fs::path(CLIPDEX_SOURCE_DIR) / "tests/fuzz/corpus/safetensors";
    int files = 0;
    for (const auto& entry : fs::directory_iterator(corpus)) {
        ++files;
        try {
            open_safetensors(entry.path());
        } catch (const Error&) {
        }
    }
    EXPECT_GT(files, 5);
}
