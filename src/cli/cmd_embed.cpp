// `clipdex embed`: prints or saves L2-normalized embeddings of texts and images, one row per
// input in command-line order. --ids-npy / --pixels-npy feed token ids and preprocessed pixels
// directly, so tests can compare the towers with a reference on identical inputs.
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/engine_access.h"
#include "cli/npy.h"
#include "clipdex/embedder.h"
#include "clipdex/error.h"

namespace clipdex::cli {

namespace {

struct EmbedOptions {
    std::vector<std::string> texts, images, ids_files, pixel_files;
    bool json = false;
    std::string npy;
};

struct Item {
    std::string kind, input;
    std::vector<float> embedding;
};

// Appends one item per row of `rows` (n x dim), labelled `label` or `label[i]` for several.
void add_rows(std::vector<Item>& items, const std::string& kind, const std::string& label,
              const std::vector<float>& rows, size_t dim) {
    const size_t n = dim == 0 ? 0 : rows.size() / dim;
    for (size_t i = 0; i < n; ++i) {
        std::string name = n == 1 && kind != "ids" && kind != "pixels"
                               ? label
                               : label + "[" + std::to_string(i) + "]";
        items.push_back({kind, name,
                         std::vector<float>(rows.begin() + static_cast<ptrdiff_t>(i * dim),
                                            rows.begin() + static_cast<ptrdiff_t>((i + 1) * dim))});
    }
}

std::vector<float> encode_ids_file(Embedder& embedder, const std::string& file) {
    NpyArray a = read_npy(file);
    if (a.shape.size() != 2 && a.shape.size() != 1)
        throw Error(ErrorCode::InvalidInput, file + ": token ids must be [n, length] or [length]");
    size_t n = a.shape.size() == 2 ? static_cast<size_t>(a.shape[0]) : 1;
    return embedder.encode_token_ids(npy_as_i32(a, file), n);
}

std::vector<float> encode_pixels_file(Embedder& embedder, const std::string& file) {
    NpyArray a = read_npy(file);
    const int64_t s = embedder.image_size();
    if (a.shape.size() != 4 || a.shape[1] != 3 || a.shape[2] != s || a.shape[3] != s)
        throw Error(ErrorCode::InvalidInput, file + ": pixels must be [n, 3, " + std::to_string(s) +
                                                 ", " + std::to_string(s) + "] float32");
    return embedder.encode_pixels(npy_as_f32(a, file), static_cast<size_t>(a.shape[0]));
}

void write_json(const Embedder& embedder, const std::vector<Item>& items) {
    nlohmann::json out;
    out["model"] = embedder.model_name();
    out["embed_dim"] = embedder.dim();
    out["items"] = nlohmann::json::array();
    for (const Item& item : items)
        out["items"].push_back(
            {{"kind", item.kind}, {"input", item.input}, {"embedding", item.embedding}});
    std::cout << out.dump() << "\n";
}

void run_embed(const GlobalOptions& global, const EmbedOptions& opt, const CLI::App& sub) {
    // The model resolves as for every other command (registry name, hf-hub:, directory); the
    // images decode under the engine's limits. No store is opened.
    auto embedder = open_embedder(global);
    const size_t dim = static_cast<size_t>(embedder->dim());
    std::vector<Item> items;
    size_t next_text = 0, next_image = 0, next_ids = 0, next_pixels = 0;
    // parse_order() lists each option once per value, so inputs keep their command-line order.
    for (const CLI::Option* option : sub.parse_order()) {
        const std::string name = option->get_name();
        if (name == "--text") {
            const std::string& text = opt.texts.at(next_text++);
            add_rows(items, "text", text,
                     embedder->encode_texts(std::span<const std::string>(&text, 1)), dim);
        } else if (name == "--image") {
            const std::filesystem::path file = opt.images.at(next_image++);
            add_rows(items, "image", file.string(), embedder->encode_image_file(file), dim);
        } else if (name == "--ids-npy") {
            const std::string& file = opt.ids_files.at(next_ids++);
            add_rows(items, "ids", file, encode_ids_file(*embedder, file), dim);
        } else if (name == "--pixels-npy") {
            const std::string& file = opt.pixel_files.at(next_pixels++);
            add_rows(items, "pixels", file, encode_pixels_file(*embedder, file), dim);
        }
    }
    if (items.empty())
        throw Error(ErrorCode::InvalidInput,
                    "embed: give at least one --text, --image, --ids-npy or --pixels-npy");
    if (!opt.npy.empty()) {
        std::vector<float> all;
        all.reserve(items.size() * dim);
        for (const Item& item : items)
            all.insert(all.end(), item.embedding.begin(), item.embedding.end());
        write_npy_f32(opt.npy, all, items.size(), dim);
        if (!opt.json) return;
    }
    write_json(*embedder, items);
}

}  // namespace

void register_embed(CLI::App& app, GlobalOptions& global) {
    auto opt = std::make_shared<EmbedOptions>();
    CLI::App* sub = app.add_subcommand(
        "embed", "print embeddings of texts and images (JSON or .npy), in input order");
    sub->add_option("--text", opt->texts, "a text to embed (repeatable)")
        ->take_all()
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    sub->add_option("--image", opt->images, "an image file to embed (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->expected(1);
    sub->add_option("--ids-npy", opt->ids_files,
                    "token ids [n, length] in a .npy file (repeatable)")
        ->expected(1);
    sub->add_option("--pixels-npy", opt->pixel_files,
                    "preprocessed pixels [n, 3, S, S] float32 .npy (repeatable)")
        ->expected(1);
    sub->add_flag("--json", opt->json, "print JSON (the default unless --npy is given)");
    sub->add_option("--npy", opt->npy, "write an [n, embed_dim] float32 .npy file");
    sub->callback([&global, opt, sub] { run_embed(global, *opt, *sub); });
}

}  // namespace clipdex::cli
