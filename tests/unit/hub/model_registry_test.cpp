#include "hub/model_registry.h"

#include "clipdex/error.h"
#include "common/hash.h"
#include "loopback_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

namespace clipdex::hub {
namespace {

namespace fs = std::filesystem;
using test::http_response;
using test::LoopbackServer;
using test::Request;

fs::path make_temp_dir() {
    static std::atomic<int> counter{0};
    const fs::path dir =
        fs::temp_directory_path() /
        ("clipdex-hub-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string sha256_of(const std::string& text) {
    return sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// ---- registry ----------------------------------------------------------------------------

TEST(ResolveModel, RegisteredNamesMapToRepos) {
    const ModelSource b32 = resolve_model("ViT-B-32::openai");
    EXPECT_EQ(b32.kind, SourceKind::HfRepo);
    EXPECT_EQ(b32.repo, "openai/clip-vit-base-patch32");
    EXPECT_EQ(b32.revision, "main");
    EXPECT_EQ(b32.format, ModelFormat::Transformers);
    EXPECT_EQ(b32.embed_dim, 512);
    ASSERT_EQ(b32.files.size(), 5u);
    EXPECT_EQ(b32.files[1].choices, std::vector<std::string>{"model.safetensors"});

    EXPECT_EQ(resolve_model("ViT-L-14-336::openai").repo, "openai/clip-vit-large-patch14-336");
    EXPECT_EQ(resolve_model("ViT-L-14-336::openai").embed_dim, 768);
    EXPECT_EQ(resolve_model("vit-b-16::OPENAI").repo, "openai/clip-vit-base-patch16");

    const ModelSource laion = resolve_model("ViT-B-32::laion2b_s34b_b79k");
    EXPECT_EQ(laion.repo, "laion/CLIP-ViT-B-32-laion2B-s34B-b79K");
    EXPECT_EQ(laion.format, ModelFormat::OpenClip);

    // The timm repo's model.safetensors is a vision-only checkpoint: never fetched.
    const ModelSource e16 = resolve_model("ViT-B-32::laion2b_e16");
    EXPECT_EQ(e16.repo, "timm/vit_base_patch32_clip_224.laion2b_e16");
    for (const RepoFile& file : e16.files) {
        for (const std::string& choice : file.choices) {
            EXPECT_NE(choice, "model.safetensors");
        }
    }
    EXPECT_EQ(e16.files[1].choices, (std::vector<std::string>{"open_clip_model.safetensors",
                                                              "open_clip_pytorch_model.bin"}));
}

TEST(ResolveModel, HfHubNames) {
    const ModelSource source = resolve_model("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K");
    EXPECT_EQ(source.kind, SourceKind::HfRepo);
    EXPECT_EQ(source.repo, "laion/CLIP-ViT-B-32-laion2B-s34B-b79K");
    EXPECT_EQ(source.format, ModelFormat::Unknown);
    EXPECT_EQ(resolve_model("hf-hub:org/name@v1.0").revision, "v1.0");
    for (const char* bad : {"hf-hub:", "hf-hub:noslash", "hf-hub:../etc", "hf-hub:a/b/c",
                            "hf-hub:a/..", "hf-hub:a/b@"}) {
        EXPECT_THROW(resolve_model(bad), Error) << bad;
    }
}

TEST(ResolveModel, LocalDirectoryAndUnknownNames) {
    const fs::path dir = make_temp_dir() / "模型 dir";
    fs::create_directories(dir);
    std::ofstream(dir / "open_clip_config.json") << "{}";
    const ModelSource local = resolve_model(dir.string());
    EXPECT_EQ(local.kind, SourceKind::LocalDir);
    EXPECT_EQ(local.format, ModelFormat::OpenClip);
    EXPECT_EQ(ensure_model(dir.string(), {}, HubConfig{}), dir);

    try {
        resolve_model("ViT-Z-1::nobody");
        FAIL();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::NotFound);
        EXPECT_NE(std::string(error.what()).find("ViT-B-32::openai"), std::string::npos);
    }
    EXPECT_THROW(resolve_model("./no/such/dir"), Error);
    fs::remove_all(dir.parent_path());
}

TEST(ListModels, SixNamesDefaultFirstNothingCached) {
    HubConfig config;
    config.cache_dir = make_temp_dir();
    const auto models = list_models(config);
    ASSERT_EQ(models.size(), 6u);
    EXPECT_EQ(models[0].name, kDefaultModel);
    EXPECT_TRUE(models[0].is_default);
    EXPECT_EQ(models[2].embed_dim, 768);
    for (const ModelInfo& model : models) {
        EXPECT_FALSE(model.cached) << model.name;
    }
    fs::remove_all(config.cache_dir);
}

class EnvGuard {
  public:
    explicit EnvGuard(std::map<std::string, std::string> values) {
        for (const char* name :
             {"HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE",
              "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "XDG_CACHE_HOME", "HOME"}) {
            if (const char* old = std::getenv(name)) {
                saved_[name] = old;
            }
            ::unsetenv(name);
        }
        for (const auto& [name, value] : values) {
            ::setenv(name.c_str(), value.c_str(), 1);
        }
    }
    ~EnvGuard() {
        for (const char* name :
             {"HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE",
              "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "XDG_CACHE_HOME", "HOME"}) {
            ::unsetenv(name);
        }
        for (const auto& [name, value] : saved_) {
            ::setenv(name.c_str(), value.c_str(), 1);
        }
    }

  private:
    std::map<std::string, std::string> saved_;
};

TEST(HubConfig, ReadsEnvironmentLikeHuggingfaceHub) {
    {
        EnvGuard env(std::map<std::string, std::string>{{"HOME", "/home/u"}});
        const HubConfig config = HubConfig::from_environment();
        EXPECT_EQ(config.endpoint, "https://huggingface.co");
        EXPECT_EQ(config.cache_dir, fs::path("/home/u/.cache/huggingface/hub"));
        EXPECT_FALSE(config.offline);
        EXPECT_TRUE(config.token.empty());
    }
    {
        EnvGuard env({{"HF_HOME", "/data/hf"},
                      {"HF_ENDPOINT", "http://127.0.0.1:9/"},
                      {"HF_HUB_OFFLINE", "1"},
                      {"HF_TOKEN", "hf_abc"}});
        const HubConfig config = HubConfig::from_environment();
        EXPECT_EQ(config.endpoint, "http://127.0.0.1:9");
        EXPECT_EQ(config.cache_dir, fs::path("/data/hf/hub"));
        EXPECT_TRUE(config.offline);
        EXPECT_EQ(config.token, "hf_abc");
    }
    {
        const fs::path home = make_temp_dir();
        std::ofstream(home / "token") << "hf_from_file\n";
        EnvGuard env({{"HF_HOME", home.string()},
                      {"HF_HUB_CACHE", "/cache/x"},
                      {"HF_HUB_OFFLINE", "false"}});
        const HubConfig config = HubConfig::from_environment();
        EXPECT_EQ(config.cache_dir, fs::path("/cache/x"));
        EXPECT_FALSE(config.offline);
        EXPECT_EQ(config.token, "hf_from_file");
        fs::remove_all(home);
    }
}

TEST(HubCache, RepoFolderName) {
    HubConfig config;
    config.cache_dir = "/c";
    EXPECT_EQ(repo_cache_dir(config, "openai/clip-vit-base-patch32"),
              fs::path("/c/models--openai--clip-vit-base-patch32"));
}

// ---- downloads against a loopback hub ----------------------------------------------------

struct FakeFile {
    std::string data;
    bool lfs = false;
};

// The hub protocol subset clipdex relies on, with one injected fault at a time.
class FakeHub {
  public:
    explicit FakeHub(std::map<std::string, FakeFile> files) : files_(std::move(files)) {
        server_.route("/org/tiny/resolve/", [this](const Request& req) { return resolve(req); });
        server_.route("/cdn/", [this](const Request& req) { return cdn(req); });
        server_.start();
    }

    std::string endpoint() const { return server_.url(""); }
    const std::string commit = std::string(40, 'c');
    std::atomic<int> requests{0};
    std::atomic<std::size_t> drop_after{0};  // >0: cut the next CDN body after this many bytes
    std::atomic<bool> corrupt{false};
    std::mutex mutex;
    std::vector<std::string> ranges;

  private:
    std::string resolve(const Request& req) {
        ++requests;
        const std::string rest =
            req.path.substr(std::string("/org/tiny/resolve/").size());  // REVISION/FILE
        const std::string name = rest.substr(rest.find('/') + 1);
        const auto it = files_.find(name);
        if (it == files_.end()) {
            return http_response(404, "", "text/plain",
                                 {"X-Error-Code: EntryNotFound", "X-Repo-Commit: " + commit});
        }
        const std::string sha = sha256_of(it->second.data);
        if (it->second.lfs) {
            return http_response(302, "", "text/plain",
                                 {"X-Repo-Commit: " + commit, "X-Linked-Etag: \"" + sha + "\"",
                                  "X-Linked-Size: " + std::to_string(it->second.data.size()),
                                  "ETag: \"0123\"", "Location: " + server_.url("/cdn/" + name)});
        }
        std::string response =
            http_response(200, it->second.data, "application/octet-stream",
                          {"X-Repo-Commit: " + commit, "ETag: \"" + sha.substr(0, 40) + "\""});
        if (req.method == "HEAD") {
            response.resize(response.size() - it->second.data.size());
        }
        return response;
    }

    std::string cdn(const Request& req) {
        ++requests;
        std::string data = files_.at(req.path.substr(5)).data;
        if (corrupt) {
            data[0] = static_cast<char>(data[0] ^ 0x55);
        }
        std::size_t start = 0;
        const auto range = req.headers.find("range");
        if (range != req.headers.end()) {
            std::lock_guard<std::mutex> lock(mutex);
            ranges.push_back(range->second);
            start = std::stoull(range->second.substr(6));
        }
        std::string response = http_response(
            start > 0 ? 206 : 200, data.substr(start), "application/octet-stream",
            start > 0 ? std::vector<std::string>{"Content-Range: bytes " + std::to_string(start) +
                                                 "-" + std::to_string(data.size() - 1) + "/" +
                                                 std::to_string(data.size())}
                      : std::vector<std::string>{});
        if (const std::size_t cut = drop_after.exchange(0); cut > 0) {
            response.resize(response.size() - (data.size() - start) + cut);  // headers promise more
        }
        return response;
    }

    std::map<std::string, FakeFile> files_;
    LoopbackServer server_;
};

std::string pseudo_random_bytes(std::size_t size) {
    std::mt19937 generator(42);
    std::string bytes(size, '\0');
    for (char& byte : bytes) {
        byte = static_cast<char>(generator() & 0xFF);
    }
    return bytes;
}

class HubDownloadTest : public ::testing::Test {
  protected:
    HubDownloadTest()
        : hub_({{"open_clip_config.json", {"{\"model_cfg\":{}}", false}},
                {"open_clip_model.safetensors", {pseudo_random_bytes(200000), true}},
                {"vocab.json", {"{}", false}}}) {
        config_.endpoint = hub_.endpoint();
        config_.cache_dir = make_temp_dir();
        config_.retries = 0;
    }
    ~HubDownloadTest() override { fs::remove_all(config_.cache_dir); }

    fs::path blob_path() const {
        return repo_cache_dir(config_, "org/tiny") / "blobs" /
               sha256_of(pseudo_random_bytes(200000));
    }

    FakeHub hub_;
    HubConfig config_;
};

TEST_F(HubDownloadTest, DownloadsIntoHfLayoutAndReusesCache) {
    std::uint64_t last_done = 0;
    std::uint64_t last_total = 0;
    const fs::path snapshot = ensure_model(
        "hf-hub:org/tiny",
        [&](const DownloadProgress& p) {
            if (p.file == "open_clip_model.safetensors") {
                last_done = p.done;
                last_total = p.total;
            }
        },
        config_);
    EXPECT_EQ(snapshot, repo_cache_dir(config_, "org/tiny") / "snapshots" / hub_.commit);
    EXPECT_EQ(read_file(snapshot / "open_clip_model.safetensors"), pseudo_random_bytes(200000));
    EXPECT_TRUE(fs::is_symlink(snapshot / "open_clip_model.safetensors"));
    EXPECT_EQ(read_file(repo_cache_dir(config_, "org/tiny") / "refs" / "main"), hub_.commit);
    EXPECT_EQ(last_done, 200000u);
    EXPECT_EQ(last_total, 200000u);
    EXPECT_TRUE(
        fs::exists(repo_cache_dir(config_, "org/tiny") / ".no_exist" / hub_.commit / "merges.txt"));

    const int before = hub_.requests;
    EXPECT_EQ(ensure_model("hf-hub:org/tiny", {}, config_), snapshot);
    EXPECT_EQ(hub_.requests, before);
}

TEST_F(HubDownloadTest, ResumesAfterDroppedConnection) {
    hub_.drop_after = 70000;
    EXPECT_THROW(ensure_model("hf-hub:org/tiny", {}, config_), Error);
    EXPECT_EQ(fs::file_size(blob_path().string() + ".incomplete"), 70000u);
    const fs::path snapshot = ensure_model("hf-hub:org/tiny", {}, config_);
    EXPECT_EQ(read_file(snapshot / "open_clip_model.safetensors"), pseudo_random_bytes(200000));
    EXPECT_EQ(hub_.ranges, std::vector<std::string>{"bytes=70000-"});
    EXPECT_FALSE(fs::exists(blob_path().string() + ".incomplete"));
}

TEST_F(HubDownloadTest, RetriesWithinOneCall) {
    config_.retries = 2;
    hub_.drop_after = 1000;
    const fs::path snapshot = ensure_model("hf-hub:org/tiny", {}, config_);
    EXPECT_EQ(read_file(snapshot / "open_clip_model.safetensors"), pseudo_random_bytes(200000));
}

TEST_F(HubDownloadTest, ThrowingFromProgressCancels) {
    const auto cancel = [](const DownloadProgress& p) {
        if (p.file == "open_clip_model.safetensors" && !p.finished) {
            throw std::runtime_error("cancelled by user");
        }
    };
    EXPECT_THROW(ensure_model("hf-hub:org/tiny", cancel, config_), std::runtime_error);
    EXPECT_FALSE(fs::exists(blob_path()));
    const fs::path snapshot = ensure_model("hf-hub:org/tiny", {}, config_);
    EXPECT_EQ(read_file(snapshot / "open_clip_model.safetensors"), pseudo_random_bytes(200000));
}

TEST_F(HubDownloadTest, ChecksumMismatchIsRefusedAndDeleted) {
    hub_.corrupt = true;
    try {
        ensure_model("hf-hub:org/tiny", {}, config_);
        FAIL();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::Corrupt);
        EXPECT_NE(std::string(error.what()).find("sha256"), std::string::npos) << error.what();
    }
    EXPECT_FALSE(fs::exists(blob_path()));
    EXPECT_FALSE(fs::exists(blob_path().string() + ".incomplete"));
}

TEST_F(HubDownloadTest, OfflineUsesCacheOrFailsClearly) {
    config_.offline = true;
    try {
        ensure_model("hf-hub:org/tiny", {}, config_);
        FAIL();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::NotFound);
        EXPECT_NE(std::string(error.what()).find("is not in the cache at"), std::string::npos);
        EXPECT_NE(std::string(error.what()).find("HF_HUB_OFFLINE=1"), std::string::npos);
    }
    EXPECT_EQ(hub_.requests, 0);
    config_.offline = false;
    const fs::path snapshot = ensure_model("hf-hub:org/tiny", {}, config_);
    config_.offline = true;
    const int before = hub_.requests;
    EXPECT_EQ(ensure_model("hf-hub:org/tiny", {}, config_), snapshot);
    EXPECT_EQ(hub_.requests, before);
}

}  // namespace
}  // namespace clipdex::hub
