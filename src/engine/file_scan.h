// Finding image files under folders, with UTF-8 names of any kind (spaces, CJK, emoji).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "clipdex/engine.h"

namespace clipdex::engine {

// By extension, case-insensitive: jpg jpeg png webp gif bmp svg (content is sniffed later).
bool has_image_extension(const std::filesystem::path& path);

// Sorted, absolute and lexically normal paths. Unreadable folders are reported, not fatal;
// symbolic links to folders are not followed (no loops).
std::vector<std::filesystem::path> find_images(const std::filesystem::path& dir, bool recursive,
                                               std::vector<IndexFailure>& failures);

// load_descriptions on the file's text; errors name the file as `source`. For tests and fuzzing.
Descriptions parse_descriptions(std::string_view json_text, const std::string& source);

// Description for a file: by absolute path, then path relative to `root`, then file name.
std::string find_description(const Descriptions& descriptions, const std::filesystem::path& file,
                             const std::filesystem::path& root);

}  // namespace clipdex::engine
