#include <utility>

#include "clipdex/error.h"
#include "engine/embedder_impl.h"

namespace clipdex {

image::DecodeLimits decode_limits_for(uint64_t max_image_bytes, uint64_t max_image_pixels,
                                      const Encoder& encoder) {
    image::DecodeLimits limits;
    limits.max_file_bytes = max_image_bytes;
    limits.max_pixels = max_image_pixels;
    limits.svg_min_size = encoder.image_size();
    return limits;
}

std::vector<float> Embedder::Impl::encode_image(const image::Image& image) const {
    const std::vector<float> pixels = encoder->preprocess(image);
    return encoder->encode_pixels(pixels, 1);
}

std::unique_ptr<Embedder> Embedder::open(const EmbedderOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->encoder = make_local_encoder(options.model.empty() ? kDefaultModel : options.model,
                                       options.threads, options.download_progress);
    impl->limits =
        decode_limits_for(options.max_image_bytes, options.max_image_pixels, *impl->encoder);
    impl->max_text_bytes = options.max_text_bytes;
    return std::make_unique<Embedder>(std::move(impl));
}

Embedder::Embedder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Embedder::~Embedder() = default;

const std::string& Embedder::model_name() const {
    return impl_->encoder->name();
}
int Embedder::dim() const {
    return impl_->encoder->dim();
}
int Embedder::image_size() const {
    return impl_->encoder->image_size();
}

std::vector<float> Embedder::encode_texts(std::span<const std::string> texts) {
    for (const std::string& text : texts)
        if (text.size() > impl_->max_text_bytes)
            throw Error(ErrorCode::TooLarge,
                        "query text of " + std::to_string(text.size()) +
                            " bytes exceeds the limit of " + std::to_string(impl_->max_text_bytes) +
                            " bytes (CLIP reads only a text's first tokens: shorten it)");
    if (texts.empty()) return {};
    return impl_->encoder->encode_texts(texts);
}

std::vector<float> Embedder::encode_image_file(const std::filesystem::path& path) {
    return impl_->encode_image(image::load_image(path, impl_->limits));
}

std::vector<float> Embedder::encode_image_bytes(std::span<const uint8_t> bytes,
                                                const std::string& name) {
    return impl_->encode_image(image::decode_image(bytes, name, impl_->limits));
}

std::vector<float> Embedder::preprocess_image_bytes(std::span<const uint8_t> bytes,
                                                    const std::string& name) {
    return impl_->encoder->preprocess(image::decode_image(bytes, name, impl_->limits));
}

std::vector<float> Embedder::encode_token_ids(std::span<const int32_t> ids, size_t count) {
    return impl_->encoder->encode_token_ids(ids, count);
}

std::vector<float> Embedder::encode_pixels(std::span<const float> pixels, size_t count) {
    const auto side = static_cast<size_t>(image_size());
    if (pixels.size() != count * 3 * side * side)
        throw Error(ErrorCode::InvalidInput, "pixels: " + std::to_string(pixels.size()) +
                                                 " floats are not " + std::to_string(count) +
                                                 " images of 3 x " + std::to_string(side) + " x " +
                                                 std::to_string(side));
    return impl_->encoder->encode_pixels(pixels, count);
}

}  // namespace clipdex
