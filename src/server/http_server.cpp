#include "server/http_server.h"

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

namespace clipdex::server {

using nlohmann::json;

namespace {

int http_status(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidInput:
            return 400;
        case ErrorCode::NotFound:
            return 404;
        case ErrorCode::AlreadyExists:
        case ErrorCode::Conflict:
            return 409;
        case ErrorCode::TooLarge:
            return 413;
        case ErrorCode::Corrupt:
            return 422;
        case ErrorCode::Unsupported:
            return 501;
        case ErrorCode::Unavailable:
            return 503;
        case ErrorCode::Io:
        case ErrorCode::Internal:
            return 500;
    }
    return 500;
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                    "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
    send_json(res, status, {{"success", false}, {"error", message}, {"code", code}});
}

json parse_body(const httplib::Request& req) {
    if (req.body.empty())
        throw Error(ErrorCode::InvalidInput, "request body is empty: a JSON object is expected");
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) throw Error(ErrorCode::InvalidInput, "request body is not valid JSON");
    if (!body.is_object())
        throw Error(ErrorCode::InvalidInput, "request body must be a JSON object");
    return body;
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

json hit_json(const SearchHit& hit) {
    json out = {{"id", hit.id}, {"url", hit.url}, {"similarity", hit.score}, {"score", hit.score}};
    if (!hit.description.empty()) out["description"] = hit.description;
    return out;
}

json row_json(const store::Row& row, bool include_vector) {
    json out = {{"id", row.id},
                {"url", row.url},
                {"description", row.description},
                {"added_at", row.added_at},
                {"updated_at", row.updated_at}};
    for (const auto& [key, value] : row.extra.items()) out[key] = value;
    if (include_vector) out["vector"] = row.vector;
    return out;
}

int64_t query_int(const httplib::Request& req, const char* key, int64_t fallback, int64_t min,
                  int64_t max) {
    if (!req.has_param(key)) return fallback;
    const std::string text = req.get_param_value(key);
    if (const auto value = parse_int(text); value && *value >= min && *value <= max) return *value;
    throw Error(ErrorCode::InvalidInput, std::string("query parameter '") + key +
                                             "' must be an integer in [" + std::to_string(min) +
                                             ", " + std::to_string(max) + "], got '" + text + "'");
}

bool query_bool(const httplib::Request& req, const char* key) {
    if (!req.has_param(key)) return false;
    const std::string text = req.get_param_value(key);
    if (text == "true" || text == "1" || text == "True") return true;
    if (text == "false" || text == "0" || text == "False" || text.empty()) return false;
    throw Error(ErrorCode::InvalidInput,
                std::string("query parameter '") + key + "' must be true or false");
}

}  // namespace

struct HttpServer::Impl {
    Engine& engine;
    ServerOptions options;
    httplib::Server http;
    int bound_port = 0;
    std::map<std::string, std::string> allowed_methods;  // path -> "GET" / "POST" / "DELETE"

    Impl(Engine& e, const ServerOptions& o) : engine(e), options(o) {}

    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

    // Every handler runs inside this guard: errors become JSON with a fitting status.
    Handler guarded(Handler handler) {
        return [this, handler](const httplib::Request& req, httplib::Response& res) {
            if (!authorized(req)) {
                send_error(res, 401, "unauthorized", "missing or wrong bearer token");
                return;
            }
            try {
                handler(req, res);
            } catch (const Error& e) {
                send_error(res, http_status(e.code()), std::string(error_code_name(e.code())),
                           e.what());
            } catch (const json::exception& e) {
                send_error(res, 400, "invalid_input", std::string("bad JSON value: ") + e.what());
            } catch (const std::exception& e) {
                send_error(res, 500, "internal", e.what());
            }
        };
    }

    bool authorized(const httplib::Request& req) const {
        if (options.bearer_token.empty()) return true;
        return req.get_header_value("Authorization") == "Bearer " + options.bearer_token;
    }

    void health(const httplib::Request&, httplib::Response& res) {
        send_json(res, 200,
                  {{"service", "clipdex"}, {"status", "healthy"}, {"model", engine.model_name()}});
    }

    void stats(const httplib::Request&, httplib::Response& res) {
        json stats = engine.get_database_stats();
        stats["success"] = true;
        send_json(res, 200, stats);
    }

    void add(const httplib::Request& req, httplib::Response& res) {
        const json body = parse_body(req);
        const int64_t id = require_id(body, "add");
        const std::string url = optional_string(body, "url");
        if (url.empty()) throw Error(ErrorCode::InvalidInput, "add: field 'url' is required");
        engine.add_image_by_url(id, url, optional_string(body, "description"));
        send_json(res, 200,
                  {{"success", true}, {"id", id}, {"url", url}, {"message", "image added"}});
    }

    void batch_add(const httplib::Request& req, httplib::Response& res) {
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
        const std::vector<UrlAddResult> added = engine.add_images_by_url(valid);
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
        send_json(res, 200,
                  {{"success", succeeded == images->size()},
                   {"total", images->size()},
                   {"succeeded", succeeded},
                   {"failed", images->size() - succeeded},
                   {"results", results}});
    }

    void data(const httplib::Request& req, httplib::Response& res) {
        const bool vectors = query_bool(req, "include_vectors");
        const int64_t limit = query_int(req, "limit", 100, 0, 100000);
        const int64_t offset = query_int(req, "offset", 0, 0, INT64_MAX / 2);
        json rows = json::array();
        for (const auto& row : engine.get_all_data(vectors, limit, offset))
            rows.push_back(row_json(row, vectors));
        send_json(res, 200,
                  {{"success", true},
                   {"count", rows.size()},
                   {"limit", limit},
                   {"offset", offset},
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

    void search(const httplib::Request& req, httplib::Response& res) {
        if (req.is_multipart_form_data()) return search_upload(req, res);
        const json body = parse_body(req);
        const int k = top_k_of(body);
        const std::string filter = optional_string(body, "filter");
        const std::string text = optional_string(body, "text");
        const std::string image_url = optional_string(body, "image_url");
        if (text.empty() == image_url.empty())
            throw Error(ErrorCode::InvalidInput,
                        "search: give exactly one of 'text' or 'image_url' (or upload an image)");
        const auto hits = text.empty() ? engine.search_by_image_url(image_url, k, filter)
                                       : engine.search(text, k, filter);
        json results = json::array();
        for (const auto& hit : hits) results.push_back(hit_json(hit));
        json out = {{"success", true}, {"k", k}, {"count", results.size()}, {"results", results}};
        out[text.empty() ? "image_url" : "query"] = text.empty() ? image_url : text;
        send_json(res, 200, out);
    }

    void search_upload(const httplib::Request& req, httplib::Response& res) {
        if (!req.has_file("image"))
            throw Error(ErrorCode::InvalidInput,
                        "search: multipart upload needs a file field named 'image'");
        const auto file = req.get_file_value("image");
        int k = 10;
        if (req.has_file("k")) {
            // Text that is not an integer stays a string: top_k_of refuses it with its message.
            const std::string text = req.get_file_value("k").content;
            const auto value = parse_int(text);
            k = top_k_of({{"k", value ? json(*value) : json(text)}});
        }
        const std::string filter =
            req.has_file("filter") ? req.get_file_value("filter").content : "";
        const auto* bytes = reinterpret_cast<const uint8_t*>(file.content.data());
        const auto hits = engine.search_by_image_bytes({bytes, file.content.size()}, k, filter);
        json results = json::array();
        for (const auto& hit : hits) results.push_back(hit_json(hit));
        send_json(res, 200,
                  {{"success", true},
                   {"k", k},
                   {"count", results.size()},
                   {"filename", file.filename},
                   {"results", results}});
    }

    void remove(const httplib::Request& req, httplib::Response& res) {
        json body;
        if (req.body.empty() && req.has_param("id"))
            body = {{"id", req.get_param_value("id")}};
        else
            body = parse_body(req);
        const int64_t id = require_id(body, "delete");
        if (!engine.remove_by_id(id))
            throw Error(ErrorCode::NotFound, "delete: no image with id " + std::to_string(id));
        send_json(res, 200, {{"success", true}, {"id", id}, {"message", "image deleted"}});
    }

    void info(const httplib::Request&, httplib::Response& res) {
        json info = engine.collection_info();
        info["success"] = true;
        send_json(res, 200, info);
    }

    void route(const std::string& prefix) {
        using namespace std::placeholders;
        http.Get(prefix + "/health", guarded(std::bind(&Impl::health, this, _1, _2)));
        http.Get(prefix + "/stats", guarded(std::bind(&Impl::stats, this, _1, _2)));
        http.Post(prefix + "/add", guarded(std::bind(&Impl::add, this, _1, _2)));
        http.Post(prefix + "/batch/add", guarded(std::bind(&Impl::batch_add, this, _1, _2)));
        http.Get(prefix + "/data", guarded(std::bind(&Impl::data, this, _1, _2)));
        http.Post(prefix + "/search", guarded(std::bind(&Impl::search, this, _1, _2)));
        http.Delete(prefix + "/delete", guarded(std::bind(&Impl::remove, this, _1, _2)));
        http.Get(prefix + "/collection/info", guarded(std::bind(&Impl::info, this, _1, _2)));
        for (const char* path : {"/health", "/stats", "/data", "/collection/info"})
            allowed_methods[prefix + path] = "GET";
        for (const char* path : {"/add", "/batch/add", "/search"})
            allowed_methods[prefix + path] = "POST";
        allowed_methods[prefix + "/delete"] = "DELETE";
    }

    // A known path asked with another method is 405 with an Allow header, not "no endpoint".
    httplib::Server::HandlerResponse refuse_wrong_method(const httplib::Request& req,
                                                         httplib::Response& res) const {
        auto it = allowed_methods.find(req.path);
        if (it == allowed_methods.end() || it->second == req.method ||
            (req.method == "HEAD" && it->second == "GET"))
            return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Allow", it->second);
        send_error(res, 405, "method_not_allowed",
                   req.method + " " + req.path + " is not allowed; use " + it->second);
        return httplib::Server::HandlerResponse::Handled;
    }

    void configure() {
        route("/api/milvus");
        route("/v1");
        http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            return refuse_wrong_method(req, res);
        });
        http.set_payload_max_length(options.max_body_bytes);
        const int threads = std::max(1, options.threads);
        http.new_task_queue = [threads] {
            return new httplib::ThreadPool(static_cast<size_t>(threads));
        };
        http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;  // a handler already answered with a JSON error
            if (res.status == 404)
                send_error(res, 404, "not_found", "no endpoint " + req.method + " " + req.path);
            else if (res.status == 413)
                send_error(res, 413, "too_large", "request body exceeds the size limit");
            else  // refused while parsing, where an unknown method leaves the path empty
                send_error(res, res.status, "http_error",
                           (req.path.empty() ? req.method : req.method + " " + req.path) +
                               " refused with HTTP status " + std::to_string(res.status));
        });
    }
};

HttpServer::HttpServer(Engine& engine, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(engine, options)) {
    impl_->configure();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
    auto& http = impl_->http;
    const auto& o = impl_->options;
    impl_->bound_port = o.port == 0 ? http.bind_to_any_port(o.host)
                                    : (http.bind_to_port(o.host, o.port) ? o.port : -1);
    if (impl_->bound_port <= 0)
        throw Error(ErrorCode::Unavailable, "cannot listen on " + o.host + ":" +
                                                std::to_string(o.port) +
                                                " (address in use or not available)");
    return impl_->bound_port;
}

void HttpServer::run() {
    impl_->http.listen_after_bind();
}

void HttpServer::stop() {
    impl_->http.stop();
}

}  // namespace clipdex::server
