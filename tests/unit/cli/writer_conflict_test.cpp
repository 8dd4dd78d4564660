// The advice a write command gives when another process holds the database (issue #14):
// who holds it, how to stop it, and the curl line that sends the change through its HTTP API.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "../error_of.h"
#include "cli/writer_conflict.h"
#include "common/shell_words.h"

namespace clipdex::cli {
namespace {

using Command = WriteIntent::Command;

store::WriterInfo server(bool token = false) {
    store::WriterInfo holder;
    holder.pid = 4242;
    holder.program = "clipdex serve";
    holder.url = "http://127.0.0.1:5002";
    holder.token_required = token;
    return holder;
}

const std::string kHeld =
    "clipdex serve (pid 4242, serving http://127.0.0.1:5002) holds my.db for writing; ";

TEST(WriterConflict, AddByUrlGivesTheCurlLine) {
    WriteIntent intent{Command::AddUrl, 7, "https://example.com/cat.png", "a cat"};
    EXPECT_EQ(writer_conflict_message("my.db", server(), intent),
              kHeld +
                  "stop it (kill 4242) and run this command again, or send the change through "
                  "it: curl -X POST http://127.0.0.1:5002/v1/add -H 'Content-Type: "
                  "application/json' -d '{\"description\":\"a cat\",\"id\":7,\"url\":"
                  "\"https://example.com/cat.png\"}'");
}

TEST(WriterConflict, ATokenGoesThroughAnEnvironmentVariable) {
    WriteIntent intent{Command::AddUrl, 7, "https://example.com/cat.png", ""};
    EXPECT_EQ(writer_conflict_message("my.db", server(true), intent),
              kHeld +
                  "stop it (kill 4242) and run this command again, or send the change through "
                  "it (it wants its --bearer-token: put it in CLIPDEX_TOKEN): curl -X POST "
                  "http://127.0.0.1:5002/v1/add -H 'Content-Type: application/json' -H "
                  "\"Authorization: Bearer $CLIPDEX_TOKEN\" -d "
                  "'{\"id\":7,\"url\":\"https://example.com/cat.png\"}'");
}

TEST(WriterConflict, RemoveDeletesEachIdInOneCurl) {
    WriteIntent intent;
    intent.command = Command::Remove;
    intent.ids = {3, -9};
    EXPECT_EQ(writer_conflict_message("my.db", server(), intent),
              kHeld +
                  "stop it (kill 4242) and run this command again, or send the change through "
                  "it: curl -X DELETE 'http://127.0.0.1:5002/v1/delete?id=3' "
                  "'http://127.0.0.1:5002/v1/delete?id=-9'");
}

TEST(WriterConflict, IndexAndAddFileCanOnlyStopTheServer) {
    EXPECT_EQ(writer_conflict_message("my.db", server(), {Command::Index}),
              kHeld + "stop it (kill 4242) and run this command again");
    EXPECT_EQ(writer_conflict_message("my.db", server(), {Command::Migrate}),
              kHeld + "stop it (kill 4242) and run this command again");
    EXPECT_EQ(writer_conflict_message("my.db", server(), {Command::AddFile, 1}),
              kHeld +
                  "stop it (kill 4242) and run this command again (its HTTP API adds images by "
                  "URL only: POST http://127.0.0.1:5002/v1/add)");
}

TEST(WriterConflict, ASecondServerIsToldToUseTheFirst) {
    EXPECT_EQ(writer_conflict_message("my.db", server(), {Command::Serve}),
              kHeld + "use that server, or stop it (kill 4242) and run this command again");
}

TEST(WriterConflict, AWriterWithoutAServerIsWaitedFor) {
    store::WriterInfo indexer;
    indexer.pid = 77;
    indexer.program = "clipdex index";
    EXPECT_EQ(writer_conflict_message("my.db", indexer, {Command::AddUrl, 1, "https://x/y.png"}),
              "clipdex index (pid 77) holds my.db for writing; wait for it to finish or stop it "
              "(kill 77), then run this command again");
}

TEST(WriterConflict, AnUnknownHolderIsFoundWithFuser) {
    EXPECT_EQ(writer_conflict_message("it's.db", store::WriterInfo{}, {Command::Index}),
              "another process holds it's.db for writing (its lock it's.db.lock is taken); find "
              "it with `fuser -v 'it'\\''s.db.lock'`, stop it, then run this command again");
}

// What the shell makes of a quoted word is the text itself.
std::string through_shell(const std::string& word) {
    FILE* pipe = ::popen(("printf '%s' " + word).c_str(), "r");
    std::string out;
    char buffer[256];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    ::pclose(pipe);
    return out;
}

TEST(WriterConflict, ShellQuotingSurvivesTheShell) {
    for (const std::string& text :
         {std::string("plain"), std::string("it's a \"cat\" $HOME `x`"), std::string("''"),
          std::string("a\\b;c|d&e"), std::string("{\"description\":\"l'été\"}")})
        EXPECT_EQ(through_shell(shell_quote(text)), text);
}

TEST(WriterConflict, LocalUrlReachesWildcardHostsOnLoopback) {
    EXPECT_EQ(local_url("127.0.0.1", 5002), "http://127.0.0.1:5002");
    EXPECT_EQ(local_url("0.0.0.0", 80), "http://127.0.0.1:80");
    EXPECT_EQ(local_url("::", 8080), "http://[::1]:8080");
    EXPECT_EQ(local_url("::1", 8080), "http://[::1]:8080");
    EXPECT_EQ(local_url("localhost", 1), "http://localhost:1");
}

TEST(WriterConflict, RefusedOnlyWhileAWriterHoldsTheStore) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("clipdex_writer_conflict_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string db = (dir / "held.db").string();
    refuse_if_held(db, {Command::Index});  // nothing there: no refusal, nothing created
    EXPECT_FALSE(std::filesystem::exists(db));
    {
        store::StoreOptions options;
        options.writer = server(true);
        auto writer = store::open_store(db, options);
        std::string message;
        EXPECT_EQ(code_of(
                      [&] {
                          refuse_if_held(db, {Command::Remove, 0, "", "", {5}});
                      },
                      &message),
                  ErrorCode::Conflict);
        EXPECT_EQ(message, "clipdex serve (pid " + std::to_string(::getpid()) +
                               ", serving http://127.0.0.1:5002) holds " + db +
                               " for writing; stop it (kill " + std::to_string(::getpid()) +
                               ") and run this command again, or send the change through it (it "
                               "wants its --bearer-token: put it in CLIPDEX_TOKEN): curl -X "
                               "DELETE -H \"Authorization: Bearer $CLIPDEX_TOKEN\" "
                               "'http://127.0.0.1:5002/v1/delete?id=5'");
        EXPECT_NO_THROW(refuse_if_held("http://127.0.0.1:19530", {Command::Index}));
    }
    refuse_if_held(db, {Command::Index});  // the writer closed
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipdex::cli
