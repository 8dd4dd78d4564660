// Private helpers shared by the URL fetcher and the model downloader: libcurl handles with
// RAII, one-time global initialisation, URL normalisation and small formatting helpers.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace clipdex::hub::detail {

// curl_global_init is not thread-safe on every libcurl build, so every handle is created
// through here, which initialises it exactly once per process.
void ensure_curl_initialised();

struct CurlEasyDeleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

// Header list that owns its nodes; append() keeps the head when curl_slist_append succeeds.
class CurlHeaders {
  public:
    void append(const std::string& line);
    curl_slist* get() const noexcept { return list_.get(); }

  private:
    std::unique_ptr<curl_slist, CurlSlistDeleter> list_;
};

CurlEasy make_easy_handle();

// Percent-encodes the bytes a URL may not carry raw (spaces, controls, non-ASCII such as
// Chinese or emoji in UTF-8, and a few delimiters), leaving valid %XX escapes untouched so
// that an already-encoded URL is not encoded twice. The authority part is left alone.
std::string encode_url(std::string_view url);

// Lower-cased scheme of a URL ("" when it has none).
std::string url_scheme(std::string_view url);

// "64 MB", "512 KB", "17 bytes": limits as users write them.
std::string describe_size(std::uint64_t bytes);

// "10 s", "1.5 s".
std::string describe_seconds(double seconds);

// Splits "Name: value\r\n" into a trimmed name and value; false when the line is no header.
bool split_header(std::string_view line, std::string& name, std::string& value);

// 301, 302, 303, 307 and 308: the statuses whose Location the downloads follow.
bool is_redirect(long status);

}  // namespace clipdex::hub::detail
