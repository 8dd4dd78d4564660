#include "engine/file_scan.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "common/ascii.h"
#include "common/file_read.h"

namespace clipdex {

namespace fs = std::filesystem;

// A descriptions file of a million entries is about 200 MB; a bigger one is a mistake (or
// /dev/zero) and is refused while reading.
constexpr uint64_t kMaxDescriptionsFileBytes = 256ull << 20;

Descriptions load_descriptions(const fs::path& json_file) {
    const std::string text = read_text_file_bounded(json_file, kMaxDescriptionsFileBytes,
                                                    "descriptions file '" + json_file.string() + "'");
    return engine::parse_descriptions(text, json_file.string());
}

namespace engine {

Descriptions parse_descriptions(std::string_view json_text, const std::string& source) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::InvalidInput,
                    "descriptions file '" + source + "' is not valid JSON: " + e.what());
    }
    if (!doc.is_object())
        throw Error(
            ErrorCode::InvalidInput,
            "descriptions file '" + source + "' must be a JSON object mapping file names to text");
    Descriptions out;
    for (const auto& [key, value] : doc.items()) {
        if (!value.is_string())
            throw Error(ErrorCode::InvalidInput, "descriptions file '" + source + "': value of '" +
                                                     key + "' is not a string");
        out[key] = value.get<std::string>();
    }
    return out;
}

}  // namespace engine

namespace engine {

bool has_image_extension(const fs::path& path) {
    std::string ext = ascii_lower(path.extension().string());
    static const char* const kExtensions[] = {".jpg", ".jpeg", ".png", ".webp",
                                              ".gif", ".bmp",  ".svg"};
    return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                       [&](const char* e) { return ext == e; });
}

std::vector<fs::path> find_images(const fs::path& dir, bool recursive,
                                  std::vector<IndexFailure>& failures) {
    std::error_code ec;
    const fs::path root = fs::absolute(dir, ec).lexically_normal();
    if (ec || !fs::is_directory(root, ec))
        throw Error(ErrorCode::NotFound,
                    "folder '" + dir.string() + "' does not exist or is not a folder");
    std::vector<fs::path> found;
    auto consider = [&](const fs::directory_entry& entry) {
        std::error_code type_ec;
        if (entry.is_regular_file(type_ec) && has_image_extension(entry.path()))
            found.push_back(entry.path());
    };
    const auto options = fs::directory_options::skip_permission_denied;
    if (recursive) {
        fs::recursive_directory_iterator it(root, options, ec), end;
        for (; !ec && it != end; it.increment(ec)) consider(*it);
    } else {
        fs::directory_iterator it(root, options, ec), end;
        for (; !ec && it != end; it.increment(ec)) consider(*it);
    }
    if (ec) failures.push_back({root.string(), "cannot list folder: " + ec.message()});
    std::sort(found.begin(), found.end());
    return found;
}

std::string find_description(const Descriptions& descriptions, const fs::path& file,
                             const fs::path& root) {
    if (descriptions.empty()) return {};
    for (const std::string& key :
         {file.string(), file.lexically_relative(root).string(), file.filename().string()}) {
        auto it = descriptions.find(key);
        if (it != descriptions.end()) return it->second;
    }
    return {};
}

}  // namespace engine
}  // namespace clipdex
