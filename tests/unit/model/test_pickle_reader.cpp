// The strict unpickler: what state dicts use parses, everything that could name code is
// refused, and malformed or oversized input ends in a clean error.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "builders.h"
#include "clipdex/error.h"
#include "model/pickle_reader.h"

namespace clipdex::model::pickle {
namespace {

using test::PickleWriter;
using test::to_bytes;

std::unique_ptr<Document> parse_string(const std::string& bytes, const Limits& limits = {}) {
    const auto data = to_bytes(bytes);
    return parse(data, "test.pkl", limits);
}

// Runs the parser and returns the error it must throw.
Error expect_error(const std::string& bytes, ErrorCode code, const Limits& limits = {}) {
    try {
        parse_string(bytes, limits);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorCode::Internal, "");
}

TEST(PickleReader, RefusesClassicOsSystemPayloadWithoutRunningIt) {
    const auto marker = std::filesystem::temp_directory_path() / "clipdex_pickle_pwned";
    std::filesystem::remove(marker);
    const std::string payload = "cos\nsystem\n(S'touch " + marker.string() + "'\ntR.";
    const Error e = expect_error(payload, ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("global os.system at offset 0"), std::string::npos)
        << e.what();
    EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(PickleReader, RefusesDangerousGlobals) {
    for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
             {"builtins", "eval"},
             {"builtins", "exec"},
             {"posix", "system"},
             {"subprocess", "Popen"},
             {"torch", "load"},
             {"torch._utils", "_rebuild_device_tensor_from_numpy"},
             {"collections", "deque"},
             {"__builtin__", "getattr"},
             {"numpy.core.multiarray", "_reconstruct"}}) {
        const std::string bytes = PickleWriter().proto(2).global(module, name).op('.').str();
        const Error e = expect_error(bytes, ErrorCode::Unsupported);
        EXPECT_NE(std::string(e.what()).find(module + "." + name), std::string::npos) << e.what();
    }
}

TEST(PickleReader, RefusesStackGlobalOutsideTheAllowList) {
    // protocol 4: "builtins" "eval" STACK_GLOBAL
    const std::string bytes = std::string(
        "\x80\x04\x8c\x08"
        "builtins"
        "\x8c\x04"
        "eval"
        "\x93.",
        19);
    const Error e = expect_error(bytes, ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("builtins.eval"), std::string::npos) << e.what();
}

TEST(PickleReader, RefusesObjectBuildingOpcodes) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"(ios\nsystem\nS'x'\n.", "INST"},
        {std::string("\x80\x02(o.", 4), "OBJ"},
        {std::string("\x80\x02)\x81.", 5), "NEWOBJ"},
        {std::string("\x80\x02\x82\x01.", 5), "EXT1"},
        {"Pstorage\n.", "PERSID"},
        {std::string("\x80\x02I1\n.", 6), "INT"},
        {std::string("\x80\x02\xff", 3), "unknown opcode 0xff"},
    };
    for (const auto& [bytes, name] : cases) {
        const Error e = expect_error(bytes, ErrorCode::Unsupported);
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
}

TEST(PickleReader, RefusesReduceOnStorageTypeAndOrderedDictWithArguments) {
    expect_error(
        PickleWriter().proto(2).global("torch", "FloatStorage").op(')').op('R').op('.').str(),
        ErrorCode::Unsupported);
    expect_error(PickleWriter()
                     .proto(2)
                     .global("collections", "OrderedDict")
                     .op('(')
                     .op(']')
                     .op('t')
                     .op('R')
                     .op('.')
                     .str(),
                 ErrorCode::Unsupported);
    // REDUCE on a string is not a call of anything.
    expect_error(PickleWriter().proto(2).str("os.system").op(')').op('R').op('.').str(),
                 ErrorCode::Unsupported);
}

TEST(PickleReader, ParsesStateDictOfTensors) {
    const std::string bytes = PickleWriter()
                                  .proto(2)
                                  .ordered_dict()
                                  .op('(')
                                  .str("w")
                                  .tensor("FloatStorage", "0", 12, 0, {3, 4}, {4, 1})
                                  .str("t")
                                  .tensor("HalfStorage", "1", 12, 2, {4, 2}, {1, 4})
                                  .op('u')
                                  .op('.')
                                  .str();
    const auto doc = parse_string(bytes);
    ASSERT_EQ(doc->root->kind, Kind::Dict);
    ASSERT_EQ(doc->root->entries.size(), 2u);
    const Value& w = *doc->root->entries[0].second;
    EXPECT_EQ(w.kind, Kind::Tensor);
    EXPECT_EQ(w.dtype, DType::F32);
    EXPECT_EQ(w.shape, (std::vector<int64_t>{3, 4}));
    EXPECT_EQ(w.storage->text, "0");
    const Value& t = *doc->root->entries[1].second;
    EXPECT_EQ(t.dtype, DType::F16);
    EXPECT_EQ(t.offset, 2);
    EXPECT_EQ(t.stride, (std::vector<int64_t>{1, 4}));
}

TEST(PickleReader, ParametersAndMetadataBuildAreAccepted) {
    PickleWriter w;
    w.proto(2).ordered_dict().op('(').str("p").global("torch._utils", "_rebuild_parameter").op('(');
    w.tensor("FloatStorage", "0", 2, 0, {2}, {1}).op('\x88').ordered_dict().op('t').op('R');
    w.op('u');
    // state dicts carry OrderedDict attributes: BUILD({'_metadata': {...}})
    w.op('}').str("_metadata").ordered_dict().op('s').op('b').op('.');
    const auto doc = parse_string(w.str());
    ASSERT_EQ(doc->root->entries.size(), 1u);
    EXPECT_EQ(doc->root->entries[0].second->kind, Kind::Tensor);
}

TEST(PickleReader, ViewBeyondStorageIsCorrupt) {
    const std::string bytes = PickleWriter()
                                  .proto(2)
                                  .op('}')
                                  .str("w")
                                  .tensor("FloatStorage", "0", 11, 0, {3, 4}, {4, 1})
                                  .op('s')
                                  .op('.')
                                  .str();
    const Error e = expect_error(bytes, ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("reaches element 11"), std::string::npos) << e.what();
}

TEST(PickleReader, OverflowingShapesAreCorrupt) {
    const std::string huge =
        PickleWriter()
            .proto(2)
            .op('}')
            .str("w")
            .tensor("FloatStorage", "0", 4, 0, {0x7fffffff, 0x7fffffff, 0x7fffffff}, {1, 1, 1})
            .op('s')
            .op('.')
            .str();
    expect_error(huge, ErrorCode::Corrupt);
    const std::string strided = PickleWriter()
                                    .proto(2)
                                    .op('}')
                                    .str("w")
                                    .tensor("FloatStorage", "0", 4, 0, {2, 2}, {0x7fffffff, 1})
                                    .op('s')
                                    .op('.')
                                    .str();
    expect_error(strided, ErrorCode::Corrupt);
    const std::string negative = PickleWriter()
                                     .proto(2)
                                     .op('}')
                                     .str("w")
                                     .tensor("FloatStorage", "0", 4, 0, {-1}, {1})
                                     .op('s')
                                     .op('.')
                                     .str();
    expect_error(negative, ErrorCode::Corrupt);
}

TEST(PickleReader, StorageKeyMustBeAPlainName) {
    const std::string bytes = PickleWriter()
                                  .proto(2)
                                  .op('}')
                                  .str("w")
                                  .tensor("FloatStorage", "../../etc/passwd", 1, 0, {1}, {1})
                                  .op('s')
                                  .op('.')
                                  .str();
    expect_error(bytes, ErrorCode::Corrupt);
}

TEST(PickleReader, MalformedInputIsCorrupt) {
    expect_error(std::string("\x80\x02", 2), ErrorCode::Corrupt);  // no STOP
    expect_error(std::string("\x80\x02X\xff\xff\xff\x7f", 7),
                 ErrorCode::Corrupt);                                    // string past the end
    expect_error(std::string("\x80\x02h\x05.", 5), ErrorCode::Corrupt);  // memo never written
    expect_error(std::string("\x80\x02.", 3), ErrorCode::Corrupt);       // STOP on empty stack
    expect_error(std::string("\x80\x02(.", 4), ErrorCode::Corrupt);      // STOP at a mark
    expect_error(std::string("\x80\x02N)s.", 6), ErrorCode::Corrupt);    // SETITEM on a tuple
    expect_error(std::string("\x80\x02}(Nu.", 7), ErrorCode::Corrupt);   // odd SETITEMS
    expect_error(std::string("\x80\x02X\x02\x00\x00\x00\xc3\x28.", 10),
                 ErrorCode::Corrupt);                                   // bad UTF-8
    expect_error(std::string("\x80\x02\x86.", 4), ErrorCode::Corrupt);  // TUPLE2 of nothing
    expect_error(std::string("\x80\x09.", 3), ErrorCode::Unsupported);  // protocol 9
    expect_error(std::string("cos\nsys", 7), ErrorCode::Corrupt);       // unterminated GLOBAL
}

TEST(PickleReader, LimitsAreEnforced) {
    expect_error(std::string(2000, '('), ErrorCode::Corrupt);  // marks
    Limits small;
    small.max_objects = 100;
    expect_error(std::string(200, ')') + ".", ErrorCode::Corrupt, small);
    small = {};
    small.max_string = 4;
    expect_error(PickleWriter().str("longer").op('.').str(), ErrorCode::Corrupt, small);
    small = {};
    small.max_memo = 2;
    expect_error(std::string("Nq\x01q\x02q\x03.", 8), ErrorCode::Corrupt, small);
    small = {};
    small.max_pickle_bytes = 8;
    expect_error(std::string(20, 'N') + ".", ErrorCode::Corrupt, small);
}

TEST(PickleReader, SelfReferenceIsHarmless) {
    // l = []; l.append(l): a cycle. The arena owns every object, so nothing leaks or recurses.
    const auto doc =
        parse_string(std::string("\x80\x02]q\x00h\x00"
                                 "a.",
                                 9));
    ASSERT_EQ(doc->root->kind, Kind::List);
    EXPECT_EQ(doc->root->items.at(0), doc->root);
}

TEST(PickleReader, Long1IsSignExtended) {
    const auto doc = parse_string(std::string("\x80\x02\x8a\x02\xfe\xff.", 7));
    EXPECT_EQ(doc->root->integer, -2);
    const auto big = parse_string(std::string("\x80\x02\x8a\x06\x00\x00\x00\x00\x00\x01.", 11));
    EXPECT_EQ(big->root->integer, int64_t{1} << 40);
    expect_error(std::string("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", 14),
                 ErrorCode::Unsupported);
}

TEST(PickleReader, DuplicateKeysKeepTheLastValue) {
    const auto doc = parse_string(PickleWriter()
                                      .proto(2)
                                      .op('}')
                                      .op('(')
                                      .str("a")
                                      .integer(1)
                                      .str("a")
                                      .integer(2)
                                      .op('u')
                                      .op('.')
                                      .str());
    ASSERT_EQ(doc->root->entries.size(), 1u);
    EXPECT_EQ(doc->root->entries[0].second->integer, 2);
}

}  // namespace
}  // namespace clipdex::model::pickle
