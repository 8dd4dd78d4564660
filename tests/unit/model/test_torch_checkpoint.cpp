// The checkpoint reader on hand-built archives: tensors come out right (zero-copy where they
// can), and broken, lying or hostile archives end in a clean error.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "builders.h"
#include "clipdex/error.h"
#include "model/torch_checkpoint.h"

namespace clipdex::model {
namespace {

using test::build_zip;
using test::PickleWriter;
using test::to_bytes;
using test::ZipFile;

std::string floats(const std::vector<float>& values) {
    std::string out(values.size() * sizeof(float), '\0');
    std::memcpy(out.data(), values.data(), out.size());
    return out;
}

std::vector<float> read_floats(const TensorView& view) {
    std::vector<float> out(view.nbytes / sizeof(float));
    std::memcpy(out.data(), view.data, view.nbytes);
    return out;
}

// {"w": 3x4 arange, "wt": w.t(), "row": w[1], prefix optional} over one shared storage.
std::string sample_pickle(const std::string& prefix = "") {
    return PickleWriter()
        .proto(2)
        .ordered_dict()
        .op('(')
        .str(prefix + "w")
        .tensor("FloatStorage", "0", 12, 0, {3, 4}, {4, 1})
        .str(prefix + "wt")
        .tensor("FloatStorage", "0", 12, 0, {4, 3}, {1, 4})
        .str(prefix + "row")
        .tensor("FloatStorage", "0", 12, 4, {4}, {1})
        .str(prefix + "ids")
        .tensor("LongStorage", "1", 2, 0, {1, 2}, {2, 1})
        .op('u')
        .op('.')
        .str();
}

std::string sample_ids() {
    std::string out;
    test::put_le(out, 7, 8);
    test::put_le(out, static_cast<uint64_t>(-3), 8);
    return out;
}

std::vector<ZipFile> sample_files(const std::string& pickle) {
    return {{"archive/data.pkl", pickle},
            {"archive/byteorder", "little"},
            {"archive/data/0", floats({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})},
            {"archive/data/1", sample_ids()},
            {"archive/version", "3\n"}};
}

std::unique_ptr<WeightFile> open_string(const std::string& bytes) {
    return open_torch_checkpoint_bytes(to_bytes(bytes), "test.pt");
}

Error expect_error(const std::string& bytes, ErrorCode code) {
    try {
        open_string(bytes);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorCode::Internal, "");
}

// The contract for damaged bytes: the file loads (and every tensor it lists can be read), or the
// load ends in a clipdex::Error that names the file and says corrupt / unsupported / too large.
// Anything else (a foreign exception, Internal, a message without the file) fails the test.
void expect_load_or_clean_error(const std::string& bytes, const std::string& what) {
    try {
        const auto file = open_string(bytes);
        for (const auto& [name, view] : file->tensors()) {
            std::vector<std::byte> copy(view.nbytes);
            if (view.nbytes > 0) std::memcpy(copy.data(), view.data, view.nbytes);
        }
    } catch (const Error& e) {
        EXPECT_TRUE(e.code() == ErrorCode::Corrupt || e.code() == ErrorCode::Unsupported ||
                    e.code() == ErrorCode::TooLarge)
            << what << ": " << error_code_name(e.code()) << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("test.pt"), std::string::npos)
            << what << ": the error does not name the file: " << e.what();
    }
}

TEST(TorchCheckpoint, ReadsContiguousTransposedAndOffsetViews) {
    auto bytes = to_bytes(build_zip(sample_files(sample_pickle())));
    const std::byte* begin = bytes.data();
    const std::byte* end = begin + bytes.size();
    const auto file = open_torch_checkpoint_bytes(std::move(bytes), "test.pt");
    ASSERT_EQ(file->tensors().size(), 4u);
    const TensorView& w = file->tensors().at("w");
    EXPECT_EQ(w.shape, (std::vector<int64_t>{3, 4}));
    EXPECT_EQ(w.nbytes, 48u);
    EXPECT_EQ(read_floats(w), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    EXPECT_TRUE(w.data >= begin && w.data < end) << "contiguous tensors are not copied";
    const TensorView& wt = file->tensors().at("wt");
    EXPECT_EQ(read_floats(wt), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
    EXPECT_FALSE(wt.data >= begin && wt.data < end) << "a transposed view must be materialised";
    EXPECT_EQ(read_floats(file->tensors().at("row")), (std::vector<float>{4, 5, 6, 7}));
    const TensorView& ids = file->tensors().at("ids");
    EXPECT_EQ(ids.dtype, DType::I64);
    int64_t second = 0;
    std::memcpy(&second, ids.data + 8, 8);
    EXPECT_EQ(second, -3);
}

TEST(TorchCheckpoint, Zip64DirectoryIsRead) {
    const auto file = open_string(build_zip(sample_files(sample_pickle()), true));
    EXPECT_EQ(read_floats(file->tensors().at("row")), (std::vector<float>{4, 5, 6, 7}));
}

TEST(TorchCheckpoint, Zip64TruncationsAndFlipsFailCleanly) {
    const std::string whole = build_zip(sample_files(sample_pickle()), true);
    const size_t tail = whole.size() - 200;  // the directory and end records
    for (size_t i = tail; i < whole.size(); ++i) {
        EXPECT_THROW(open_string(whole.substr(0, i)), Error);
        std::string damaged = whole;
        damaged[i] = static_cast<char>(damaged[i] ^ 0xff);
        expect_load_or_clean_error(damaged, "byte " + std::to_string(i) + " flipped");
    }
}

TEST(TorchCheckpoint, UnwrapsStateDictAndStripsModulePrefix) {
    PickleWriter w;
    w.proto(2).op('}').op('(').str("epoch").integer(3).str("state_dict").ordered_dict().op('(');
    w.str("module.visual.proj").tensor("FloatStorage", "0", 12, 0, {12}, {1});
    w.op('u').op('u').op('.');
    auto files = sample_files(w.str());
    const auto file = open_string(build_zip(files));
    ASSERT_EQ(file->tensors().size(), 1u);
    EXPECT_TRUE(file->contains("visual.proj"));
}

TEST(TorchCheckpoint, NestedDictsBecomeDottedNames) {
    PickleWriter w;
    w.proto(2).op('}').op('(').str("visual").op('}').op('(').str("proj");
    w.tensor("FloatStorage", "0", 12, 0, {2, 6}, {6, 1}).op('u').op('u').op('.');
    const auto file = open_string(build_zip(sample_files(w.str())));
    EXPECT_TRUE(file->contains("visual.proj"));
}

TEST(TorchCheckpoint, ScalarsAndEmptyTensors) {
    PickleWriter w;
    w.proto(2).op('}').op('(').str("scale").tensor("FloatStorage", "0", 12, 3, {}, {});
    w.str("empty").tensor("FloatStorage", "0", 12, 0, {0, 5}, {5, 1}).op('u').op('.');
    const auto file = open_string(build_zip(sample_files(w.str())));
    const TensorView& scale = file->tensors().at("scale");
    EXPECT_TRUE(scale.shape.empty());
    EXPECT_EQ(read_floats(scale), std::vector<float>{3});
    EXPECT_EQ(file->tensors().at("empty").nbytes, 0u);
}

TEST(TorchCheckpoint, StorageLargerThanItsEntryIsCorrupt) {
    auto files = sample_files(PickleWriter()
                                  .proto(2)
                                  .op('}')
                                  .str("w")
                                  .tensor("FloatStorage", "0", 13, 0, {13}, {1})
                                  .op('s')
                                  .op('.')
                                  .str());
    const Error e = expect_error(build_zip(files), ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("tensor 'w': storage '0' claims 52 bytes"),
              std::string::npos)
        << e.what();
}

TEST(TorchCheckpoint, MissingStorageIsCorrupt) {
    auto files = sample_files(sample_pickle());
    files.erase(files.begin() + 3);  // data/1
    const Error e = expect_error(build_zip(files), ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("'ids'"), std::string::npos) << e.what();
}

TEST(TorchCheckpoint, CompressedEntryIsRefused) {
    auto files = sample_files(sample_pickle());
    files[2].method = 8;
    expect_error(build_zip(files), ErrorCode::Unsupported);
}

TEST(TorchCheckpoint, EveryTruncationFailsCleanly) {
    const std::string whole = build_zip(sample_files(sample_pickle()));
    for (size_t n = 0; n < whole.size(); ++n) {
        EXPECT_THROW(open_string(whole.substr(0, n)), Error) << "prefix of " << n << " bytes";
    }
}

TEST(TorchCheckpoint, EveryByteFlipFailsCleanlyOrLoads) {
    const std::string whole = build_zip(sample_files(sample_pickle()));
    for (size_t i = 0; i < whole.size(); ++i) {
        std::string damaged = whole;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
        expect_load_or_clean_error(damaged, "byte " + std::to_string(i) + " flipped");
    }
}

TEST(TorchCheckpoint, PickleCrcMismatchIsCorrupt) {
    std::string zip = build_zip(sample_files(sample_pickle()));
    const size_t at = zip.find("storage");
    ASSERT_NE(at, std::string::npos);
    zip[at] = 'S';
    const Error e = expect_error(zip, ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
}

TEST(TorchCheckpoint, LegacyAndNonZipFilesAreRefused) {
    const Error legacy =
        expect_error(std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15),
                     ErrorCode::Unsupported);
    EXPECT_NE(std::string(legacy.what()).find("legacy non-zip torch checkpoint"),
              std::string::npos);
    expect_error("", ErrorCode::Corrupt);
    expect_error("hello world, not a checkpoint", ErrorCode::Corrupt);
}

TEST(TorchCheckpoint, ArchivesWithoutOneDataPklAreRefused) {
    expect_error(build_zip({{"a/version", "3"}}), ErrorCode::Corrupt);
    expect_error(build_zip({{"a/data.pkl", sample_pickle()}, {"b/data.pkl", sample_pickle()}}),
                 ErrorCode::Corrupt);
    expect_error(build_zip({{"m/constants.pkl", "x"}, {"m/code/__torch__.py", "x"}}),
                 ErrorCode::Unsupported);
    auto dup = sample_files(sample_pickle());
    dup.push_back(dup[2]);
    expect_error(build_zip(dup), ErrorCode::Corrupt);
}

TEST(TorchCheckpoint, BigEndianIsRefused) {
    auto files = sample_files(sample_pickle());
    files[1].data = "big";
    expect_error(build_zip(files), ErrorCode::Unsupported);
}

TEST(TorchCheckpoint, DuplicateAfterPrefixStripIsCorrupt) {
    PickleWriter w;
    w.proto(2).op('}').op('(').str("a").tensor("FloatStorage", "0", 12, 0, {1}, {1});
    w.str("module.a").tensor("FloatStorage", "0", 12, 0, {1}, {1}).op('u').op('.');
    expect_error(build_zip(sample_files(w.str())), ErrorCode::Corrupt);
}

TEST(TorchCheckpoint, TopLevelMustBeADict) {
    expect_error(build_zip(sample_files(std::string("\x80\x02N.", 4))), ErrorCode::Unsupported);
}

TEST(TorchCheckpoint, FilesOnDisk) {
    const auto dir = std::filesystem::temp_directory_path() / "clipdex_test_pickle";
    std::filesystem::create_directories(dir);
    const auto path = dir / "model.pt";
    {
        std::ofstream out(path, std::ios::binary);
        const std::string zip = build_zip(sample_files(sample_pickle()));
        out.write(zip.data(), static_cast<std::streamsize>(zip.size()));
    }
    const auto file = open_torch_checkpoint(path);
    EXPECT_EQ(file->path(), path);
    EXPECT_EQ(file->tensors().size(), 4u);
    try {
        open_torch_checkpoint(dir / "missing.pt");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Io);
        EXPECT_NE(std::string(e.what()).find("missing.pt"), std::string::npos);
    }
    EXPECT_THROW(open_torch_checkpoint(dir), Error);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipdex::model
