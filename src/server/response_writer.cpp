#include "server/response_writer.hpp"

#include "core/declared_length.hpp"
#include "httpy/body_file.hpp"
#include "httpy/body_stream.hpp"
#include "server/response_head.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

namespace httpy::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// Bytes one sendfile call may move: large enough for few calls, small enough that one slow
// file does not keep the strand from its other work for long.
constexpr std::size_t sendfile_step = 1024 * 1024;
// Bytes of a file read at a time to be written through TLS (which sendfile cannot do): four
// records of the largest size.
constexpr std::size_t tls_file_step = 64 * 1024;

// An operation cancelled because the connection's deadline passed is a timeout.
error_code timed(const connection& conn, const error_code& ec) {
    return ec == net::error::operation_aborted && conn.timed_out ? error_code(beast::error::timeout)
                                                                 : ec;
}

// How the body is framed. A HEAD answer announces what the GET would send: the application's
// own Content-Length when it gave one (RFC 9110 8.6; a WSGI app answers HEAD with that header
// and no body), else the length of the body it produced anyway.
body_framing framing_of(const response& r, response_mode mode) {
    if (mode.head)
        if (auto n = declared_length(r); n && !r.file && !r.stream)
            return {body_framing::content_length, *n};
    const unsigned version = mode.version;
    if (r.file)
        return {body_framing::content_length, r.body.size() + r.file->length()};
    if (!r.stream)
        return {body_framing::content_length, r.body.size()};
    if (auto n = declared_length(r))
        return {body_framing::content_length, *n};
    return {version == 10 ? body_framing::close : body_framing::chunked, 0};
}

// "1a2b\r\n": the size line of a chunk of `n` bytes.
std::string chunk_size_line(std::size_t n) {
    std::array<char, 20> digits{};
    auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), n, 16);
    std::string line(digits.data(), end);
    line.append("\r\n");
    return line;
}

class writer {
public:
    writer(connection& conn, const server_options& options) : conn_(conn), options_(options) {}

    net::awaitable<written> run(response r, response_mode mode, bool keep_alive);

private:
    net::awaitable<bool> send(std::string_view head, std::string_view data);
    net::awaitable<bool> send_file(const body_file& file);
    net::awaitable<bool> send_file_through_tls(const body_file& file);
    net::awaitable<bool> send_stream(body_stream& stream, std::uint64_t sent);
    void log_failed_write(const error_code& ec) const;
    bool file_ended_short(std::uint64_t left) const;

    connection& conn_;
    const server_options& options_;
    body_framing framing_;
    std::uint64_t body_bytes_ = 0;
};

net::awaitable<written> writer::run(response r, response_mode mode, bool keep_alive) {
    framing_ = framing_of(r, mode);
    if (framing_.kind == body_framing::close)
        keep_alive = false;
    const bool with_body = !mode.head && !bodyless_status(r.status);
    const std::string head = response_head(r, mode.version, keep_alive, framing_);
    if (!with_body || (!r.file && !r.stream)) {
        const bool ok = co_await send(head, with_body ? std::string_view(r.body) : std::string_view());
        co_return written{ok, ok && keep_alive, body_bytes_};
    }
    std::string_view first = r.body;
    if (framing_.kind == body_framing::content_length && first.size() > framing_.length)
        first = first.substr(0, static_cast<std::size_t>(framing_.length));
    if (!co_await send(head, first))
        co_return written{false, false, body_bytes_};
    bool whole = false;
    if (r.file)
        whole = co_await send_file(*r.file);
    else
        whole = co_await send_stream(*r.stream, first.size());
    co_return written{whole, whole && keep_alive, body_bytes_};
}

// Writes `head` (may be empty) and `data` as one piece of the body, framed.
net::awaitable<bool> writer::send(std::string_view head, std::string_view data) {
    std::string size_line;
    std::array<net::const_buffer, 4> buffers{net::buffer(head), net::buffer(data)};
    if (framing_.kind == body_framing::chunked && !data.empty()) {
        size_line = chunk_size_line(data.size());
        buffers = {net::buffer(head), net::buffer(size_line), net::buffer(data),
                   net::buffer("\r\n", 2)};
    }
    conn_.expire_after(options_.write_timeout);
    auto [ec, n] = co_await conn_.write(buffers);
    if (ec) {
        log_failed_write(ec);
        co_return false;
    }
    body_bytes_ += data.size();
    co_return true;
}

net::awaitable<bool> writer::send_file(const body_file& file) {
    if (conn_.tls)
        co_return co_await send_file_through_tls(file);
    error_code ec;
    conn_.socket.native_non_blocking(true, ec);
    auto offset = static_cast<off_t>(file.offset());
    std::uint64_t left = file.length();
    while (left > 0 && !ec) {
        const auto step = static_cast<std::size_t>(std::min<std::uint64_t>(left, sendfile_step));
        const ssize_t n = ::sendfile(conn_.socket.native_handle(), file.fd(), &offset, step);
        if (n > 0) {
            left -= static_cast<std::uint64_t>(n);
            body_bytes_ += static_cast<std::uint64_t>(n);
        } else if (n == 0) {
            co_return file_ended_short(left);
        } else if (errno == EAGAIN) {
            conn_.expire_after(options_.write_timeout);
            std::tie(ec) = co_await conn_.socket.async_wait(net::socket_base::wait_write, use_tuple);
        } else if (errno != EINTR) {
            ec = error_code(errno, boost::system::system_category());
        }
    }
    if (ec) {
        log_failed_write(ec);
        co_return false;
    }
    co_return true;
}

// The file region read into a buffer a step at a time, each step written through TLS.
net::awaitable<bool> writer::send_file_through_tls(const body_file& file) {
    const auto buffer = std::make_unique_for_overwrite<char[]>(tls_file_step);
    auto offset = static_cast<off_t>(file.offset());
    std::uint64_t left = file.length();
    while (left > 0) {
        const auto step = static_cast<std::size_t>(std::min<std::uint64_t>(left, tls_file_step));
        const ssize_t n = ::pread(file.fd(), buffer.get(), step, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            spdlog::warn("{}: reading the file being sent failed: {}; closing", conn_.peer(),
                         std::strerror(errno));
            co_return false;
        }
        if (n == 0)
            co_return file_ended_short(left);
        conn_.expire_after(options_.write_timeout);
        auto [ec, written] = co_await conn_.write(
            net::buffer(buffer.get(), static_cast<std::size_t>(n)));
        if (ec) {
            log_failed_write(ec);
            co_return false;
        }
        offset += n;
        left -= static_cast<std::uint64_t>(n);
        body_bytes_ += static_cast<std::uint64_t>(n);
    }
    co_return true;
}

// Pulls the stream's chunks and sends them; `sent` body bytes are out already.
net::awaitable<bool> writer::send_stream(body_stream& stream, std::uint64_t sent) {
    const bool bounded = framing_.kind == body_framing::content_length;
    for (;;) {
        if (bounded && sent == framing_.length)
            break; // what comes after the announced length would be cut anyway: stop pulling
        conn_.never_expire(); // the handler's timeout applies to every chunk
        call_result next = co_await stream.async_next(
            net::bind_cancellation_slot(conn_.call_cancel.slot(), net::use_awaitable));
        if (next.error) // the executor has logged why
            co_return false;
        std::string_view chunk = next.resp.body;
        if (chunk.empty())
            break;
        if (bounded && sent + chunk.size() > framing_.length) {
            spdlog::warn("{}: the response body is longer than its Content-Length of {}; cut "
                         "there",
                         conn_.peer(), framing_.length);
            chunk = chunk.substr(0, static_cast<std::size_t>(framing_.length - sent));
        }
        if (!co_await send({}, chunk))
            co_return false;
        sent += chunk.size();
    }
    if (bounded && sent < framing_.length) {
        spdlog::warn("{}: the response body ended after {} of its Content-Length of {} bytes; "
                     "closing the connection",
                     conn_.peer(), sent, framing_.length);
        co_return false;
    }
    if (framing_.kind != body_framing::chunked)
        co_return true;
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    conn_.expire_after(options_.write_timeout);
    auto [ec, n] = co_await conn_.write(net::buffer(last_chunk));
    if (ec) {
        log_failed_write(ec);
        co_return false;
    }
    co_return true;
}

// A file that ends before the length announced (truncated meanwhile): the body is cut.
bool writer::file_ended_short(std::uint64_t left) const {
    spdlog::warn("{}: the file being sent ended {} bytes short of its length; closing",
                 conn_.peer(), left);
    return false;
}

void writer::log_failed_write(const error_code& ec) const {
    const error_code why = timed(conn_, ec);
    if (why == beast::error::timeout) {
        // The client stopped reading: close with a reset (as nginx's reset_timedout_connection)
        // so the kernel drops the unsent bytes now, not after minutes of zero-window probes.
        error_code ignored;
        conn_.socket.set_option(net::socket_base::linger(true, 0), ignored);
    }
    if (why != net::error::operation_aborted)
        spdlog::info("{}: writing the response failed: {}", conn_.peer(), why.message());
}

} // namespace

net::awaitable<written> write_response(connection& conn, const server_options& options,
                                       response r, response_mode mode, bool keep_alive) {
    writer w(conn, options);
    co_return co_await w.run(std::move(r), mode, keep_alive);
}

} // namespace httpy::detail
