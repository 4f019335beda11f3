#include "server/access_log.hpp"

#include "httpy/config_error.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using httpy::detail::access_log;
using httpy::detail::access_log_format;
using httpy::detail::exchange_record;
using httpy::detail::pipe_piece_size;
using httpy::test::temp_dir;

namespace {

// Logs `{target}` alone, so that a line is the target the test chose.
access_log_format target_only() { return access_log_format("{target}"); }

void write_target(access_log& log, const std::string& target) {
    exchange_record r;
    r.target = target;
    log.write(r);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The target of line `i` from writer `w`, padded so that lines are `width` bytes with their
// newline, and different from every other writer's and line's.
std::string numbered(std::size_t w, std::size_t i, std::size_t width = 100) {
    std::string target = "/w" + std::to_string(w) + "/" + std::to_string(i) + "/";
    target.resize(width - 1, 'x');
    return target;
}

// Sends the default logger to a string for the scope's life.
class captured_log {
public:
    captured_log() : saved_(spdlog::default_logger()) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>(
            "captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)));
    }
    ~captured_log() { spdlog::set_default_logger(saved_); }

    captured_log(const captured_log&) = delete;
    captured_log& operator=(const captured_log&) = delete;

    /// What was logged. Requires: every thread that logs to it stopped.
    std::string text() const { return text_.str(); }

private:
    std::ostringstream text_;
    std::shared_ptr<spdlog::logger> saved_;
};

// A FIFO in `dir`, and its reading end opened (so that a writer can open it) before any
// writer: reading blocks once the writers opened, and ends when they all closed it.
class fifo {
public:
    explicit fifo(const temp_dir& dir) : path_(dir.file("fifo")) {
        REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
        fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        REQUIRE(fd_ >= 0);
    }
    ~fifo() { ::close(fd_); }

    fifo(const fifo&) = delete;
    fifo& operator=(const fifo&) = delete;

    const std::string& path() const { return path_; }

    /// Reads until every writer closed the FIFO. Requires: a writer opened it.
    std::string read_all() const {
        ::fcntl(fd_, F_SETFL, 0);
        std::string all;
        char buffer[65536];
        for (ssize_t n; (n = ::read(fd_, buffer, sizeof buffer)) != 0;) {
            if (n > 0)
                all.append(buffer, static_cast<std::size_t>(n));
            else if (errno != EINTR)
                break;
        }
        return all;
    }

private:
    std::string path_;
    int fd_ = -1;
};

// The sum of the counts in the log's "N lines dropped" warnings.
std::uint64_t reported_drops(const std::string& log_text) {
    static const std::regex warning("([0-9]+) lines dropped");
    std::uint64_t sum = 0;
    for (std::sregex_iterator it(log_text.begin(), log_text.end(), warning), end; it != end; ++it)
        sum += std::stoull((*it)[1]);
    return sum;
}

} // namespace

TEST_CASE("lines written from four threads arrive whole, each exactly once") {
    const temp_dir dir;
    constexpr std::size_t writers = 4;
    constexpr std::size_t per_writer = 5000;
    std::uint64_t dropped = 0;
    {
        access_log log(dir.file("access.log"), target_only(), 64 * 1024 * 1024);
        std::vector<std::jthread> threads;
        for (std::size_t w = 0; w < writers; ++w)
            threads.emplace_back([&log, w] {
                for (std::size_t i = 0; i < per_writer; ++i)
                    write_target(log, numbered(w, i));
            });
        threads.clear();
        log.flush();
        dropped = log.dropped();
    }
    CHECK(dropped == 0);
    const std::vector<std::string> lines = lines_of(dir.read("access.log"));
    CHECK(lines.size() == writers * per_writer);
    std::set<std::string> expected;
    for (std::size_t w = 0; w < writers; ++w)
        for (std::size_t i = 0; i < per_writer; ++i)
            expected.insert(numbered(w, i));
    CHECK(std::set<std::string>(lines.begin(), lines.end()) == expected);
}

TEST_CASE("flush returns once the lines written before it are in the file") {
    const temp_dir dir;
    access_log log(dir.file("access.log"), target_only());
    write_target(log, "/one");
    write_target(log, "/two");
    log.flush();
    CHECK(dir.read("access.log") == "/one\n/two\n");
}

TEST_CASE("the destructor writes every line still pending") {
    const temp_dir dir;
    {
        access_log log(dir.file("access.log"), target_only());
        for (std::size_t i = 0; i < 1000; ++i)
            write_target(log, numbered(0, i));
    }
    CHECK(lines_of(dir.read("access.log")).size() == 1000);
}

TEST_CASE("lines are appended to a file that is already there") {
    const temp_dir dir;
    std::ofstream(dir.file("access.log")) << "old line\n";
    {
        access_log log(dir.file("access.log"), target_only());
        write_target(log, "/new");
    }
    CHECK(dir.read("access.log") == "old line\n/new\n");
}

TEST_CASE("after logrotate renamed the file, reopen sends the lines to a new file at the path") {
    const temp_dir dir;
    access_log log(dir.file("access.log"), target_only());
    write_target(log, "/before");
    log.flush();
    std::filesystem::rename(dir.file("access.log"), dir.file("access.log.1"));
    log.reopen();
    write_target(log, "/after");
    log.flush();
    CHECK(dir.read("access.log.1") == "/before\n");
    CHECK(dir.read("access.log") == "/after\n");
}

TEST_CASE("when reopening fails, the error is logged and the old file is kept") {
    const temp_dir dir;
    const captured_log captured;
    {
        access_log log(dir.file("access.log"), target_only());
        std::filesystem::rename(dir.file("access.log"), dir.file("access.log.1"));
        std::filesystem::create_directory(dir.file("access.log")); // cannot be opened to write
        log.reopen();
        write_target(log, "/after");
    }
    CHECK(dir.read("access.log.1") == "/after\n");
    CHECK(captured.text().find("reopening failed") != std::string::npos);
    CHECK(captured.text().find(dir.file("access.log")) != std::string::npos);
}

TEST_CASE("'-' writes to the standard output, and reopen leaves it alone") {
    const temp_dir dir;
    std::cout.flush();
    const int saved = ::dup(STDOUT_FILENO);
    const int file = ::open(dir.file("stdout").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(file >= 0);
    ::dup2(file, STDOUT_FILENO);
    {
        access_log log("-", target_only());
        write_target(log, "/one");
        log.reopen();
        write_target(log, "/two");
    }
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    ::close(file);
    CHECK(dir.read("stdout") == "/one\n/two\n");
}

TEST_CASE("a path that cannot be opened throws config_error naming it and why") {
    const std::string path = "/nonexistent-httpy-folder/access.log";
    try {
        access_log log(path, target_only());
        FAIL("the log opened");
    } catch (const httpy::config_error& e) {
        CHECK(std::string_view(e.what()).find(path) != std::string_view::npos);
        CHECK(std::string_view(e.what()).find("No such file or directory") !=
              std::string_view::npos);
    }
}

TEST_CASE("a pipe's share of pending lines is the whole lines that fit in PIPE_BUF bytes") {
    std::string lines;
    for (std::size_t i = 0; i < 100; ++i)
        lines += numbered(0, i) + "\n"; // 100 bytes each
    CHECK(pipe_piece_size(lines) == PIPE_BUF / 100 * 100);
    CHECK(lines[pipe_piece_size(lines) - 1] == '\n');
    CHECK(pipe_piece_size(std::string_view(lines).substr(0, 300)) == 300);
    std::string exact;
    for (std::size_t i = 0; i < 2 * PIPE_BUF / 64; ++i)
        exact += numbered(0, i, 64) + "\n";
    CHECK(pipe_piece_size(exact) == PIPE_BUF);
}

TEST_CASE("a line longer than PIPE_BUF goes to a pipe alone") {
    const std::string lines = numbered(0, 0, PIPE_BUF + 10) + "\n" + numbered(0, 1) + "\n";
    CHECK(pipe_piece_size(lines) == PIPE_BUF + 10);
}

TEST_CASE("lines from two logs writing to one FIFO never interleave") {
    const temp_dir dir;
    const fifo pipe(dir);
    constexpr std::size_t per_writer = 20000;
    std::string received;
    {
        std::optional<access_log> logs[2];
        logs[0].emplace(pipe.path(), target_only());
        logs[1].emplace(pipe.path(), target_only());
        std::jthread reader([&] { received = pipe.read_all(); });
        {
            std::vector<std::jthread> writers;
            for (std::size_t w = 0; w < 2; ++w)
                writers.emplace_back([&logs, w] {
                    for (std::size_t i = 0; i < per_writer; ++i)
                        write_target(*logs[w], numbered(w, i, 150));
                });
        }
        CHECK(logs[0]->dropped() + logs[1]->dropped() == 0);
        logs[0].reset();
        logs[1].reset(); // the reader's end of file
    }
    const std::vector<std::string> lines = lines_of(received);
    CHECK(lines.size() == 2 * per_writer);
    std::size_t next[2] = {0, 0}; // each writer's lines come in its order
    std::size_t mangled = 0;
    for (const std::string& line : lines) {
        const std::size_t w = line.starts_with("/w1/") ? 1 : 0;
        mangled += line == numbered(w, next[w], 150) ? 0 : 1;
        ++next[w];
    }
    CHECK(mangled == 0);
}

TEST_CASE("while the writer is stalled, lines past the pending limit are dropped and counted") {
    const temp_dir dir;
    const fifo pipe(dir); // nobody reads it until the end: the writer blocks once it is full
    const captured_log captured;
    constexpr std::size_t total = 20000; // 2 MB: far more than the pipe and the limit hold
    std::uint64_t dropped = 0;
    std::string received;
    {
        std::optional<access_log> log;
        log.emplace(pipe.path(), target_only(), 1000);
        for (std::size_t i = 0; i < total; ++i)
            write_target(*log, numbered(0, i));
        dropped = log->dropped();
        std::jthread reader([&] { received = pipe.read_all(); });
        log->flush();
        CHECK(log->dropped() == dropped);
        log.reset(); // the reader's end of file
    }
    CHECK(dropped > total / 2);
    CHECK(lines_of(received).size() + dropped == total);
    CHECK(reported_drops(captured.text()) == dropped);
}

TEST_CASE("lines a failed write loses count as dropped, and the failure is logged once") {
    const captured_log captured;
    {
        access_log log("/dev/full", target_only());
        for (std::size_t i = 0; i < 10; ++i) {
            write_target(log, "/lost");
            log.flush();
        }
        CHECK(log.dropped() == 10);
    }
    const std::string text = captured.text();
    const auto failure = text.find("writing failed: No space left on device");
    CHECK(failure != std::string::npos);
    CHECK(text.find("writing failed:", failure + 1) == std::string::npos);
    CHECK(reported_drops(text) == 10);
}
