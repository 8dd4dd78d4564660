// The Encoder backed by a ClipModel in this process.
#include <mutex>

#include "clipdex/model.h"
#include "engine/encoder.h"
#include "hub/model_registry.h"

namespace clipdex {

namespace {

class LocalEncoder final : public Encoder {
  public:
    LocalEncoder(std::string name, std::unique_ptr<ClipModel> model)
        : name_(std::move(name)), model_(std::move(model)) {
        const ModelInfo& info = model_->info();
        for (int c = 0; c < 3; ++c) {
            norm_.mean[c] = info.mean[c];
            norm_.std[c] = info.std[c];
        }
    }

    const std::string& name() const override { return name_; }
    int dim() const override { return model_->info().embed_dim; }
    int image_size() const override { return model_->info().image_size; }

    std::vector<float> preprocess(const image::Image& image) const override {
        return image::preprocess(image, image_size(), norm_);
    }
    std::vector<float> encode_texts(std::span<const std::string> texts) override {
        return model_->encode_texts(texts);
    }
    std::vector<float> encode_pixels(std::span<const float> pixels, size_t count) override {
        return model_->encode_images(pixels, count);
    }
    std::vector<float> encode_token_ids(std::span<const int32_t> ids, size_t count) override {
        return model_->encode_token_ids(ids, count);
    }

  private:
    std::string name_;
    std::unique_ptr<ClipModel> model_;
    image::Normalization norm_;
};

// What a collection records as its model: the registry name as written, or for a local
// folder its name (moving the folder must not orphan the collection).
std::string model_identity(const std::string& model, const std::filesystem::path& dir) {
    std::error_code ec;
    if (std::filesystem::is_directory(model, ec)) {
        const auto normal = std::filesystem::absolute(dir).lexically_normal();
        const auto name =
            normal.has_filename() ? normal.filename() : normal.parent_path().filename();
        return "dir:" + name.string();
    }
    return model;
}

}  // namespace

std::shared_ptr<Encoder> make_local_encoder(const std::string& model, int threads,
                                            const DownloadProgressFn& download_progress) {
    std::error_code ec;
    std::filesystem::path dir;
    if (std::filesystem::is_directory(model, ec)) {
        dir = model;
    } else {
        dir = hub::ensure_model(model, [&](const hub::DownloadProgress& p) {
            if (download_progress) download_progress(p.file, p.done, p.total);
        });
    }
    LoadOptions options;
    options.threads = threads;
    return std::make_shared<LocalEncoder>(model_identity(model, dir),
                                          ClipModel::load(dir, options));
}

}  // namespace clipdex
