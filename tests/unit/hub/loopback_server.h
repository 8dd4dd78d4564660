// A minimal HTTP/1.1 server on 127.0.0.1 and a free port for the hub tests. Handlers build the
// raw response bytes themselves, which lets tests send exactly what a hostile or broken server
// would (no Content-Length, chunked bodies, stalls). Self-contained on purpose: no HTTP library
// to link, so the tests build with nothing but the hub module.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace clipdex::hub::test {

struct Request {
    std::string method;
    std::string target;                          // as sent, still percent-encoded
    std::string path;                            // target without the query, percent-decoded
    std::map<std::string, std::string> headers;  // names lower-cased
};

// Returns the raw bytes to send; the connection is closed afterwards.
using Handler = std::function<std::string(const Request&)>;

std::string http_response(int status, const std::string& body,
                          const std::string& content_type = "text/plain",
                          const std::vector<std::string>& extra_headers = {});
std::string percent_decode(const std::string& text);

class LoopbackServer {
  public:
    LoopbackServer();
    ~LoopbackServer();
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    // Exact path match first, then the longest registered prefix ending in '/'.
    void route(const std::string& path, Handler handler);
    void start();
    void stop();

    bool stopping() const { return stopping_; }
    int port() const { return port_; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

  private:
    void accept_loop();
    void serve(int fd);
    const Handler* find(const std::string& path) const;

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::map<std::string, Handler> routes_;
    std::thread acceptor_;
    std::mutex workers_mutex_;
    std::vector<std::thread> workers_;
};

}  // namespace clipdex::hub::test
