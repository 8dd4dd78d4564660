// Downloads from a Hugging Face hub into the standard HF cache, shared with Python tools.
//
// Cache layout (the one huggingface_hub uses, so each side reuses the other's downloads):
//   <cache>/models--ORG--NAME/blobs/<etag>                 file content (etag = sha256 for LFS)
//   <cache>/models--ORG--NAME/blobs/<etag>.incomplete      partial download, resumed with Range
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>    relative symlink to the blob
//   <cache>/models--ORG--NAME/refs/<revision>              commit hash of that revision
//   <cache>/models--ORG--NAME/.no_exist/<commit>/<file>    the file is known not to exist
//   <cache>/.locks/models--ORG--NAME/<etag>.lock           flock held while downloading
// LFS files are verified against their sha256 ETag; a mismatch deletes the download.
//
// Thread safety: functions may run concurrently; concurrent downloads of the same blob (also
// from other processes, Python included) are serialised by the lock file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace clipdex::hub {

struct HubConfig {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, without trailing '/'
    std::filesystem::path cache_dir;                  // HF_HUB_CACHE, else $HF_HOME/hub
    bool offline = false;                             // HF_HUB_OFFLINE: never touch the network
    std::string token;  // HF_TOKEN, else $HF_HOME/token; sent as Bearer
    int retries = 3;    // resumed attempts after a dropped connection
    double connect_timeout_s = 30;
    double stall_timeout_s = 60;  // give up when no byte arrives for this long

    // Reads HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, XDG_CACHE_HOME, HF_HUB_OFFLINE, HF_TOKEN,
    // HF_TOKEN_PATH the way huggingface_hub does.
    static HubConfig from_environment();
};

struct DownloadProgress {
    std::string repo;
    std::string file;
    std::uint64_t done = 0;   // bytes of this file on disk, resumed part included
    std::uint64_t total = 0;  // 0 when the size is unknown
    double bytes_per_second = 0;
    bool finished = false;  // last call for this file
};
// Called about ten times a second per file and once with finished = true. An exception thrown
// from it cancels the download (the partial file stays for a later resume) and propagates.
using ProgressCallback = std::function<void(const DownloadProgress&)>;

// A file in a repo at a revision (branch, tag or commit hash).
struct RepoFileRef {
    std::string repo;  // "ORG/NAME"
    std::string revision = "main";
    std::string file;  // path inside the repo, '/' separated
};

// <cache>/models--ORG--NAME.
std::filesystem::path repo_cache_dir(const HubConfig& config, std::string_view repo);

// Throws InvalidInput unless repo is "ORG/NAME" made of [A-Za-z0-9._-] (no "..").
void validate_repo_id(std::string_view repo);

// Commit the cache maps this revision to (refs/<revision>, or the revision itself when it is
// a commit hash with a snapshot), nullopt when unknown.
std::optional<std::string> cached_commit(const HubConfig& config, std::string_view repo,
                                         std::string_view revision);

enum class CacheState { Present, KnownMissing, Unknown };

// Whether a file of a cached commit is there, is known not to exist, or was never asked for.
CacheState cached_file_state(const HubConfig& config, std::string_view repo,
                             std::string_view commit, std::string_view file);

struct DownloadedFile {
    std::filesystem::path path;  // snapshots/<commit>/<file>
    std::string commit;
};

// Makes the file present in the cache and returns where it is. Returns nullopt when the hub
// says the file does not exist in an existing repo (remembered in .no_exist); throws NotFound
// for a missing repo or revision, Unavailable for network trouble, Corrupt for a checksum
// mismatch. Offline (config.offline) it only consults the cache.
std::optional<DownloadedFile> download_file(const HubConfig& config, const RepoFileRef& ref,
                                            const ProgressCallback& progress = {});

// ---- The hub's answers, parsed (used by download_file; exposed for tests and fuzzing) ---------

// The headers of one HTTP answer, fed a line at a time as libcurl hands them over. A status line
// ("HTTP/...") starts a new answer (after a redirect or a 100 Continue) and drops the headers
// before it; the status code itself is set by the caller from libcurl.
struct HubAnswer {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names, trimmed values, last wins

    void add_line(std::string_view line);
    std::string get(const std::string& name) const;  // "" when absent
};

// What the hub's answer to HEAD <endpoint>/<repo>/resolve/<revision>/<file> says of the file.
// commit and etag name folders and files of the cache, so each is one safe path component.
struct HubFileMetadata {
    std::string commit;  // X-Repo-Commit
    std::string etag;    // X-Linked-Etag (LFS: the content's sha256) or ETag, without quotes
    std::uint64_t size = 0;
    bool size_known = false;
    bool lfs = false;
    std::string download_url;  // where the bytes are: the answered URL or its redirect target
};

// Interprets the answer to `url` (the resolve URL after relative redirects). nullopt when the
// hub says the file does not exist in an existing repo; throws NotFound, InvalidInput or
// Unavailable as download_file does, Unavailable when the answer is not a hub's (no commit or
// ETag, one that is no safe file name, a size that is no 64-bit number).
std::optional<HubFileMetadata> file_metadata_from_answer(const HubConfig& config,
                                                         const RepoFileRef& ref,
                                                         const HubAnswer& answer,
                                                         const std::string& url);

// Absolute form of a Location header relative to the URL that answered with it.
std::string absolute_location(const std::string& base, const std::string& location);

}  // namespace clipdex::hub
