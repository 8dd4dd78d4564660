#include "server/http_server.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/hit_json.h"
#include "engine/info_json.h"
#include "server/http_listener.h"
#include "server/json_body.h"
#include "server/multipart.h"
#include "server/router.h"
#include "store/row_json.h"

namespace clipdex::server {

using nlohmann::json;

namespace {

json parse_body(const Request& req) {
    return parse_json_body(req.body);
}

// A whole decimal integer as std::stoll reads it; "5abc" and out-of-range text give nothing.
std::optional<int64_t> parse_int(const std::string& text) {
    try {
        size_t used = 0;
        const long long value = std::stoll(text, &used);
        if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

int64_t require_id(const json& body, const char* where) {
    auto it = body.find("id");
    if (it == body.end())
        throw Error(ErrorCode::InvalidInput, std::string(where) + ": field 'id' is required");
    // JSON integers above INT64_MAX parse as unsigned; converting them would store another id.
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        throw Error(ErrorCode::InvalidInput, std::string(where) + ": field 'id' " + it->dump() +
                                                 " is outside the 64-bit signed range");
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_string())
        if (const auto value = parse_int(it->get<std::string>())) return *value;
    throw Error(ErrorCode::InvalidInput, std::string(where) + ": field 'id' must be an integer");
}

std::string optional_string(const json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_string())
        throw Error(ErrorCode::InvalidInput, std::string("field '") + key + "' must be a string");
    return it->get<std::string>();
}

int64_t query_int(const Request& req, const char* key, int64_t fallback, int64_t min, int64_t max) {
    if (!req.has_param(key)) return fallback;
    const std::string text = req.param(key);
    if (const auto value = parse_int(text); value && *value >= min && *value <= max) return *value;
    throw Error(ErrorCode::InvalidInput, std::string("query parameter '") + key +
                                             "' must be an integer in [" + std::to_string(min) +
                                             ", " + std::to_string(max) + "], got '" + text + "'");
}

bool query_bool(const Request& req, const char* key) {
    if (!req.has_param(key)) return false;
    const std::string text = req.param(key);
    if (text == "true" || text == "1" || text == "True") return true;
    if (text == "false" || text == "0" || text == "False" || text.empty()) return false;
    throw Error(ErrorCode::InvalidInput,
                std::string("query parameter '") + key + "' must be true or false");
}

}  // namespace

struct HttpServer::Impl {
    Engine* serving = nullptr;  // set by run(), before the first connection is accepted
    ServerOptions options;
    Router http;  // the bearer token, methods and framing are checked before a handler runs
    std::unique_ptr<Listener> listener;

    explicit Impl(const ServerOptions& o) : options(o) {}

    Engine& engine() const { return *serving; }

    using Method = Response (Impl::*)(const Request&);

    // Every handler runs inside this guard: errors become JSON with a fitting status.
    Handler guarded(Method method) {
        return [this, method](const Request& req) -> Response {
            try {
                return (this->*method)(req);
            } catch (const Error& e) {
                return error_response(http_status(e.code()), error_code_name(e.code()), e.what());
            } catch (const json::exception& e) {
                return error_response(400, "invalid_input",
                                      std::string("bad JSON value: ") + e.what());
            } catch (const std::exception& e) {
                return error_response(500, "internal", e.what());
            }
        };
    }

    Response health(const Request&) {
        return json_response(
            200, {{"service", "clipdex"}, {"status", "healthy"}, {"model", engine().model_name()}});
    }

    Response stats(const Request&) {
        json stats = engine::stats_json(engine().get_database_stats());
        stats["success"] = true;
        return json_response(200, stats);
    }

    Response add(const Request& req) {
        const json body = parse_body(req);
        const int64_t id = require_id(body, "add");
        const std::string url = optional_string(body, "url");
        if (url.empty()) throw Error(ErrorCode::InvalidInput, "add: field 'url' is required");
        engine().add_image_by_url(id, url, optional_string(body, "description"));
        return json_response(
            200, {{"success", true}, {"id", id}, {"url", url}, {"message", "image added"}});
    }

    Response batch_add(const Request& req) {
        const json body = parse_body(req);
        auto images = body.find("images");
        if (images == body.end() || !images->is_array())
            throw Error(ErrorCode::InvalidInput,
                        "batch/add: field 'images' must be an array of {id, url}");
        if (images->size() > options.max_batch_items)
            throw Error(ErrorCode::TooLarge, "batch/add: " + std::to_string(images->size()) +
                                                 " images exceed the limit of " +
                                                 std::to_string(options.max_batch_items));
        // Malformed items are answered at once; the valid ones are fetched together.
        json results = json::array();
        std::vector<UrlImage> valid;
        std::vector<size_t> valid_index;
        for (const auto& item : *images) {
            json result = {{"success", false}};
            try {
                if (!item.is_object())
                    throw Error(ErrorCode::InvalidInput, "each image must be an object");
                const int64_t id = require_id(item, "batch/add");
                result["id"] = id;
                const std::string url = optional_string(item, "url");
                if (url.empty()) throw Error(ErrorCode::InvalidInput, "field 'url' is required");
                result["url"] = url;
                valid.push_back({id, url, optional_string(item, "description")});
                valid_index.push_back(results.size());
            } catch (const Error& e) {
                result["error"] = e.what();
                result["code"] = std::string(error_code_name(e.code()));
            } catch (const json::exception& e) {
                result["error"] = std::string("bad JSON value: ") + e.what();
                result["code"] = "invalid_input";
            }
            results.push_back(result);
        }
        const std::vector<UrlAddResult> added = engine().add_images_by_url(valid);
        size_t succeeded = 0;
        for (size_t i = 0; i < added.size(); ++i) {
            json& result = results[valid_index[i]];
            result["success"] = added[i].ok;
            if (added[i].ok) {
                ++succeeded;
            } else {
                result["error"] = added[i].error;
                result["code"] = added[i].code;
            }
        }
        return json_response(200, {{"success", succeeded == images->size()},
                                   {"total", images->size()},
                                   {"succeeded", succeeded},
                                   {"failed", images->size() - succeeded},
                                   {"results", results}});
    }

    Response data(const Request& req) {
        const bool vectors = query_bool(req, "include_vectors");
        const int64_t limit = query_int(req, "limit", 100, 0, 100000);
        const int64_t offset = query_int(req, "offset", 0, 0, INT64_MAX / 2);
        // Rows are read a slice at a time and the page ends early (truncated) once its answer
        // would pass max_page_bytes: 100000 rows with 64 KiB descriptions, or with vectors,
        // would otherwise be gigabytes in memory for one request.
        constexpr int64_t kSlice = 256;
        json rows = json::array();
        size_t page_bytes = 0;
        bool truncated = false;
        while (!truncated && static_cast<int64_t>(rows.size()) < limit) {
            const int64_t want =
                std::min<int64_t>(kSlice, limit - static_cast<int64_t>(rows.size()));
            const auto slice =
                engine().get_all_data(vectors, want, offset + static_cast<int64_t>(rows.size()));
            for (const auto& row : slice) {
                const size_t row_bytes = store::row_json_bytes_estimate(row, vectors);
                if (!rows.empty() && page_bytes + row_bytes > options.max_page_bytes) {
                    truncated = true;
                    break;
                }
                page_bytes += row_bytes;
                rows.push_back(store::row_to_json(row, vectors));
            }
            if (static_cast<int64_t>(slice.size()) < want) break;  // the end of the collection
        }
        const auto count = static_cast<int64_t>(rows.size());
        return json_response(200, {{"success", true},
                                   {"count", count},
                                   {"limit", limit},
                                   {"offset", offset},
                                   {"next_offset", offset + count},
                                   {"truncated", truncated},
                                   {"data", rows}});
    }

    int top_k_of(const json& body) const {
        const json& k =
            body.contains("k") ? body["k"] : (body.contains("top_k") ? body["top_k"] : json(10));
        if (!k.is_number_integer() || k.get<int64_t>() < 1 || k.get<int64_t>() > options.max_top_k)
            throw Error(ErrorCode::InvalidInput, "search: 'k' must be an integer in [1, " +
                                                     std::to_string(options.max_top_k) + "]");
        return k.get<int>();
    }

    Response search(const Request& req) {
        if (const std::string* type = req.header("content-type"); type && is_multipart_form(*type))
            return search_upload(req, *type);
        const json body = parse_body(req);
        const int k = top_k_of(body);
        const std::string filter = optional_string(body, "filter");
        const std::string text = optional_string(body, "text");
        const std::string image_url = optional_string(body, "image_url");
        if (text.empty() == image_url.empty())
            throw Error(ErrorCode::InvalidInput,
                        "search: give exactly one of 'text' or 'image_url' (or upload an image)");
        const auto hits = text.empty() ? engine().search_by_image_url(image_url, k, filter)
                                       : engine().search(text, k, filter);
        const json results = hits_to_json(hits);
        json out = {{"success", true}, {"k", k}, {"count", results.size()}, {"results", results}};
        out[text.empty() ? "image_url" : "query"] = text.empty() ? image_url : text;
        return json_response(200, out);
    }

    Response search_upload(const Request& req, const std::string& content_type) {
        const std::vector<FormPart> parts = parse_multipart(content_type, req.body);
        const FormPart* file = find_part(parts, "image");
        if (!file)
            throw Error(ErrorCode::InvalidInput,
                        "search: multipart upload needs a file field named 'image'");
        int k = 10;
        if (const FormPart* k_part = find_part(parts, "k")) {
            // Text that is not an integer stays a string: top_k_of refuses it with its message.
            const std::string text(k_part->content);
            const auto value = parse_int(text);
            k = top_k_of({{"k", value ? json(*value) : json(text)}});
        }
        const FormPart* filter_part = find_part(parts, "filter");
        const std::string filter = filter_part ? std::string(filter_part->content) : "";
        const auto* bytes = reinterpret_cast<const uint8_t*>(file->content.data());
        const auto hits = engine().search_by_image_bytes({bytes, file->content.size()}, k, filter);
        const json results = hits_to_json(hits);
        return json_response(200, {{"success", true},
                                   {"k", k},
                                   {"count", results.size()},
                                   {"filename", file->filename},
                                   {"results", results}});
    }

    Response remove(const Request& req) {
        json body;
        if (req.body.empty() && req.has_param("id"))
            body = {{"id", req.param("id")}};
        else
            body = parse_body(req);
        const int64_t id = require_id(body, "delete");
        if (!engine().remove_by_id(id))
            throw Error(ErrorCode::NotFound, "delete: no image with id " + std::to_string(id));
        return json_response(200, {{"success", true}, {"id", id}, {"message", "image deleted"}});
    }

    Response info(const Request&) {
        json info = engine::collection_json(engine().collection_info());
        info["success"] = true;
        return json_response(200, info);
    }

    void route(const std::string& prefix) {
        http.Get(prefix + "/health", guarded(&Impl::health), /*inline_ok=*/true);
        http.Get(prefix + "/stats", guarded(&Impl::stats));
        http.Post(prefix + "/add", guarded(&Impl::add));
        http.Post(prefix + "/batch/add", guarded(&Impl::batch_add));
        http.Get(prefix + "/data", guarded(&Impl::data));
        http.Post(prefix + "/search", guarded(&Impl::search));
        http.Delete(prefix + "/delete", guarded(&Impl::remove));
        http.Get(prefix + "/collection/info", guarded(&Impl::info));
    }

    void configure() {
        route("/api/milvus");
        route("/v1");
        ListenerOptions o;
        o.framing.max_body_bytes = options.max_body_bytes;
        o.framing.max_header_bytes = options.max_header_bytes;
        o.framing.max_target_bytes = std::min<size_t>(8192, options.max_header_bytes);
        o.framing.bearer_token = options.bearer_token;
        auto ms = [](double seconds) {
            return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
        };
        o.header_timeout = ms(options.header_timeout_s);
        o.body_timeout = ms(options.body_timeout_s);
        o.idle_timeout = ms(options.idle_timeout_s);
        o.max_connections = options.max_connections;
        o.max_keepalive_requests = options.max_keepalive_requests;
        o.worker_threads = static_cast<size_t>(std::max(1, options.threads));
        o.max_queue = options.max_queue;
        o.max_body_memory = options.max_body_memory;
        listener = std::make_unique<Listener>(http, o);
    }
};

HttpServer::HttpServer(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {
    impl_->configure();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
    return impl_->listener->bind(impl_->options.host, impl_->options.port);
}

void HttpServer::run(Engine& engine) {
    impl_->serving = &engine;
    impl_->listener->run();
}

void HttpServer::stop() {
    impl_->listener->stop();
}

}  // namespace clipdex::server
