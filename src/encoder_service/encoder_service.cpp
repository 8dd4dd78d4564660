#include "encoder_service/encoder_service.h"

#include <bit>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "clipdex/error.h"
#include "encoder_service/base64.h"
#include "encoder_service/batcher.h"
#include "encoder_service/clip_protocol.h"
#include "hub/http_fetch.h"
#include "server/http_listener.h"
#include "server/json_body.h"
#include "server/router.h"

namespace clipdex::encoder_service {

using nlohmann::json;
using server::Request;
using server::Response;

static_assert(std::endian::native == std::endian::little,
              "the octet-stream answer is the host's float32 bytes, little-endian");

// One input on its way to the model: a text, or an image's bytes (uploaded or fetched). Not in
// the anonymous namespace: EncoderService::Impl holds a Batcher of them.
struct Input {
    bool is_text = true;
    std::string text;
    std::vector<uint8_t> bytes;
    std::vector<float> pixels;  // the image preprocessed, on the request's own thread
    std::string name;  // "texts[0]", "images[2]", "urls[1]", "data[3] (id ...)"
};

namespace {

// A failed item: its name, the error's code and message.
struct ItemError {
    ErrorCode code;
    std::string message;
};

ItemError error_of(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        return {e.code(), e.what()};
    } catch (const std::exception& e) {
        return {ErrorCode::Internal, e.what()};
    }
    return {ErrorCode::Internal, "unknown error"};
}

// An item's message named by the item, unless the message names it already.
std::string named(const std::string& name, const std::string& message) {
    if (message.rfind(name, 0) == 0) return message;
    return name + ": " + message;
}

}  // namespace

struct EncoderService::Impl {
    EncoderServiceOptions options;
    server::Router http;
    std::unique_ptr<server::Listener> listener;
    Embedder* embedder = nullptr;  // set by run() before the first request
    std::unique_ptr<Batcher<Input>> batcher;

    explicit Impl(const EncoderServiceOptions& o) : options(o) {}

    using Method = Response (Impl::*)(const Request&);

    server::Handler guarded(Method method) {
        return [this, method](const Request& req) -> Response {
            try {
                return (this->*method)(req);
            } catch (const Error& e) {
                return server::error_response(server::http_status(e.code()),
                                              error_code_name(e.code()), e.what());
            } catch (const json::exception& e) {
                return server::error_response(400, "invalid_input",
                                              std::string("bad JSON value: ") + e.what());
            } catch (const std::exception& e) {
                return server::error_response(500, "internal", e.what());
            }
        };
    }

    // The batch function: texts in one call of the text tower, images (preprocessed by their
    // requests' threads, see encode_all) in one call of the image tower.
    std::vector<std::vector<float>> encode_batch(std::span<const Input> inputs) {
        const auto dim = static_cast<std::ptrdiff_t>(embedder->dim());
        std::vector<std::vector<float>> out(inputs.size());
        std::vector<std::string> texts;
        std::vector<size_t> text_index, image_index;
        std::vector<float> pixels;
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (inputs[i].is_text) {
                texts.push_back(inputs[i].text);
                text_index.push_back(i);
            } else {
                pixels.insert(pixels.end(), inputs[i].pixels.begin(), inputs[i].pixels.end());
                image_index.push_back(i);
            }
        }
        const auto scatter = [&](const std::vector<float>& flat, const std::vector<size_t>& index) {
            for (size_t k = 0; k < index.size(); ++k) {
                const auto row = flat.begin() + static_cast<std::ptrdiff_t>(k) * dim;
                out[index[k]].assign(row, row + dim);
            }
        };
        if (!texts.empty()) scatter(embedder->encode_texts(texts), text_index);
        if (!image_index.empty())
            scatter(embedder->encode_pixels(pixels, image_index.size()), image_index);
        return out;
    }

    std::vector<uint8_t> fetch(const std::string& url) const {
        hub::FetchOptions fetch;
        fetch.max_bytes = options.max_image_bytes;
        fetch.allow_private = options.allow_private_urls;
        return hub::fetch_url(url, fetch).body;
    }

    // Encodes `inputs` (some may have failed already: `failed[i]` set) and returns a vector per
    // input, or throws one Error naming every failed item with the first failure's code.
    std::vector<std::vector<float>> encode_all(std::vector<Input> inputs,
                                               std::vector<std::optional<ItemError>> failed) {
        std::vector<std::string> names;
        for (const Input& input : inputs) names.push_back(input.name);
        std::vector<Input> todo;
        std::vector<size_t> todo_index;
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (failed[i]) continue;
            if (!inputs[i].is_text) {
                // Decoded and preprocessed here, on this request's thread (many at once); a
                // broken image fails alone and never reaches the batch.
                try {
                    inputs[i].pixels = embedder->preprocess_image_bytes(inputs[i].bytes, names[i]);
                    inputs[i].bytes = {};
                } catch (...) {
                    failed[i] = error_of(std::current_exception());
                    continue;
                }
            }
            todo_index.push_back(i);
            todo.push_back(std::move(inputs[i]));
        }
        std::vector<std::vector<float>> vectors(names.size());
        const std::vector<Outcome> outcomes = batcher->encode(std::move(todo));
        for (size_t k = 0; k < outcomes.size(); ++k) {
            if (outcomes[k].error)
                failed[todo_index[k]] = error_of(outcomes[k].error);
            else
                vectors[todo_index[k]] = outcomes[k].vector;
        }
        std::string message;
        std::optional<ErrorCode> code;
        size_t failures = 0;
        for (size_t i = 0; i < failed.size(); ++i) {
            if (!failed[i]) continue;
            ++failures;
            if (!code) code = failed[i]->code;
            if (failures <= 10) {
                if (!message.empty()) message += "; ";
                message += named(names[i], failed[i]->message);
            }
        }
        if (code) {
            if (failures > 10) message += "; and " + std::to_string(failures - 10) + " more";
            throw Error(*code, std::to_string(failures) + " of " + std::to_string(names.size()) +
                                   " inputs failed: " + message);
        }
        return vectors;
    }

    void check_count(size_t count) const {
        if (count == 0) throw Error(ErrorCode::InvalidInput, "no inputs: the list is empty");
        if (count > options.max_items)
            throw Error(ErrorCode::TooLarge, std::to_string(count) +
                                                 " inputs exceed the limit of " +
                                                 std::to_string(options.max_items) +
                                                 " per request");
    }

    // Adds a string-array field's items as inputs of one kind.
    void collect(const json& body, const char* key, std::vector<Input>& inputs,
                 std::vector<std::optional<ItemError>>& failed) {
        auto it = body.find(key);
        if (it == body.end()) return;
        if (!it->is_array())
            throw Error(ErrorCode::InvalidInput,
                        std::string("field '") + key + "' must be an array of strings");
        check_count(inputs.size() + it->size());
        const std::string kind = key;
        for (size_t i = 0; i < it->size(); ++i) {
            Input input;
            input.name = kind + "[" + std::to_string(i) + "]";
            std::optional<ItemError> error;
            const json& item = (*it)[i];
            if (!item.is_string()) {
                error = ItemError{ErrorCode::InvalidInput, "must be a string"};
            } else if (kind == "texts") {
                input.text = item.get<std::string>();
            } else if (kind == "images") {
                input.is_text = false;
                Base64Result decoded = decode_base64(item.get<std::string>());
                if (!decoded.error.empty())
                    error = ItemError{ErrorCode::InvalidInput, "not base64: " + decoded.error};
                input.bytes = std::move(decoded.bytes);
            } else {
                input.is_text = false;
                try {
                    input.bytes = fetch(item.get<std::string>());
                } catch (...) {
                    error = error_of(std::current_exception());
                }
            }
            inputs.push_back(std::move(input));
            failed.push_back(std::move(error));
        }
    }

    Response encode(const Request& req) {
        const json body = server::parse_json_body(req.body);
        std::vector<Input> inputs;
        std::vector<std::optional<ItemError>> failed;
        for (const char* key : {"texts", "images", "urls"}) collect(body, key, inputs, failed);
        if (inputs.empty())
            throw Error(ErrorCode::InvalidInput,
                        "give 'texts', 'images' (base64) or 'urls': a non-empty array of strings");
        const size_t count = inputs.size();
        const auto vectors = encode_all(std::move(inputs), std::move(failed));
        const int dim = embedder->dim();
        const std::string* accept = req.header("accept");
        if (accept && accept->find("application/octet-stream") != std::string::npos) {
            Response response;
            response.content_type = "application/octet-stream";
            response.body.resize(count * static_cast<size_t>(dim) * sizeof(float));
            for (size_t i = 0; i < count; ++i)
                std::memcpy(response.body.data() + i * dim * sizeof(float), vectors[i].data(),
                            dim * sizeof(float));
            response.headers.emplace_back("X-Clipdex-Count", std::to_string(count));
            response.headers.emplace_back("X-Clipdex-Dim", std::to_string(dim));
            response.headers.emplace_back("X-Clipdex-Model", embedder->model_name());
            return response;
        }
        return server::json_response(200, {{"model", embedder->model_name()},
                                           {"dim", dim},
                                           {"count", count},
                                           {"embeddings", vectors}});
    }

    Response model(const Request&) {
        const BatchStats stats = batcher->stats();
        json sizes = json::object();
        for (const auto& [size, times] : stats.sizes) sizes[std::to_string(size)] = times;
        return server::json_response(
            200,
            {{"name", embedder->model_name()},
             {"dim", embedder->dim()},
             {"precision", "f32"},
             {"preprocessing",
              {{"image_size", embedder->image_size()},
               {"resize", "shortest side to image_size, bicubic with antialiasing, then a "
                          "centre crop (open_clip's inference transform)"},
               {"input", "original image bytes; the service decodes and preprocesses"}}},
             {"batching",
              {{"max_batch", options.max_batch},
               {"max_wait_ms", options.max_wait_ms},
               {"batches", stats.batches},
               {"items", stats.items},
               {"largest_batch", stats.largest},
               {"batch_sizes", sizes}}}});
    }

    Response healthz(const Request&) {
        return server::json_response(200, {{"status", "ok"}});
    }

    Response readyz(const Request&) {
        if (!embedder) return server::error_response(503, "unavailable", "the model is loading");
        return server::json_response(200,
                                     {{"status", "ready"}, {"model", embedder->model_name()}});
    }

    Response openapi(const Request&) { return server::json_response(200, clip_openapi()); }

    // clip-as-service's POST /post (clip_protocol.h); refusals keep its header.status shape.
    Response clip_post(const Request& req) {
        std::optional<ClipRequest> request;
        try {
            request = parse_clip_request(server::parse_json_body(req.body));
            check_count(request->docs.size());
            std::vector<Input> inputs;
            std::vector<std::optional<ItemError>> failed;
            for (const ClipDoc& doc : request->docs) {
                Input input;
                input.name = doc.where;
                std::optional<ItemError> error;
                if (doc.kind == ClipDoc::Kind::Text) {
                    input.text = doc.value;
                } else if (doc.kind == ClipDoc::Kind::Blob) {
                    input.is_text = false;
                    Base64Result decoded = decode_base64(doc.value);
                    if (!decoded.error.empty())
                        error = ItemError{ErrorCode::InvalidInput, "blob is not base64: " +
                                                                       decoded.error};
                    input.bytes = std::move(decoded.bytes);
                } else {
                    input.is_text = false;
                    try {
                        input.bytes = fetch(doc.value);
                    } catch (...) {
                        error = error_of(std::current_exception());
                    }
                }
                inputs.push_back(std::move(input));
                failed.push_back(std::move(error));
            }
            const auto vectors = encode_all(std::move(inputs), std::move(failed));
            return server::json_response(200, clip_response(*request, vectors));
        } catch (const Error& e) {
            return server::json_response(server::http_status(e.code()),
                                         clip_error(request ? &*request : nullptr, e.what()));
        }
    }

    void configure() {
        http.Post("/v1/encode", guarded(&Impl::encode));
        http.Get("/v1/model", guarded(&Impl::model));
        http.Get("/healthz", guarded(&Impl::healthz), /*inline_ok=*/true);
        http.Get("/readyz", guarded(&Impl::readyz), /*inline_ok=*/true);
        http.Get("/openapi.json", guarded(&Impl::openapi), /*inline_ok=*/true);
        http.Post("/post", guarded(&Impl::clip_post));
        server::ListenerOptions o;
        o.framing.max_body_bytes = options.max_body_bytes;
        o.framing.bearer_token = options.bearer_token;
        o.worker_threads = static_cast<size_t>(std::max(1, options.http_threads));
        listener = std::make_unique<server::Listener>(http, o);
    }
};

EncoderService::EncoderService(const EncoderServiceOptions& options)
    : impl_(std::make_unique<Impl>(options)) {
    impl_->configure();
}

EncoderService::~EncoderService() = default;

int EncoderService::bind() {
    return impl_->listener->bind(impl_->options.host, impl_->options.port);
}

void EncoderService::run(Embedder& embedder) {
    BatchOptions batching;
    batching.max_batch = impl_->options.max_batch;
    batching.max_wait = std::chrono::microseconds(
        static_cast<int64_t>(impl_->options.max_wait_ms * 1000.0));
    impl_->batcher = std::make_unique<Batcher<Input>>(
        batching, [impl = impl_.get()](std::span<const Input> inputs) {
            return impl->encode_batch(inputs);
        });
    impl_->embedder = &embedder;
    impl_->listener->run();
    impl_->batcher.reset();
}

void EncoderService::stop() {
    impl_->listener->stop();
}

}  // namespace clipdex::encoder_service
