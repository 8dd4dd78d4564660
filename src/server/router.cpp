#include "server/router.h"

namespace clipdex::server {

void Router::Get(const std::string& path, Handler handler, bool inline_ok) {
    routes_[path] = {"GET", std::move(handler), inline_ok};
}

void Router::Post(const std::string& path, Handler handler) {
    routes_[path] = {"POST", std::move(handler), false};
}

void Router::Delete(const std::string& path, Handler handler) {
    routes_[path] = {"DELETE", std::move(handler), false};
}

const Route* Router::find(const std::string& path) const {
    auto it = routes_.find(path);
    return it == routes_.end() ? nullptr : &it->second;
}

bool Router::allows(const Route& route, const std::string& method) {
    return route.method == method || (method == "HEAD" && route.method == "GET");
}

Response Router::refuse(const Route* route, const std::string& method, const std::string& path) {
    if (!route) return error_response(404, "not_found", "no endpoint " + method + " " + path);
    Response response = error_response(
        405, "method_not_allowed", method + " " + path + " is not allowed; use " + route->method);
    response.headers.emplace_back("Allow", route->method);
    return response;
}

}  // namespace clipdex::server
