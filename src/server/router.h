// Routes: exact paths to handlers, one method each. A known path asked with another method is
// 405 with Allow; an unknown one is 404. A route marked `inline_ok` is cheap and answers on the
// I/O thread (health); every other handler runs on the worker pool.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "server/http_types.h"

namespace clipdex::server {

using Handler = std::function<Response(const Request&)>;

struct Route {
    std::string method;  // "GET", "POST", "DELETE"
    Handler handler;
    bool inline_ok = false;
};

class Router {
  public:
    void Get(const std::string& path, Handler handler, bool inline_ok = false);
    void Post(const std::string& path, Handler handler);
    void Delete(const std::string& path, Handler handler);

    // The route for `path`, or nullptr when no such path exists.
    const Route* find(const std::string& path) const;
    // Whether `method` may call `route` (HEAD may call GET routes).
    static bool allows(const Route& route, const std::string& method);
    // The 404 / 405 answer for a request that has no matching route.
    static Response refuse(const Route* route, const std::string& method, const std::string& path);

  private:
    std::map<std::string, Route> routes_;
};

}  // namespace clipdex::server
