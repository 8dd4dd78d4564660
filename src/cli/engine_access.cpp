#include "cli/engine_access.h"

#include <charconv>
#include <memory>

#include "common/progress.h"

namespace clipdex::cli {

EngineOptions engine_options(const GlobalOptions& global) {
    EngineOptions options;
    options.db_uri = global.db;
    options.model = global.model;
    options.collection = global.collection;
    options.threads = global.threads;
    options.allow_private_urls = global.allow_private_urls;
    options.store.token = global.token;
    return options;
}

namespace {

// A progress bar on stderr that appears with the first downloaded byte.
DownloadProgressFn download_bar(const std::string& model) {
    auto bar = std::make_shared<std::unique_ptr<Progress>>();
    return [bar, model](const std::string& file, uint64_t done, uint64_t total) {
        if (!*bar)
            *bar =
                std::make_unique<Progress>("downloading " + model, stderr, Progress::Unit::Bytes);
        (*bar)->update(done, total, file);
    };
}

}  // namespace

std::unique_ptr<Engine> open_engine_to_read(const GlobalOptions& global) {
    EngineOptions options = engine_options(global);
    options.download_progress = download_bar("the model");
    options.store.read_only = true;
    return Engine::open(options);
}

std::unique_ptr<Engine> open_engine_to_write(const GlobalOptions& global, const WriteIntent& intent,
                                             const std::string& serve_url, bool token_required) {
    refuse_if_held(global.db, intent);
    EngineOptions options = engine_options(global);
    options.download_progress = download_bar("the model");
    options.store.writer.program = program_name(intent.command);
    options.store.writer.url = serve_url;
    options.store.writer.token_required = token_required;
    try {
        return Engine::open(options);
    } catch (const Error& e) {
        // Another writer took the store meanwhile: the same advice.
        if (e.code() == ErrorCode::Conflict) refuse_if_held(global.db, intent);
        throw;
    }
}

std::unique_ptr<Embedder> open_embedder(const GlobalOptions& global) {
    const EngineOptions engine = engine_options(global);
    EmbedderOptions options;
    options.model = engine.model.empty() ? kDefaultModel : engine.model;
    options.threads = engine.threads;
    options.max_image_bytes = engine.max_image_bytes;
    options.max_image_pixels = engine.max_image_pixels;
    options.max_text_bytes = engine.max_text_bytes;
    options.download_progress = download_bar(options.model);
    return Embedder::open(options);
}

bool is_url(const std::string& text) {
    return text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0;
}

int64_t parse_row_id(const std::string& text, const std::string& what) {
    int64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec == std::errc::result_out_of_range)
        throw Error(ErrorCode::InvalidInput, what + " '" + text +
                                                 "' is outside the 64-bit signed range "
                                                 "[-9223372036854775808, 9223372036854775807]");
    if (ec != std::errc() || ptr != end || text.empty())
        throw Error(ErrorCode::InvalidInput,
                    what + " '" + text + "' is not a whole decimal integer");
    return value;
}

}  // namespace clipdex::cli
