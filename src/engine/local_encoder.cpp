// The Encoder backed by a ClipModel in this process.
#include <mutex>

#include "clipdex/model.h"
#include "engine/encoder.h"
#include "engine/model_choice.h"
#include "hub/model_registry.h"

namespace clipdex {

namespace {

class LocalEncoder final : public Encoder {
  public:
    LocalEncoder(const std::string& model_arg, std::unique_ptr<ClipModel> model)
        : model_(std::move(model)) {
        identity_ = engine::identity_of(model_arg, model_->info().fingerprint);
        const ModelInfo& info = model_->info();
        for (int c = 0; c < 3; ++c) {
            norm_.mean[c] = info.mean[c];
            norm_.std[c] = info.std[c];
        }
    }

    const std::string& name() const override { return identity_.model; }
    const std::string& fingerprint() const override { return identity_.fingerprint; }
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
    engine::ModelRecord identity_;
    std::unique_ptr<ClipModel> model_;
    image::Normalization norm_;
};

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
    return std::make_shared<LocalEncoder>(model, ClipModel::load(dir, options));
}

}  // namespace clipdex
