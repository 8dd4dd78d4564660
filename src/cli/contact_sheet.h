// A contact sheet of search hits (the picture the Milvus tutorial shows), written as PNG: the query
// at the top (its text, and its picture for an image query), then the hits' thumbnails in rank
// order with rank, score and file name under each.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "clipdex/embedder.h"

namespace clipdex::cli {

struct SheetItem {
    int rank = 0;
    float score = 0;
    std::string name;  // the hit's file name (the last part of its path or URL)
    RgbImage picture;  // empty (0x0) when the image could not be loaded: drawn as a grey box
};

struct SheetQuery {
    std::string text;  // the query text, or the example image's file name or URL
    RgbImage picture;  // the example image; empty for a text query
};

// Columns: up to 5; thumbnails `cell` pixels square, aspect kept, on white. Labels use a small
// ASCII font (bitmap_font.h): other characters show as '?' and long names are shortened.
RgbImage make_contact_sheet(const SheetQuery& query, const std::vector<SheetItem>& items,
                            int cell = 160);
void write_png(const RgbImage& picture, const std::filesystem::path& path);

}  // namespace clipdex::cli
