#include "server/http_listener.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <vector>

#include "clipdex/error.h"
#include "server/http_connection.h"

namespace clipdex::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

Listener::Listener(const Router& router, const ListenerOptions& options)
    : router_(router), options_(options), workers_(std::max<size_t>(1, options.worker_threads)) {}

Listener::~Listener() {
    destroying_ = true;
    workers_.stop();
    workers_.join();
}

int Listener::bind(const std::string& host, int port) {
    const std::string where = host + ":" + std::to_string(port);
    try {
        tcp::resolver resolver(io_);
        const auto endpoints = resolver.resolve(
            host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service);
        const tcp::endpoint endpoint = endpoints.begin()->endpoint();
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(asio::socket_base::max_listen_connections);
        return acceptor_.local_endpoint().port();
    } catch (const boost::system::system_error& e) {
        throw Error(ErrorCode::Unavailable,
                    "cannot listen on " + where + ": " + e.code().message());
    }
}

void Listener::run() {
    accept();
    io_.run();
    // Handlers still running finish; their answers go to sockets that are closed by now.
    workers_.join();
    io_.restart();
    io_.poll();
}

void Listener::stop() {
    asio::post(io_, [this] { begin_shutdown(); });
}

bool Listener::try_enqueue() {
    if (pending_.load() >= options_.worker_threads + options_.max_queue) return false;
    ++pending_;
    return true;
}

bool Listener::reserve_body(size_t bytes) {
    if (bytes > options_.max_body_memory - std::min(body_reserved_, options_.max_body_memory))
        return false;
    body_reserved_ += bytes;
    return true;
}

void Listener::forget(Connection* connection) {
    connections_.erase(connection);
    if (!destroying_) finish_if_drained();
}

void Listener::accept() {
    acceptor_.async_accept([this](const error_code& error, tcp::socket socket) {
        if (stopping_ || error == asio::error::operation_aborted) return;
        if (error) {
            // Out of descriptors or a client that left before accept: try again shortly
            // instead of spinning.
            retry_timer_.expires_after(std::chrono::milliseconds(100));
            retry_timer_.async_wait([this](const error_code& wait_error) {
                if (!wait_error && !stopping_) accept();
            });
            return;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // no Nagle stall on keep-alive
        auto connection = std::make_shared<Connection>(std::move(socket), *this);
        const bool refuse = connections_.size() >= options_.max_connections;
        connections_[connection.get()] = connection;
        connection->start(refuse);
        accept();
    });
}

void Listener::begin_shutdown() {
    if (stopping_) return;
    stopping_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    std::vector<std::shared_ptr<Connection>> open;
    for (auto& [raw, weak] : connections_)
        if (auto connection = weak.lock()) open.push_back(std::move(connection));
    for (auto& connection : open) connection->shutdown();
    grace_timer_.expires_after(options_.shutdown_grace);
    grace_timer_.async_wait([this](const error_code& error) {
        if (error) return;
        std::vector<std::shared_ptr<Connection>> left;
        for (auto& [raw, weak] : connections_)
            if (auto connection = weak.lock()) left.push_back(std::move(connection));
        for (auto& connection : left) connection->abort();
    });
    open.clear();
    finish_if_drained();
}

void Listener::finish_if_drained() {
    if (stopping_ && connections_.empty()) grace_timer_.cancel();
}

}  // namespace clipdex::server
