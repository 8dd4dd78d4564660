// One accepted TCP connection: a loop of (wait for bytes, read header, check, read body,
// dispatch, write) until the client closes, a deadline passes, the keep-alive request cap is
// reached or the server stops. Lives on the Listener's I/O thread; handlers run on the pool.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "server/http_framing.h"

namespace clipdex::server {

class Listener;

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(boost::asio::ip::tcp::socket socket, Listener& listener);
    ~Connection();
    // Serves requests; with `refuse` set, answers 503 (too many connections) and closes.
    void start(bool refuse);
    // On shutdown: a connection between requests or still reading a header closes now; one
    // reading a body, waiting for its handler or writing finishes that request, then closes.
    void shutdown();
    // At the end of the shutdown grace: close whatever state it is in.
    void abort();

  private:
    enum class State { Idle, Header, Body, Handler, Writing, Closing };

    void wait_for_request();
    void read_header();
    void on_header(const boost::system::error_code& error);
    void read_body(bool start_deadline);
    void on_body(const boost::system::error_code& error);
    // A failed header or body read: 408 after a deadline, a quiet close when the client left,
    // else the refusal the error calls for (`buffered`: the header bytes read so far).
    void end_on_read_error(const boost::system::error_code& error, std::string_view buffered);
    void dispatch();
    void write(Response response);
    void close_gracefully();
    void drain();
    // Read deadlines: on expiry the socket's operations are cancelled (not the socket closed,
    // as Beast's own stream timeout does), so that a 408 can still be written.
    void arm(std::chrono::milliseconds limit);
    void disarm();
    void release_body();

    boost::beast::tcp_stream stream_;
    Listener& listener_;
    boost::asio::steady_timer deadline_;
    uint64_t deadline_generation_ = 0;
    bool timed_out_ = false;
    boost::beast::flat_buffer buffer_;
    std::optional<RequestParser> parser_;
    Request request_;
    const Route* route_ = nullptr;
    State state_ = State::Idle;
    size_t served_ = 0;
    size_t drained_ = 0;
    size_t body_reserved_ = 0;  // of the listener's body memory budget, until the answer
    bool keep_alive_ = false;
    std::shared_ptr<void> message_;  // the response being written
    char discard_[4096];
};

}  // namespace clipdex::server
