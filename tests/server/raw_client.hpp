#pragma once
// Test-only: a blocking TCP client on 127.0.0.1 with a deadline on every read, which parses the
// responses it receives byte by byte (tests/server/*_test.cpp).

#include <boost/beast/core/string.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace httpy::test {

using namespace std::chrono_literals;

/// One response as received: the status, the head's header lines in order, the body.
struct raw_response {
    std::string version;
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// Every value of `name` (case-insensitive), in order.
    std::vector<std::string> all(std::string_view name) const {
        std::vector<std::string> out;
        for (const auto& [n, v] : headers)
            if (boost::beast::iequals(n, name))
                out.push_back(v);
        return out;
    }

    /// The first value of `name`, if any.
    std::optional<std::string> header(std::string_view name) const {
        auto values = all(name);
        if (values.empty())
            return std::nullopt;
        return values.front();
    }
};

/// The outcome of waiting for the peer to close.
enum class close_outcome { closed, reset, timed_out, got_bytes };

/// A connection to 127.0.0.1:`port`.
class raw_client {
public:
    /// Throws: std::system_error when the connection is refused or fails.
    explicit raw_client(unsigned short port) : fd_(connect_to(port)) {
        if (fd_ < 0)
            throw std::system_error(errno, std::system_category(), "connect");
    }
    ~raw_client() { ::close(fd_); }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    /// -1 with errno set when connecting fails (ECONNREFUSED when nothing listens).
    static int connect_to(unsigned short port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
            const int error = errno;
            ::close(fd);
            errno = error;
            return -1;
        }
        return fd;
    }

    /// True when connecting to `port` is refused (nothing listens there).
    static bool refused(unsigned short port) {
        const int fd = connect_to(port);
        if (fd >= 0) {
            ::close(fd);
            return false;
        }
        return errno == ECONNREFUSED;
    }

    /// Sends all of `bytes`. Throws: std::system_error.
    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                throw std::system_error(errno, std::system_category(), "send");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// Ends the sending side (the server reads EOF).
    void shutdown_send() { ::shutdown(fd_, SHUT_WR); }

    /// The next response, or nullopt when the connection closes (or `timeout` passes) before
    /// it is complete. `head`: the answer to a HEAD request (no body whatever its headers say).
    std::optional<raw_response> read_response(bool head = false,
                                              std::chrono::milliseconds timeout = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::size_t end;
        while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
            if (!fill(deadline))
                return std::nullopt;
        raw_response r = parse_head(buffer_.substr(0, end + 2));
        buffer_.erase(0, end + 4);
        std::size_t length = 0;
        if (!head && r.status >= 200 && r.status != 204 && r.status != 304)
            if (auto cl = r.header("Content-Length"))
                length = std::stoul(*cl);
        while (buffer_.size() < length)
            if (!fill(deadline))
                return std::nullopt;
        r.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        return r;
    }

    /// Waits, at most `timeout`, for the server to close; bytes received meanwhile (beyond the
    /// responses already read) give got_bytes.
    close_outcome wait_for_close(std::chrono::milliseconds timeout = 5s) {
        if (!buffer_.empty())
            return close_outcome::got_bytes;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const int wait = remaining(deadline);
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, wait);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready == 0)
                return close_outcome::timed_out;
            char c;
            const ssize_t n = ::recv(fd_, &c, 1, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                return close_outcome::closed;
            if (n < 0)
                return errno == ECONNRESET ? close_outcome::reset : close_outcome::closed;
            buffer_.push_back(c);
            return close_outcome::got_bytes;
        }
    }

    /// Receives until what is pending contains `marker`, the connection closes or `timeout`
    /// passes; returns what is pending (none of it is taken).
    const std::string& read_until(std::string_view marker, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (buffer_.find(marker) == std::string::npos && fill(deadline)) {
        }
        return buffer_;
    }

    /// What was received and not yet taken by read_response.
    const std::string& pending() const { return buffer_; }

private:
    static int remaining(std::chrono::steady_clock::time_point deadline) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        return left.count() < 0 ? 0 : static_cast<int>(left.count());
    }

    // Receives more bytes into buffer_; false at EOF, on an error or at the deadline.
    bool fill(std::chrono::steady_clock::time_point deadline) {
        for (;;) {
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, remaining(deadline));
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0)
                return false;
            char chunk[16384];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return false;
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
    }

    static raw_response parse_head(const std::string& head) {
        raw_response r;
        std::size_t line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);
        const auto first_space = status_line.find(' ');
        r.version = status_line.substr(0, first_space);
        if (first_space != std::string::npos)
            r.status = std::stoi(status_line.substr(first_space + 1, 3));
        std::size_t pos = line_end + 2;
        while (pos < head.size()) {
            line_end = head.find("\r\n", pos);
            const std::string line = head.substr(pos, line_end - pos);
            pos = line_end + 2;
            const auto colon = line.find(':');
            if (colon == std::string::npos)
                throw std::runtime_error("bad header line in a response: " + line);
            std::string value = line.substr(colon + 1);
            const auto start = value.find_first_not_of(" \t");
            value = start == std::string::npos ? std::string() : value.substr(start);
            r.headers.emplace_back(line.substr(0, colon), value);
        }
        return r;
    }

    int fd_;
    std::string buffer_;
};

} // namespace httpy::test
