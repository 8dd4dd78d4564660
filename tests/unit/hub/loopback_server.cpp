#include "loopback_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <sstream>
#include <stdexcept>

namespace clipdex::hub::test {

namespace {

std::string reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 307:
            return "Temporary Redirect";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 416:
            return "Range Not Satisfiable";
        default:
            return "Status";
    }
}

void send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            return;  // the client went away (e.g. it aborted an oversized body)
        }
        sent += static_cast<std::size_t>(n);
    }
}

Request parse_request(const std::string& head) {
    Request request;
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);
    std::istringstream first(line);
    first >> request.method >> request.target;
    while (std::getline(lines, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        std::string name = line.substr(0, colon);
        for (char& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
        while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
        request.headers[name] = value;
    }
    request.path = percent_decode(request.target.substr(0, request.target.find('?')));
    return request;
}

}  // namespace

std::string http_response(int status, const std::string& body, const std::string& content_type,
                          const std::vector<std::string>& extra_headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    out += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
    for (const std::string& header : extra_headers) {
        out += header + "\r\n";
    }
    out += "Connection: close\r\n\r\n" + body;
    return out;
}

std::string percent_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

LoopbackServer::LoopbackServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("cannot listen on a loopback port");
    }
    port_ = ntohs(address.sin_port);
}

LoopbackServer::~LoopbackServer() {
    stop();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
    }
}

void LoopbackServer::route(const std::string& path, Handler handler) {
    routes_[path] = std::move(handler);
}

void LoopbackServer::start() {
    acceptor_ = std::thread([this] { accept_loop(); });
}

void LoopbackServer::stop() {
    stopping_ = true;
    if (acceptor_.joinable()) {
        acceptor_.join();
    }
    std::lock_guard<std::mutex> lock(workers_mutex_);
    for (std::thread& worker : workers_) {
        worker.join();
    }
    workers_.clear();
}

void LoopbackServer::accept_loop() {
    while (!stopping_) {
        pollfd waiting{listen_fd_, POLLIN, 0};
        if (::poll(&waiting, 1, 20) <= 0) {
            continue;
        }
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) {
            continue;
        }
        std::lock_guard<std::mutex> lock(workers_mutex_);
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

const Handler* LoopbackServer::find(const std::string& path) const {
    if (auto exact = routes_.find(path); exact != routes_.end()) {
        return &exact->second;
    }
    const Handler* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& [prefix, handler] : routes_) {
        if (!prefix.empty() && prefix.back() == '/' && path.rfind(prefix, 0) == 0 &&
            prefix.size() > best_length) {
            best = &handler;
            best_length = prefix.size();
        }
    }
    return best;
}

void LoopbackServer::serve(int fd) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
        pollfd waiting{fd, POLLIN, 0};
        if (::poll(&waiting, 1, 2000) <= 0) {
            break;
        }
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            break;
        }
        head.append(buffer, static_cast<std::size_t>(n));
    }
    const Request request = parse_request(head);
    const Handler* handler = find(request.path);
    send_all(fd, handler != nullptr ? (*handler)(request) : http_response(404, "not found"));
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
}

}  // namespace clipdex::hub::test
