#include "server/http_connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "server/http_listener.h"

namespace clipdex::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

namespace {

constexpr size_t kDrainBytes = 1 << 20;  // read and dropped after a refusal, at most
constexpr auto kDrainTime = std::chrono::seconds(1);
const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

// The client went away or the server closed the socket: nothing to answer.
bool gone(const error_code& error) {
    return error == http::error::end_of_stream || error == asio::error::eof ||
           error == asio::error::connection_reset || error == asio::error::operation_aborted ||
           error == asio::error::broken_pipe || error == asio::error::bad_descriptor ||
           error == http::error::partial_message;
}

Response run_handler(const Handler& handler, const Request& request) {
    try {
        return handler(request);
    } catch (const std::exception& e) {
        return error_response(500, "internal", e.what());
    } catch (...) {
        return error_response(500, "internal", "handler failed with an unknown exception");
    }
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, Listener& listener)
    : stream_(std::move(socket)), listener_(listener), deadline_(stream_.get_executor()) {}

Connection::~Connection() {
    release_body();
    listener_.forget(this);
}

void Connection::start(bool refuse) {
    if (refuse) {
        Response busy = error_response(503, "unavailable",
                                       "too many open connections (" +
                                           std::to_string(listener_.options().max_connections) +
                                           ", --max-connections); retry later");
        busy.headers.emplace_back("Retry-After", "1");
        busy.close = true;
        write(std::move(busy));
        return;
    }
    // The first request's bytes and header must arrive within the header deadline.
    arm(listener_.options().header_timeout);
    wait_for_request();
}

void Connection::arm(std::chrono::milliseconds limit) {
    timed_out_ = false;
    const uint64_t generation = ++deadline_generation_;
    deadline_.expires_after(limit);
    deadline_.async_wait([weak = weak_from_this(), generation](const error_code& error) {
        auto self = weak.lock();
        if (error || !self || self->deadline_generation_ != generation) return;
        self->timed_out_ = true;
        error_code ignored;
        self->stream_.socket().cancel(ignored);
    });
}

void Connection::disarm() {
    ++deadline_generation_;
    deadline_.cancel();
}

void Connection::wait_for_request() {
    state_ = State::Idle;
    if (buffer_.size() > 0) {  // a pipelined request is already here
        if (served_ > 0) arm(listener_.options().header_timeout);
        return read_header();
    }
    if (served_ > 0) arm(listener_.options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(8192),
                            [self = shared_from_this()](const error_code& error, size_t n) {
                                if (error)
                                    return self->stream_.close();  // idle timeout, close, shutdown
                                self->buffer_.commit(n);
                                if (self->served_ > 0)
                                    self->arm(self->listener_.options().header_timeout);
                                self->read_header();
                            });
}

void Connection::read_header() {
    state_ = State::Header;
    parser_.emplace();
    prepare_parser(*parser_, listener_.options().framing);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const error_code& error, size_t) { self->on_header(error); });
}

void Connection::end_on_read_error(const error_code& error, std::string_view buffered) {
    if (timed_out_)
        return write(
            refusal_for_read_error(beast::error::timeout, {}, listener_.options().framing));
    if (gone(error)) return stream_.close();  // the client left, mid-header or mid-body
    write(refusal_for_read_error(error, buffered, listener_.options().framing));
}

void Connection::on_header(const error_code& error) {
    if (error) {
        const auto data = buffer_.cdata();
        return end_on_read_error(
            error, std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    request_ = Request{};
    HeadCheck check =
        check_head(*parser_, listener_.router(), listener_.options().framing, request_);
    if (check.refusal) return write(std::move(*check.refusal));
    route_ = check.route;
    if (parser_->is_done()) return dispatch();
    const auto& framing = listener_.options().framing;
    const size_t reserve = parser_->content_length()
                               ? static_cast<size_t>(*parser_->content_length())
                               : framing.max_body_bytes;
    if (!listener_.reserve_body(reserve)) {
        Response busy = error_response(503, "unavailable",
                                       request_.method + " " + request_.path +
                                           ": request bodies being received use the " +
                                           std::to_string(listener_.options().max_body_memory) +
                                           " bytes of --max-body-memory; retry later");
        busy.headers.emplace_back("Retry-After", "1");
        busy.close = true;
        return write(std::move(busy));
    }
    body_reserved_ = reserve;
    if (!check.expect_continue) return read_body(true);
    state_ = State::Body;
    arm(listener_.options().body_timeout);
    asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                      [self = shared_from_this()](const error_code& write_error, size_t) {
                          if (write_error) return self->stream_.close();
                          self->read_body(false);
                      });
}

void Connection::read_body(bool start_deadline) {
    state_ = State::Body;
    if (start_deadline) arm(listener_.options().body_timeout);
    set_body_limit(*parser_, listener_.options().framing);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const error_code& error, size_t) { self->on_body(error); });
}

void Connection::on_body(const error_code& error) {
    if (error) return end_on_read_error(error, {});
    request_.body = std::move(parser_->get().body());
    dispatch();
}

void Connection::dispatch() {
    state_ = State::Handler;
    disarm();
    if (route_->inline_ok) return write(run_handler(route_->handler, request_));
    if (!listener_.try_enqueue()) {
        Response busy = error_response(
            503, "unavailable",
            "server busy: " + std::to_string(listener_.options().worker_threads) +
                " workers and a queue of " + std::to_string(listener_.options().max_queue) +
                " requests are full (--http-threads, --max-queue); retry later");
        busy.headers.emplace_back("Retry-After", "1");
        return write(std::move(busy));
    }
    // The work guard keeps the I/O loop running while the handler works; the connection moves
    // back to the I/O thread with the answer, so it is never released on a worker.
    asio::post(listener_.workers(), [self = shared_from_this(),
                                     guard = asio::make_work_guard(listener_.io())]() mutable {
        Response response = run_handler(self->route_->handler, self->request_);
        self->listener_.dequeued();
        auto executor = self->stream_.get_executor();
        asio::post(executor, [self = std::move(self), response = std::move(response)]() mutable {
            self->write(std::move(response));
        });
    });
}

void Connection::release_body() {
    listener_.release_body(body_reserved_);
    body_reserved_ = 0;
}

void Connection::write(Response response) {
    state_ = State::Writing;
    disarm();
    release_body();  // the request (and its body) is done with
    request_.body.clear();
    request_.body.shrink_to_fit();
    const bool parsed = parser_ && parser_->is_header_done();
    keep_alive_ = !response.close && parsed && parser_->keep_alive() && !listener_.stopping() &&
                  served_ + 1 < listener_.options().max_keepalive_requests;
    auto message = std::make_shared<http::response<http::string_body>>();
    message->version(parsed ? parser_->get().version() : 11);
    message->result(static_cast<unsigned>(response.status));
    message->set(http::field::server, "clipdex");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->insert(name, value);
    message->content_length(response.body.size());
    if (!(parsed && parser_->get().method() == http::verb::head))
        message->body() = std::move(response.body);
    message->keep_alive(keep_alive_);
    message_ = message;
    stream_.expires_after(listener_.options().body_timeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this()](const error_code& error, size_t) {
                          self->message_.reset();
                          if (error) return self->stream_.close();
                          // A shutdown that began while this answer was being written: the
                          // connection was not idle then, so it is closed now rather than left
                          // waiting for a next request until the grace period ends.
                          if (!self->keep_alive_ || self->listener_.stopping())
                              return self->close_gracefully();
                          ++self->served_;
                          self->stream_.expires_never();
                          self->parser_.reset();
                          self->wait_for_request();
                      });
}

void Connection::close_gracefully() {
    // Half-close, then read and drop what the client still sends (a body we refused) for a
    // moment, so that closing with unread data does not reset the answer away.
    state_ = State::Closing;
    error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kDrainTime);
    drain();
}

void Connection::drain() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](const error_code& error, size_t n) {
                                self->drained_ += n;
                                if (error || self->drained_ > kDrainBytes)
                                    return self->stream_.close();
                                self->drain();
                            });
}

void Connection::shutdown() {
    if (state_ == State::Idle || state_ == State::Header) stream_.close();
}

void Connection::abort() {
    stream_.close();
}

}  // namespace clipdex::server
