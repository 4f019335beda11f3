#pragma once

#include <cstddef>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace httpy {

class executor;

/// Runs an io_context on a fixed number of threads that are also IO threads of a Python
/// executor: Python calls run on them with no hand-off. When a call blocks one of them (sleep,
/// I/O, a C call holding the GIL), the executor reports it and the pool sets a spare thread
/// running the io_context, so it keeps `threads` threads moving; the spare parks again once the
/// blocked thread is back, the way Go's scheduler hands a P to another thread while a goroutine
/// sits in a system call. Spares are kept and reused, each attached to Python once; starting
/// one takes no GIL, so native handlers keep answering while a handler holds it. An exception
/// escaping a handler is logged and the thread goes on running the io_context.
class io_pool {
public:
    /// `threads` 0 means one per core. `python` may be null: then the threads only run the
    /// io_context.
    io_pool(boost::asio::io_context& ioc, std::size_t threads, executor* python);
    ~io_pool();
    io_pool(const io_pool&) = delete;
    io_pool& operator=(const io_pool&) = delete;

    /// Runs the io_context on the calling thread and `threads - 1` more; returns once it has
    /// stopped and every pool thread has been joined.
    void run();

    /// Threads the pool keeps moving (spares come on top while calls block some).
    std::size_t threads_wanted() const noexcept;

    /// Threads running the io_context now (spares included).
    std::size_t threads() const noexcept;

    struct state;

private:
    std::shared_ptr<state> state_;
};

} // namespace httpy
