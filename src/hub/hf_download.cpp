#include "hub/hf_download.h"

#include "clipdex/error.h"
#include "common/hash.h"
#include "hub/curl_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <system_error>
#include <vector>
#include "common/ascii.h"

namespace clipdex::hub {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
using detail::CurlEasy;
using detail::is_redirect;

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

bool env_truthy(const char* name) {
    std::string value = ascii_lower(env(name));
    return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string read_first_line(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
        line.pop_back();
    }
    return line;
}

bool is_hex_of_length(std::string_view text, std::size_t length) {
    return text.size() == length && std::all_of(text.begin(), text.end(), [](char c) {
               return std::isxdigit(static_cast<unsigned char>(c)) != 0;
           });
}

// Temporary names unique across processes and threads sharing one cache.
std::string unique_suffix() {
    static std::atomic<unsigned> counter{0};
    return ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Writes through a temporary name and renames, so readers never see half a file.
void write_atomically(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    const fs::path temp = path.string() + unique_suffix();
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out.flush()) {
            throw Error(ErrorCode::Io, "cannot write '" + temp.string() + "'");
        }
    }
    fs::rename(temp, path);
}

void validate_file_name(const RepoFileRef& ref) {
    const fs::path path(ref.file);
    const bool bad = ref.file.empty() || path.is_absolute() ||
                     std::any_of(path.begin(), path.end(),
                                 [](const fs::path& part) { return part == ".." || part == "."; });
    if (bad) {
        throw Error(ErrorCode::InvalidInput,
                    "repo '" + ref.repo + "': invalid file name '" + ref.file + "'");
    }
}

// flock() on the lock file huggingface_hub uses (Python's filelock also uses flock), so a
// Python download and ours never write the same blob at once.
class FileLock {
  public:
    explicit FileLock(const fs::path& path) {
        fs::create_directories(path.parent_path());
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) {
            if (fd_ >= 0) {
                ::close(fd_);
            }
            throw Error(ErrorCode::Io, "cannot lock '" + path.string() + "'");
        }
    }
    ~FileLock() {
        ::flock(fd_, LOCK_UN);
        ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    int fd_ = -1;
};

// ---- HTTP --------------------------------------------------------------------------------

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<HubAnswer*>(user)->add_line(std::string_view(data, size * count));
    return size * count;
}

std::string describe_curl_failure(CURLcode code, const std::array<char, CURL_ERROR_SIZE>& message) {
    return message[0] != '\0' ? std::string(message.data()) : std::string(curl_easy_strerror(code));
}

void set_common_options(CURL* curl, const HubConfig& config, const std::string& url,
                        detail::CurlHeaders& headers, bool send_token) {
    headers.append("Accept-Encoding: identity");  // ETag and sizes refer to the raw bytes
    if (send_token && !config.token.empty()) {
        headers.append("Authorization: Bearer " + config.token);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "clipdex/0.1; hf_hub-compatible");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(config.connect_timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(config.stall_timeout_s)));
}

using Metadata = HubFileMetadata;

std::string normalise_etag(std::string etag) {
    if (etag.rfind("W/", 0) == 0) {
        etag.erase(0, 2);
    }
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return etag;
}

std::string resolve_url(const HubConfig& config, const RepoFileRef& ref) {
    return detail::encode_url(config.endpoint + "/" + ref.repo + "/resolve/" + ref.revision + "/" +
                              ref.file);
}

HubAnswer head_request(const HubConfig& config, const std::string& url, const RepoFileRef& ref) {
    CurlEasy handle = detail::make_easy_handle();
    detail::CurlHeaders request_headers;
    set_common_options(handle.get(), config, url, request_headers, true);
    HubAnswer headers;
    std::array<char, CURL_ERROR_SIZE> message{};
    curl_easy_setopt(handle.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(handle.get(), CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(handle.get(), CURLOPT_TIMEOUT_MS,
                     static_cast<long>((config.connect_timeout_s + config.stall_timeout_s) * 1000));
    curl_easy_setopt(handle.get(), CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(handle.get(), CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt(handle.get(), CURLOPT_ERRORBUFFER, message.data());
    const CURLcode code = curl_easy_perform(handle.get());
    if (code != CURLE_OK) {
        throw Error(ErrorCode::Unavailable, "cannot reach the hub for '" + ref.repo + "/" +
                                                ref.file + "' at " + url + ": " +
                                                describe_curl_failure(code, message));
    }
    curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &headers.status);
    return headers;
}

// Marks "file does not exist at this commit" like huggingface_hub, so neither tool asks again.
void remember_missing(const HubConfig& config, const RepoFileRef& ref, const std::string& commit) {
    if (!is_hex_of_length(commit, 40)) {
        return;
    }
    const fs::path marker =
        repo_cache_dir(config, ref.repo) / ".no_exist" / commit / fs::path(ref.file);
    std::error_code ignored;
    fs::create_directories(marker.parent_path(), ignored);
    std::ofstream touch(marker, std::ios::app);
}

[[noreturn]] void throw_http_error(const HubConfig& config, const RepoFileRef& ref,
                                   const HubAnswer& headers, const std::string& url) {
    const std::string code = headers.get("x-error-code");
    const std::string status = "HTTP " + std::to_string(headers.status);
    const std::string server_message = headers.get("x-error-message");
    const std::string suffix = server_message.empty() ? "" : " (" + server_message + ")";
    if (code == "RepoNotFound") {
        throw Error(ErrorCode::NotFound, "model repository '" + ref.repo + "' not found at " +
                                             config.endpoint + " (" + status +
                                             "); if it is private or gated, set HF_TOKEN");
    }
    if (code == "RevisionNotFound") {
        throw Error(ErrorCode::NotFound, "revision '" + ref.revision + "' of repository '" +
                                             ref.repo + "' not found at " + config.endpoint + " (" +
                                             status + ")");
    }
    if (headers.status == 401 || headers.status == 403) {
        throw Error(ErrorCode::InvalidInput,
                    "access to '" + ref.repo + "' denied by " + config.endpoint + " (" + status +
                        ")" + suffix +
                        (config.token.empty() ? "; set HF_TOKEN" : "; check HF_TOKEN"));
    }
    if (headers.status == 404) {
        throw Error(ErrorCode::NotFound, "'" + ref.file + "' or repository '" + ref.repo +
                                             "' not found at " + url + " (" + status + ")" +
                                             suffix);
    }
    throw Error(headers.status >= 500 || headers.status == 429 ? ErrorCode::Unavailable
                                                               : ErrorCode::InvalidInput,
                "hub request for '" + ref.repo + "/" + ref.file + "' at " + url +
                    " failed: " + status + suffix);
}

// HEAD on the resolve URL, following only relative redirects (renamed repos) as
// huggingface_hub does; an absolute redirect points at the CDN holding an LFS file.
std::optional<Metadata> fetch_metadata(const HubConfig& config, const RepoFileRef& ref) {
    std::string url = resolve_url(config, ref);
    HubAnswer headers;
    for (int hops = 0;; ++hops) {
        headers = head_request(config, url, ref);
        const std::string location = headers.get("location");
        const bool relative = !location.empty() && location.find("://") == std::string::npos;
        if (!(is_redirect(headers.status) && relative) || hops >= 5) {
            break;
        }
        url = absolute_location(url, location);
    }
    std::optional<Metadata> meta = file_metadata_from_answer(config, ref, headers, url);
    if (!meta) {
        remember_missing(config, ref, headers.get("x-repo-commit"));
    }
    return meta;
}

// A value that names a folder or file of the cache: not empty, ".", ".." or too long, and no
// separator or control character, so a hub's answer cannot point a write outside the cache.
bool is_safe_component(std::string_view value) {
    return !value.empty() && value.size() <= 255 && value != "." && value != ".." &&
           std::none_of(value.begin(), value.end(), [](char c) {
               const auto u = static_cast<unsigned char>(c);
               return c == '/' || c == '\\' || u < 0x20 || u == 0x7f;
           });
}

// ---- download ----------------------------------------------------------------------------

struct FileCloser {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};

struct Sink {
    std::unique_ptr<std::FILE, FileCloser> file;
    CURL* curl = nullptr;
    std::uint64_t start_offset = 0;  // bytes already on disk when this attempt began
    std::uint64_t written = 0;       // bytes written by this attempt
    bool checked_status = false;
    bool restarted = false;  // the server ignored Range: the file was truncated
    bool write_failed = false;
    long status = 0;
    // progress
    const ProgressCallback* progress = nullptr;
    DownloadProgress report;
    Clock::time_point started = Clock::now();
    Clock::time_point last_report{};
    std::exception_ptr callback_error;  // thrown by the progress callback: cancels the transfer
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t length = size * count;
    if (!sink->checked_status) {
        sink->checked_status = true;
        curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &sink->status);
        if (sink->status >= 300) {
            return length;  // an error page: not written, the status is reported after
        }
        if (sink->status == 200 && sink->start_offset > 0) {
            // The server sent the whole file instead of the requested range.
            if (::ftruncate(::fileno(sink->file.get()), 0) != 0 ||
                std::fseek(sink->file.get(), 0, SEEK_SET) != 0) {
                sink->write_failed = true;
                return 0;
            }
            sink->start_offset = 0;
            sink->restarted = true;
        }
    }
    if (sink->status >= 300) {
        return length;
    }
    if (std::fwrite(data, 1, length, sink->file.get()) != length) {
        sink->write_failed = true;
        return 0;
    }
    sink->written += length;
    return length;
}

void report_progress(Sink& sink, bool finished) {
    if (sink.progress == nullptr || !*sink.progress) {
        return;
    }
    const auto now = Clock::now();
    if (!finished && now - sink.last_report < std::chrono::milliseconds(100)) {
        return;
    }
    sink.last_report = now;
    const double seconds = std::chrono::duration<double>(now - sink.started).count();
    sink.report.done = sink.start_offset + sink.written;
    sink.report.bytes_per_second = seconds > 0 ? static_cast<double>(sink.written) / seconds : 0;
    sink.report.finished = finished;
    (*sink.progress)(sink.report);
}

// Exceptions must not cross libcurl's C frames: they are kept and rethrown after the transfer.
int on_transfer_info(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* sink = static_cast<Sink*>(user);
    try {
        report_progress(*sink, false);
    } catch (...) {
        sink->callback_error = std::current_exception();
        return 1;  // aborts the transfer with CURLE_ABORTED_BY_CALLBACK
    }
    return 0;
}

enum class AttemptResult { Complete, Retry };

std::uint64_t file_size_or_zero(const fs::path& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    return error ? 0 : size;
}

bool same_origin(const std::string& url, const std::string& endpoint) {
    return url.rfind(endpoint + "/", 0) == 0;
}

// One GET of the remaining bytes into the .incomplete file. Transient failures (dropped
// connection, stall, 5xx) ask for a retry, which resumes where this attempt stopped.
AttemptResult download_attempt(const HubConfig& config, const RepoFileRef& ref,
                               const Metadata& meta, const fs::path& incomplete,
                               const ProgressCallback& progress, std::string& last_error) {
    Sink sink;
    sink.start_offset = file_size_or_zero(incomplete);
    if (meta.size_known && sink.start_offset > meta.size) {
        fs::remove(incomplete);
        sink.start_offset = 0;
    }
    sink.file.reset(std::fopen(incomplete.c_str(), "ab"));
    if (!sink.file) {
        throw Error(ErrorCode::Io, "cannot write '" + incomplete.string() + "'");
    }
    if (meta.size_known && sink.start_offset == meta.size) {
        return AttemptResult::Complete;
    }
    CurlEasy handle = detail::make_easy_handle();
    sink.curl = handle.get();
    sink.progress = &progress;
    sink.report.repo = ref.repo;
    sink.report.file = ref.file;
    sink.report.total = meta.size_known ? meta.size : 0;
    detail::CurlHeaders request_headers;
    if (sink.start_offset > 0) {
        request_headers.append("Range: bytes=" + std::to_string(sink.start_offset) + "-");
    }
    // The token goes to the hub only; a CDN URL is pre-signed and must not see it.
    set_common_options(handle.get(), config, meta.download_url, request_headers,
                       same_origin(meta.download_url, config.endpoint));
    std::array<char, CURL_ERROR_SIZE> message{};
    curl_easy_setopt(handle.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(handle.get(), CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(handle.get(), CURLOPT_WRITEFUNCTION, &on_data);
    curl_easy_setopt(handle.get(), CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(handle.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle.get(), CURLOPT_XFERINFOFUNCTION, &on_transfer_info);
    curl_easy_setopt(handle.get(), CURLOPT_XFERINFODATA, &sink);
    curl_easy_setopt(handle.get(), CURLOPT_ERRORBUFFER, message.data());
    const CURLcode code = curl_easy_perform(handle.get());
    std::fflush(sink.file.get());
    long status = 0;
    curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status);
    if (sink.callback_error) {
        std::rethrow_exception(sink.callback_error);
    }
    if (sink.write_failed) {
        throw Error(ErrorCode::Io, "cannot write '" + incomplete.string() + "'");
    }
    if (code == CURLE_OK && status == 416) {
        sink.file.reset();
        fs::remove(incomplete);  // our partial file does not match what the server has
        last_error = "HTTP 416 for the requested range";
        return AttemptResult::Retry;
    }
    if (code == CURLE_OK && status >= 400 && status < 500) {
        throw Error(status == 404 ? ErrorCode::NotFound : ErrorCode::InvalidInput,
                    "downloading '" + ref.repo + "/" + ref.file + "' from " + meta.download_url +
                        " failed: HTTP " + std::to_string(status));
    }
    if (code != CURLE_OK || status >= 500) {
        last_error = code != CURLE_OK ? describe_curl_failure(code, message)
                                      : "HTTP " + std::to_string(status);
        return AttemptResult::Retry;
    }
    report_progress(sink, true);
    return AttemptResult::Complete;
}

void verify_download(const RepoFileRef& ref, const Metadata& meta, const fs::path& incomplete) {
    const std::uint64_t size = file_size_or_zero(incomplete);
    std::string problem;
    if (meta.size_known && size != meta.size) {
        problem = "size " + std::to_string(size) + " bytes does not match the hub's " +
                  std::to_string(meta.size);
    } else if (is_hex_of_length(meta.etag, 64)) {
        std::string expected = ascii_lower(meta.etag);
        const std::string actual = sha256_file_hex(incomplete);
        if (actual != expected) {
            problem = "sha256 " + actual + " does not match the hub's " + expected;
        }
    }
    if (!problem.empty()) {
        std::error_code ignored;
        fs::remove(incomplete, ignored);
        throw Error(ErrorCode::Corrupt, "download of '" + ref.repo + "/" + ref.file + "' from " +
                                            meta.download_url + " is corrupt: " + problem +
                                            "; the partial file was deleted, try again");
    }
}

void fetch_blob(const HubConfig& config, const RepoFileRef& ref, const Metadata& meta,
                const fs::path& blob, const ProgressCallback& progress) {
    const fs::path incomplete = blob.string() + ".incomplete";
    std::string last_error;
    for (int attempt = 0; attempt <= std::max(0, config.retries); ++attempt) {
        if (download_attempt(config, ref, meta, incomplete, progress, last_error) ==
            AttemptResult::Complete) {
            verify_download(ref, meta, incomplete);
            fs::rename(incomplete, blob);
            return;
        }
    }
    throw Error(ErrorCode::Unavailable, "download of '" + ref.repo + "/" + ref.file + "' from " +
                                            meta.download_url + " failed: " + last_error + " (" +
                                            std::to_string(file_size_or_zero(incomplete)) +
                                            " bytes kept in " + incomplete.string() +
                                            "; run again to resume)");
}

// snapshots/<commit>/<file> -> ../../blobs/<etag> (deeper files get more "../"), replaced
// atomically so a reader never finds the link missing.
void link_snapshot(const fs::path& blob, const fs::path& pointer) {
    fs::create_directories(pointer.parent_path());
    const fs::path target = fs::relative(blob, pointer.parent_path());
    const fs::path temp = pointer.string() + unique_suffix();
    std::error_code ignored;
    fs::remove(temp, ignored);
    fs::create_symlink(target, temp);
    fs::rename(temp, pointer);
}

std::optional<DownloadedFile> from_cache(const HubConfig& config, const RepoFileRef& ref) {
    const auto commit = cached_commit(config, ref.repo, ref.revision);
    if (!commit) {
        return std::nullopt;
    }
    if (cached_file_state(config, ref.repo, *commit, ref.file) == CacheState::Present) {
        return DownloadedFile{
            repo_cache_dir(config, ref.repo) / "snapshots" / *commit / fs::path(ref.file), *commit};
    }
    return std::nullopt;
}

std::optional<DownloadedFile> download_online(const HubConfig& config, const RepoFileRef& ref,
                                              const ProgressCallback& progress) {
    std::optional<Metadata> meta;
    try {
        meta = fetch_metadata(config, ref);
    } catch (const Error& error) {
        // Like huggingface_hub: an unreachable hub is no reason to ignore a cached copy.
        if (error.code() == ErrorCode::Unavailable) {
            if (auto cached = from_cache(config, ref)) {
                return cached;
            }
        }
        throw;
    }
    if (!meta) {
        return std::nullopt;
    }
    const fs::path repo_dir = repo_cache_dir(config, ref.repo);
    if (ref.revision != meta->commit) {
        write_atomically(repo_dir / "refs" / ref.revision, meta->commit);
    }
    const fs::path blob = repo_dir / "blobs" / meta->etag;
    const fs::path pointer = repo_dir / "snapshots" / meta->commit / fs::path(ref.file);
    if (!fs::exists(blob)) {
        const fs::path lock =
            config.cache_dir / ".locks" / repo_dir.filename() / (meta->etag + ".lock");
        FileLock held(lock);
        if (!fs::exists(blob)) {  // another process may have finished it while we waited
            fs::create_directories(blob.parent_path());
            fetch_blob(config, ref, *meta, blob, progress);
        }
    }
    if (!fs::exists(pointer)) {
        link_snapshot(blob, pointer);
    }
    return DownloadedFile{pointer, meta->commit};
}

}  // namespace

HubConfig HubConfig::from_environment() {
    HubConfig config;
    if (std::string endpoint = env("HF_ENDPOINT"); !endpoint.empty()) {
        while (!endpoint.empty() && endpoint.back() == '/') {
            endpoint.pop_back();
        }
        config.endpoint = endpoint;
    }
    const std::string home = env("HOME");
    const std::string xdg = env("XDG_CACHE_HOME");
    const fs::path default_cache =
        !xdg.empty() ? fs::path(xdg) : fs::path(home.empty() ? "/tmp" : home) / ".cache";
    const fs::path hf_home =
        !env("HF_HOME").empty() ? fs::path(env("HF_HOME")) : default_cache / "huggingface";
    if (!env("HF_HUB_CACHE").empty()) {
        config.cache_dir = env("HF_HUB_CACHE");
    } else if (!env("HUGGINGFACE_HUB_CACHE").empty()) {
        config.cache_dir = env("HUGGINGFACE_HUB_CACHE");
    } else {
        config.cache_dir = hf_home / "hub";
    }
    config.offline = env_truthy("HF_HUB_OFFLINE");
    config.token = env("HF_TOKEN");
    if (config.token.empty()) {
        config.token = env("HUGGING_FACE_HUB_TOKEN");
    }
    if (config.token.empty()) {
        const fs::path token_file =
            !env("HF_TOKEN_PATH").empty() ? fs::path(env("HF_TOKEN_PATH")) : hf_home / "token";
        std::error_code ignored;
        if (fs::is_regular_file(token_file, ignored)) {
            config.token = read_first_line(token_file);
        }
    }
    return config;
}

void validate_repo_id(std::string_view repo) {
    const auto valid_part = [](std::string_view part) {
        return !part.empty() && part.size() <= 96 && part != "." && part != ".." &&
               part.find("..") == std::string_view::npos &&
               std::all_of(part.begin(), part.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' ||
                          c == '_' || c == '.';
               });
    };
    const std::size_t slash = repo.find('/');
    if (slash == std::string_view::npos || !valid_part(repo.substr(0, slash)) ||
        !valid_part(repo.substr(slash + 1))) {
        throw Error(ErrorCode::InvalidInput,
                    "'" + std::string(repo) + "' is not a Hugging Face repo id (ORG/NAME)");
    }
}

fs::path repo_cache_dir(const HubConfig& config, std::string_view repo) {
    std::string folder = "models--";
    for (char c : repo) {
        folder += c == '/' ? std::string("--") : std::string(1, c);
    }
    return config.cache_dir / folder;
}

std::optional<std::string> cached_commit(const HubConfig& config, std::string_view repo,
                                         std::string_view revision) {
    const fs::path repo_dir = repo_cache_dir(config, repo);
    std::error_code ignored;
    const fs::path ref = repo_dir / "refs" / fs::path(std::string(revision));
    if (fs::is_regular_file(ref, ignored)) {
        std::string commit = read_first_line(ref);
        if (!commit.empty()) {
            return commit;
        }
    }
    if (is_hex_of_length(revision, 40) &&
        fs::is_directory(repo_dir / "snapshots" / std::string(revision), ignored)) {
        return std::string(revision);
    }
    return std::nullopt;
}

CacheState cached_file_state(const HubConfig& config, std::string_view repo,
                             std::string_view commit, std::string_view file) {
    const fs::path repo_dir = repo_cache_dir(config, repo);
    std::error_code ignored;
    if (fs::exists(repo_dir / "snapshots" / std::string(commit) / fs::path(std::string(file)),
                   ignored)) {
        return CacheState::Present;  // exists() follows the link: a dangling one does not count
    }
    if (fs::exists(repo_dir / ".no_exist" / std::string(commit) / fs::path(std::string(file)),
                   ignored)) {
        return CacheState::KnownMissing;
    }
    return CacheState::Unknown;
}

std::optional<DownloadedFile> download_file(const HubConfig& config, const RepoFileRef& ref,
                                            const ProgressCallback& progress) {
    validate_repo_id(ref.repo);
    validate_file_name(ref);
    const std::string scheme = detail::url_scheme(config.endpoint);
    if (scheme != "http" && scheme != "https") {
        throw Error(ErrorCode::InvalidInput, "hub endpoint '" + config.endpoint +
                                                 "' (HF_ENDPOINT) must be an http or https URL");
    }
    if (!config.offline) {
        return download_online(config, ref, progress);
    }
    if (auto cached = from_cache(config, ref)) {
        return cached;
    }
    const auto commit = cached_commit(config, ref.repo, ref.revision);
    if (commit &&
        cached_file_state(config, ref.repo, *commit, ref.file) == CacheState::KnownMissing) {
        return std::nullopt;
    }
    throw Error(ErrorCode::NotFound,
                "'" + ref.file + "' of '" + ref.repo + "' is not in the cache at " +
                    repo_cache_dir(config, ref.repo).string() + " and HF_HUB_OFFLINE=1");
}

void HubAnswer::add_line(std::string_view line) {
    if (line.rfind("HTTP/", 0) == 0) {
        headers.clear();  // a new response (after a redirect or a 100 Continue)
        return;
    }
    std::string name;
    std::string value;
    if (detail::split_header(line, name, value)) {
        headers[ascii_lower(name)] = value;
    }
}

std::string HubAnswer::get(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

std::optional<HubFileMetadata> file_metadata_from_answer(const HubConfig& config,
                                                         const RepoFileRef& ref,
                                                         const HubAnswer& answer,
                                                         const std::string& url) {
    if (answer.status == 404 && answer.get("x-error-code") != "RepoNotFound" &&
        answer.get("x-error-code") != "RevisionNotFound") {
        return std::nullopt;
    }
    if (answer.status >= 400 || (answer.status >= 300 && !is_redirect(answer.status))) {
        throw_http_error(config, ref, answer, url);
    }
    const auto not_a_hub = [&](const std::string& why) {
        return Error(ErrorCode::Unavailable,
                     "'" + url + "' did not answer like a Hugging Face hub (" + why +
                         "); check HF_ENDPOINT and any proxy in between");
    };
    HubFileMetadata meta;
    meta.commit = answer.get("x-repo-commit");
    meta.lfs = !answer.get("x-linked-etag").empty();
    meta.etag = normalise_etag(meta.lfs ? answer.get("x-linked-etag") : answer.get("etag"));
    const std::string size_header = meta.lfs ? "x-linked-size" : "content-length";
    const std::string size = answer.get(size_header);
    if (!size.empty() && std::all_of(size.begin(), size.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
        const auto [end, status] =
            std::from_chars(size.data(), size.data() + size.size(), meta.size);
        if (status != std::errc() || end != size.data() + size.size()) {
            throw not_a_hub(size_header + " '" + size + "' is no 64-bit size");
        }
        meta.size_known = true;
    }
    meta.download_url =
        is_redirect(answer.status) ? absolute_location(url, answer.get("location")) : url;
    if (meta.commit.empty() || meta.etag.empty()) {
        throw not_a_hub("no X-Repo-Commit or ETag header");
    }
    if (!is_safe_component(meta.commit) || !is_safe_component(meta.etag)) {
        throw not_a_hub("X-Repo-Commit or ETag is not a plain name: '" + meta.commit.substr(0, 80) +
                        "', '" + meta.etag.substr(0, 80) + "'");
    }
    return meta;
}

std::string absolute_location(const std::string& base, const std::string& location) {
    if (location.find("://") != std::string::npos) {
        return location;
    }
    const std::size_t scheme_end = base.find("://");
    const std::size_t path_start =
        base.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    const std::string origin = path_start == std::string::npos ? base : base.substr(0, path_start);
    return origin + (location.rfind('/', 0) == 0 ? "" : "/") + location;
}

}  // namespace clipdex::hub
