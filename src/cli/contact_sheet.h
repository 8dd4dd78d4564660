// A contact sheet of search hits: thumbnails in rank order, rank and score under each (the
// picture the Milvus tutorial shows), written as PNG.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "clipdex/embedder.h"

namespace clipdex::cli {

struct SheetItem {
    int rank = 0;
    float score = 0;
    RgbImage picture;  // empty (0x0) when the image could not be loaded: drawn as a grey box
};

// Columns: up to 5; thumbnails `cell` pixels square, aspect kept, on white.
RgbImage make_contact_sheet(const std::vector<SheetItem>& items, int cell = 160);
void write_png(const RgbImage& picture, const std::filesystem::path& path);

}  // namespace clipdex::cli
