// The parsers of what the network says, without a network: the hub's HEAD answer
// (file_metadata_from_answer) and the address rule applied to URLs (check_url_target with
// numeric-only resolution). Found with tests/fuzz/fuzz_hf_metadata.cpp and fuzz_url.cpp, whose
// corpora hold the same inputs.
#include "hub/hf_download.h"
#include "hub/http_fetch.h"

#include "clipdex/error.h"

#include <gtest/gtest.h>

#include <string>

namespace clipdex::hub {
namespace {

const std::string kCommit(40, 'a');
const std::string kUrl = "https://huggingface.co/org/name/resolve/main/open_clip_config.json";

HubAnswer answer_of(long status, std::initializer_list<std::string> lines) {
    HubAnswer answer;
    answer.status = status;
    answer.add_line("HTTP/1.1 " + std::to_string(status) + " X\r\n");
    for (const std::string& line : lines) answer.add_line(line + "\r\n");
    return answer;
}

std::optional<HubFileMetadata> interpret(const HubAnswer& answer) {
    HubConfig config;
    config.cache_dir = "/nonexistent";
    return file_metadata_from_answer(config, {"org/name", "main", "open_clip_config.json"}, answer,
                                     kUrl);
}

void expect_not_a_hub(const HubAnswer& answer, const std::string& fragment) {
    try {
        interpret(answer);
        ADD_FAILURE() << "expected Unavailable mentioning " << fragment;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unavailable) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

TEST(HubAnswer, RegularAndLfsFiles) {
    auto meta = interpret(
        answer_of(200, {"ETag: \"e1\"", "X-Repo-Commit: " + kCommit, "Content-Length: 605"}));
    ASSERT_TRUE(meta);
    EXPECT_EQ(meta->commit, kCommit);
    EXPECT_EQ(meta->etag, "e1");
    EXPECT_TRUE(meta->size_known);
    EXPECT_EQ(meta->size, 605u);
    EXPECT_EQ(meta->download_url, kUrl);
    const std::string sha(64, 'b');
    meta = interpret(
        answer_of(302, {"Location: https://cdn.example/x", "X-Linked-Etag: \"" + sha + "\"",
                        "X-Linked-Size: 18446744073709551615", "X-Repo-Commit: " + kCommit}));
    ASSERT_TRUE(meta);
    EXPECT_TRUE(meta->lfs);
    EXPECT_EQ(meta->etag, sha);
    EXPECT_EQ(meta->size, 18446744073709551615ull);
    EXPECT_EQ(meta->download_url, "https://cdn.example/x");
    EXPECT_FALSE(interpret(answer_of(404, {"X-Error-Code: EntryNotFound"})));
}

TEST(HubAnswer, CommitAndEtagCannotLeaveTheCache) {
    // They become snapshots/<commit>/ and blobs/<etag>: "../../x" would write outside the cache.
    expect_not_a_hub(answer_of(200, {"X-Repo-Commit: ../../../../tmp/x", "ETag: \"e\""}),
                     "not a plain name");
    for (const char* etag : {"\"..\"", "\".\"", "a\\b", "\"a/b\""}) {
        expect_not_a_hub(
            answer_of(200, {"X-Repo-Commit: " + kCommit, std::string("ETag: ") + etag}),
            "not a plain name");
    }
    expect_not_a_hub(answer_of(200, {"X-Repo-Commit: " + std::string(300, 'c'), "ETag: \"e\""}),
                     "not a plain name");
    expect_not_a_hub(answer_of(200, {"Content-Length: 12"}), "no X-Repo-Commit");
}

TEST(HubAnswer, SizeBeyond64BitsIsAnErrorNotAnException) {
    // std::stoull threw std::out_of_range here, which no caller expects.
    expect_not_a_hub(answer_of(200, {"X-Repo-Commit: " + kCommit, "ETag: \"e\"",
                                     "Content-Length: 99999999999999999999999"}),
                     "no 64-bit size");
}

TEST(HubAnswer, RelativeRedirectsStayOnTheHub) {
    EXPECT_EQ(absolute_location(kUrl, "/new/name/resolve/main/a.json"),
              "https://huggingface.co/new/name/resolve/main/a.json");
    EXPECT_EQ(absolute_location(kUrl, "//evil.example/x"),
              "https://huggingface.co//evil.example/x");
    EXPECT_EQ(absolute_location(kUrl, "http://other/x"), "http://other/x");
}

TEST(UrlTarget, NumericHostFormsAreJudgedByTheirAddress) {
    for (const char* url :
         {"http://127.0.0.1/", "http://0x7f.1/", "http://2130706433/", "http://0177.0.0.01/",
          "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/",
          "http://[fd00:ec2::254]/", "http://[64:ff9b::a00:1]/", "http://[64:ff9b:1::a00:1]/",
          "http://[2002:7f00:1::]/", "http://user:pw@10.0.0.1:80/@8.8.8.8/"}) {
        try {
            check_url_target(url, {}, /*numeric_only=*/true);
            ADD_FAILURE() << url << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << url;
            EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
        }
    }
}

TEST(UrlTarget, PublicAddressesAndExemptHosts) {
    UrlTarget target = check_url_target("https://[2606:4700:4700::1111]/a b.jpg", {}, true);
    EXPECT_EQ(target.scheme, "https");
    EXPECT_EQ(target.port, "443");
    ASSERT_EQ(target.addresses.size(), 1u);
    EXPECT_EQ(target.addresses[0], "2606:4700:4700::1111");
    FetchOptions options;
    options.allowed_hosts = {"images.intranet"};
    target = check_url_target("http://IMAGES.intranet:8080/x", options, true);
    EXPECT_TRUE(target.exempt);
    EXPECT_TRUE(target.addresses.empty());
    // A name is not resolved in numeric-only mode: Unavailable, as an unknown host is.
    try {
        check_url_target("http://example.com/", {}, true);
        ADD_FAILURE() << "a name resolved without DNS";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unavailable);
    }
    EXPECT_THROW(check_url_target("ftp://8.8.8.8/", {}, true), Error);
}

}  // namespace
}  // namespace clipdex::hub
