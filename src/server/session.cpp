#include "server/connection.hpp"

#include "httpy/call_error.hpp"
#include "httpy/header_name.hpp"
#include "httpy/router.hpp"
#include "httpy/status.hpp"
#include "server/access_log.hpp"
#include "server/exchange_record.hpp"
#include "server/forwarded.hpp"
#include "server/http_metrics.hpp"
#include "server/request_error.hpp"
#include "server/request_parser.hpp"
#include "server/request_reader.hpp"
#include "server/response_writer.hpp"
#include "server/tls_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <optional>

namespace httpy::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using clock_type = std::chrono::steady_clock;

// How long, and for how many bytes, a connection closing after an error answer keeps reading
// what the client still sends (see session::linger).
constexpr std::chrono::milliseconds linger_time{1000};
constexpr std::size_t linger_bytes = 16 * 1024 * 1024;

// How a failed read of a started request is answered: its status (0 when the connection just
// closes: the client left, a stop cancelled the read) and the reason metrics count it under.
struct refusal {
    int status = 0;
    std::string_view reason;
};

refusal refusal_for(const error_code& ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
        return {431, "header_too_large"};
    if (ec == http::error::body_limit)
        return {413, "body_too_large"};
    if (ec == beast::error::timeout) // set by the session when the sweeper cancelled the read
        return {408, "timeout"};
    if (ec == http::error::end_of_stream || ec == http::error::partial_message)
        return {};
    // Every other parser error is a malformed request line, header or framing.
    if (ec.category() == request_error_category()) {
        const auto e = static_cast<request_error>(ec.value());
        return {status_of(e), reason_of(e)};
    }
    if (ec == http::error::bad_target)
        return {400, "bad_target"};
    if (ec.category() == http::make_error_code(http::error::bad_target).category())
        return {400, "malformed"};
    return {};
}

// Whether the connection stays open after `r`: as the client asked, unless the handler's
// response says `Connection: close` or the server is stopping.
bool keep_alive(const response_mode& mode, const response& r, bool stopping) {
    if (!mode.keep_alive || stopping)
        return false;
    const auto* c = r.headers.find("Connection");
    return !(c && !c->empty() && beast::iequals(c->front(), "close"));
}

// A request still running, or not started, at the drain deadline (its call was cancelled).
response drain_ended_response() {
    response r = status_response(503);
    r.headers.add("Retry-After", "1");
    return r;
}

// The server's own options (RFC 9110 9.3.7) for `OPTIONS *`, as Go answers them: 200, empty.
response server_options_response() {
    response r;
    r.status = 200;
    return r;
}

// The header values the access log names, copied before the request moves to its handler.
struct logged_headers {
    std::string request_id, referer, user_agent;

    explicit logged_headers(const fields& headers) {
        for (auto [name, value] : {std::pair{"X-Request-Id", &request_id},
                                   {"Referer", &referer}, {"User-Agent", &user_agent}})
            if (const auto* v = headers.find(name); v && !v->empty())
                *value = v->front();
    }
};

class session {
public:
    session(std::shared_ptr<connection> conn, const session_context& ctx)
        : conn_(std::move(conn)), ctx_(ctx), buffer_(ctx.options.max_header_bytes + 64 * 1024),
          proxy_peer_(ctx.proxies.trusts(conn_->remote_address)) {}

    net::awaitable<void> run();

private:
    void close();
    net::awaitable<bool> wait_for_request();
    net::awaitable<error_code> read(request_reader& reader, bool (request_reader::*enough)() const);
    net::awaitable<error_code> read_body(request_reader& reader);
    error_code timed(const error_code& ec) const;
    net::awaitable<bool> serve_one();
    net::awaitable<response> dispatch(request& req);
    void watch_for_close();
    response call_native(const native_handler& handler, const request& req) const;
    net::awaitable<void> reject(const error_code& ec, const request_reader& reader);
    net::awaitable<void> linger();
    void count_call(const call_result& result) const;
    exchange_record exchange(const request_reader& reader, std::string_view method,
                             const logged_headers& logged, int status, std::uint64_t sent) const;
    void record(const exchange_record& r) const;

    std::shared_ptr<connection> conn_;
    const session_context& ctx_;
    beast::flat_buffer buffer_;
    // Whether the peer is a trusted proxy, whose proxy headers name the client.
    bool proxy_peer_;
    // The route the request being served matched ("" when none did); points into the router.
    std::string_view route_;
    // The client of the request being served, as the record names it (see dispatch).
    std::string client_address_;
    unsigned short client_port_ = 0;
    // When the request being served began: its first byte (read by wait_for_request) was in.
    clock_type::time_point start_;
    std::chrono::system_clock::time_point received_; // for the access log only
};

// An operation cancelled because the connection's deadline passed is a timeout.
error_code session::timed(const error_code& ec) const {
    return ec == net::error::operation_aborted && conn_->timed_out
               ? error_code(beast::error::timeout)
               : ec;
}

net::awaitable<void> session::run() {
    if (conn_->tls_context) {
        const bool secured = co_await tls_handshake(*conn_, ctx_.options.tls_handshake_timeout);
        if (!secured) {
            close();
            co_return;
        }
    }
    for (;;) { // no co_await inside && : g++ 12 miscompiles it
        const bool waiting = co_await wait_for_request();
        if (!waiting)
            break;
        const bool served = co_await serve_one();
        if (!served)
            break;
    }
    co_await send_close_notify(*conn_);
    close();
}

void session::close() {
    error_code ignored;
    conn_->never_expire();
    conn_->socket.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    conn_->socket.close(ignored);
}

// Waits, within the idle timeout, for the first byte of the next request unless pipelined bytes
// are already buffered. False when the connection should close.
net::awaitable<bool> session::wait_for_request() {
    if (buffer_.size() > 0)
        co_return true;
    const bool stopping = conn_->closing;
    if (stopping && !conn_->fresh && conn_->unread() == 0)
        co_return false; // stopping, and no further request has arrived

    conn_->idle = true;
    conn_->expire_after(stopping ? fresh_connection_grace : ctx_.options.idle_timeout);
    auto [ec, n] = co_await conn_->read_some(buffer_.prepare(4096));
    conn_->idle = false;
    conn_->fresh = false;
    buffer_.commit(n);
    co_return !ec && n > 0;
}

// Feeds what the connection receives to `reader` until (reader.*enough)() holds. Returns the
// error that stopped it: the reader's refusal, a read error, or partial_message at EOF.
net::awaitable<error_code> session::read(request_reader& reader,
                                         bool (request_reader::*enough)() const) {
    for (;;) {
        if (buffer_.size() > 0) {
            error_code ec;
            const auto data = buffer_.data();
            buffer_.consume(reader.put({static_cast<char*>(data.data()), data.size()}, ec));
            if (ec)
                co_return ec;
        }
        if ((reader.*enough)())
            co_return error_code();
        const std::size_t room = beast::read_size(buffer_, 64 * 1024);
        if (room == 0) // cannot happen: the reader refuses a head over the limit first
            co_return http::error::buffer_overflow;
        auto [ec, n] = co_await conn_->read_some(buffer_.prepare(room));
        buffer_.commit(n);
        if (ec && end_of_stream(ec))
            co_return http::error::partial_message;
        if (ec)
            co_return ec;
    }
}

// Sends `100 Continue` when the client waits for it, then reads the body.
net::awaitable<error_code> session::read_body(request_reader& reader) {
    const request_parser& parser = reader.head();
    if (parser.expects_continue() && parser.version() >= 11) {
        static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_->expire_after(ctx_.options.write_timeout);
        auto [ec, n] = co_await conn_->write(net::buffer(go_on));
        if (ec)
            co_return ec;
    }
    conn_->expire_after(ctx_.options.body_timeout);
    co_return co_await read(reader, &request_reader::done);
}

net::awaitable<bool> session::serve_one() {
    start_ = clock_type::now();
    if (ctx_.log)
        received_ = std::chrono::system_clock::now();
    route_ = {};
    client_address_.clear();
    client_port_ = 0;
    request_reader reader(ctx_.options);

    conn_->expire_after(ctx_.options.header_timeout);
    const error_code head_ec = co_await read(reader, &request_reader::head_done);
    if (head_ec) {
        co_await reject(timed(head_ec), reader);
        co_return false;
    }
    if (!reader.done()) {
        const error_code body_ec = co_await read_body(reader);
        if (body_ec) {
            co_await reject(timed(body_ec), reader);
            co_return false;
        }
    }
    conn_->never_expire(); // the handler's own timeout applies while it runs
    ctx_.requests.fetch_add(1, std::memory_order_relaxed);
    const bool recorded = ctx_.metrics || ctx_.log;
    // What the record needs of the request, taken before the request moves on to its handler.
    const std::string method = recorded ? reader.get().method : std::string();
    const std::uint64_t body_bytes = recorded ? reader.get().body_size() : 0;
    const logged_headers logged = ctx_.log ? logged_headers(reader.get().headers)
                                           : logged_headers(fields());
    if (ctx_.metrics)
        ctx_.metrics->request_began();
    const response_mode mode = reader.mode();
    response r; // no co_await inside ?: either, for g++ 12's sake
    if (reader.asterisk())
        r = server_options_response();
    else
        r = co_await dispatch(reader.get()); // moves the request on to its handler
    const int status = r.status;
    const bool keep = keep_alive(mode, r, conn_->closing || ctx_.keep_alive_ended);
    const written out = co_await write_response(*conn_, ctx_.options, std::move(r), mode, keep);
    if (recorded) {
        exchange_record answered = exchange(reader, method, logged, status, out.body_bytes);
        answered.route = route_;
        answered.request_body_bytes = body_bytes;
        record(answered);
    }
    co_return out.keep_alive;
}

net::awaitable<response> session::dispatch(request& req) {
    req.remote_address = conn_->remote_address;
    req.remote_port = conn_->remote_port;
    req.local_address = conn_->local_address;
    req.local_port = conn_->local_port;
    if (conn_->tls)
        req.scheme = "https"; // a trusted proxy's headers may still say otherwise
    if (proxy_peer_)
        apply_proxy_headers(ctx_.proxies, req);
    if (proxy_peer_ && (ctx_.metrics || ctx_.log)) {
        client_address_ = req.remote_address;
        client_port_ = req.remote_port;
    }
    route_match match = ctx_.routes.match(req.method, req.path);
    route_ = match.route;
    if (match.status == 404)
        co_return status_response(404);
    if (match.status == 405)
        co_return method_not_allowed(match.allowed);
    req.params = std::move(match.params);
    if (const auto* native = std::get_if<native_handler>(match.handler))
        co_return call_native(*native, req);
    if (conn_->drain_over) // past the drain deadline: no call starts any more
        co_return drain_ended_response();
    // The one call of an asynchronous (Python) handler: it resumes this coroutine on the
    // connection's strand with a response for every outcome (500, 503, 504 included). Bound to
    // the connection's signal: at the drain deadline the server cancels the call.
    ++conn_->calls;
    watch_for_close();
    call_result result = co_await async_call(
        std::get<async_handler>(*match.handler), std::move(req),
        net::bind_cancellation_slot(conn_->call_cancel.slot(), net::use_awaitable));
    ++conn_->calls; // the watch, if still set, is for a call that has ended
    error_code ignored;
    conn_->socket.cancel(ignored);
    count_call(result);
    if (result.error == net::error::operation_aborted)
        co_return drain_ended_response();
    co_return std::move(result.resp);
}

// While a Python call runs, watches the socket: when the client closes the connection (or its
// sending side: the two look alike until a write fails), tells the call with total
// cancellation, which cancels nothing (see executor::state::cancel); an ASGI application's
// receive() then returns http.disconnect. Bytes of a pipelined request end the watch: the
// client is still there, and they wait for their turn in the socket. Over TLS a client's
// close_notify is such bytes too: only its socket's close is seen.
void session::watch_for_close() {
    if (buffer_.size() > 0 || conn_->tls_pending() > 0) // a pipelined request is in already
        return;
    conn_->socket.async_wait(
        net::ip::tcp::socket::wait_read, [conn = conn_, call = conn_->calls](error_code ec) {
            if (ec || conn->calls != call)
                return; // the call has ended (the wait was cancelled)
            if (conn->unread() == 0) // end of stream, or an error
                conn->call_cancel.emit(net::cancellation_type::total);
        });
}

// A native handler that throws gets 500, as a Python exception does; the connection lives on.
response session::call_native(const native_handler& handler, const request& req) const {
    try {
        return handler(req);
    } catch (const std::exception& e) {
        spdlog::error("{}: the native handler for {} {} threw: {}; answering 500",
                      conn_->peer(), req.method, req.path, e.what());
    } catch (...) {
        spdlog::error("{}: the native handler for {} {} threw a non-standard exception; "
                      "answering 500",
                      conn_->peer(), req.method, req.path);
    }
    return status_response(500);
}

// Answers a request that could not be read (when an answer is owed), then the connection closes.
net::awaitable<void> session::reject(const error_code& ec, const request_reader& reader) {
    const auto [status, reason] = refusal_for(ec);
    if (status == 0)
        co_return;
    if (ctx_.metrics)
        ctx_.metrics->bad_request(status, reason);
    if (ec == request_error::bad_target || ec == request_error::too_many_query_params)
        spdlog::warn("{}: {} \"{:.256}\"; answering {} and closing", conn_->peer(),
                     ec.message(), reader.head().target(), status);
    else
        spdlog::warn("{}: {}; answering {} and closing", conn_->peer(), ec.message(), status);
    const written out =
        co_await write_response(*conn_, ctx_.options, status_response(status), response_mode{}, false);
    if (ctx_.log) {
        const request& partial = reader.get(); // as far as it was read
        ctx_.log->write(
            exchange(reader, partial.method, logged_headers(partial.headers), status, out.body_bytes));
    }
    if (out.whole && status != 408)
        co_await linger();
}

// After an error answer, the client may still be sending (the rest of a body over the limit):
// closing with its bytes unread would send a reset that can destroy the answer before the
// client reads it. So, as nginx's lingering_close: end the sending side, then read and discard
// until the client closes, for at most linger_time and linger_bytes. Over TLS the sending side
// ends with close_notify, and what still comes is discarded undecrypted.
net::awaitable<void> session::linger() {
    co_await send_close_notify(*conn_);
    error_code ec;
    conn_->socket.shutdown(net::ip::tcp::socket::shutdown_send, ec);
    if (ec)
        co_return;
    conn_->expire_after(linger_time);
    std::size_t discarded = 0;
    while (discarded < linger_bytes) {
        buffer_.clear();
        auto [read_ec, n] = co_await conn_->socket.async_read_some(buffer_.prepare(64 * 1024),
                                                                   use_tuple);
        if (read_ec)
            break;
        discarded += n;
    }
    buffer_.clear();
}

// The calls answered for their handler: 504 at its timeout, 503 when the queue was full.
void session::count_call(const call_result& result) const {
    if (!ctx_.metrics)
        return;
    if (result.error == call_error::timed_out)
        ctx_.metrics->handler_timed_out();
    else if (result.error == call_error::overloaded)
        ctx_.metrics->overloaded();
}

// The record of the request being served, now that `sent` body bytes of its answer are out:
// all but its route and request body size, which only a request read in full has.
exchange_record session::exchange(const request_reader& reader, std::string_view method,
                                  const logged_headers& logged, int status,
                                  std::uint64_t sent) const {
    const bool proxied = !client_address_.empty();
    return {.client_address = proxied ? std::string_view(client_address_) : conn_->remote_address,
            .client_port = proxied ? client_port_ : conn_->remote_port,
            .method = method,
            .target = reader.head().target(),
            .version = reader.head().version(),
            .status = status,
            .response_body_bytes = sent,
            .request_id = logged.request_id,
            .referer = logged.referer,
            .user_agent = logged.user_agent,
            .received = received_,
            .duration = clock_type::now() - start_};
}

void session::record(const exchange_record& r) const {
    if (ctx_.metrics)
        ctx_.metrics->request_ended(r);
    if (ctx_.log)
        ctx_.log->write(r);
}

} // namespace

net::awaitable<void> serve(std::shared_ptr<connection> conn, const session_context& ctx) {
    session s(std::move(conn), ctx);
    co_await s.run();
}

} // namespace httpy::detail
