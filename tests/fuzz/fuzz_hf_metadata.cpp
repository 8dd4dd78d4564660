// Hugging Face hub answers (src/hub/hf_download.*): the input is the header block of the hub's
// answer to HEAD <endpoint>/<repo>/resolve/<revision>/<file>, fed line by line as libcurl feeds
// it, the status taken from the last status line as libcurl would. Interpreting it fails with
// clipdex::Error or gives metadata whose commit and ETag are safe single path components (they
// name cache folders and files), whose size is the header's number, and whose download URL
// stays on the hub unless the hub redirected to an absolute URL. Relative redirects must stay
// on the hub's origin too.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "clipdex/error.h"
#include "hub/hf_download.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool safe_component(const std::string& value) {
    if (value.empty() || value == "." || value == ".." || value.size() > 255) return false;
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) return false;
    }
    return std::filesystem::path(value).filename() == value;
}

std::string without_leading_zeros(const std::string& digits) {
    const size_t first = digits.find_first_not_of('0');
    return first == std::string::npos ? "0" : digits.substr(first);
}

long status_of(std::string_view line) {
    // "HTTP/1.1 302 Found": the three digits after the first space.
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.size() < space + 4) return 0;
    long status = 0;
    for (size_t i = space + 1; i < space + 4; ++i) {
        if (line[i] < '0' || line[i] > '9') return 0;
        status = status * 10 + (line[i] - '0');
    }
    return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace clipdex::hub;
    const std::string_view block(reinterpret_cast<const char*>(data), size);
    HubAnswer answer;
    answer.status = 200;
    size_t pos = 0;
    while (pos < block.size()) {
        const size_t nl = block.find('\n', pos);
        const size_t end = nl == std::string_view::npos ? block.size() : nl + 1;
        const std::string_view line = block.substr(pos, end - pos);
        if (line.starts_with("HTTP/")) answer.status = status_of(line);
        answer.add_line(line);
        pos = end;
    }
    HubConfig config;
    config.cache_dir = "/nonexistent/clipdex-fuzz-cache";
    const RepoFileRef ref{"org/name", "main", "open_clip_config.json"};
    const std::string origin = config.endpoint + "/";
    const std::string url = origin + "org/name/resolve/main/open_clip_config.json";

    const std::string location = answer.get("location");
    if (location.find("://") == std::string::npos)
        check(absolute_location(url, location).starts_with(origin));

    try {
        const auto meta = file_metadata_from_answer(config, ref, answer, url);
        if (!meta) {
            check(answer.status == 404);
            return 0;
        }
        check(safe_component(meta->commit) && safe_component(meta->etag));
        const std::string size_text = answer.get(meta->lfs ? "x-linked-size" : "content-length");
        if (meta->size_known) check(std::to_string(meta->size) == without_leading_zeros(size_text));
        if (location.find("://") == std::string::npos)
            check(meta->download_url.starts_with(origin));
    } catch (const clipdex::Error&) {
    }
    return 0;
}
