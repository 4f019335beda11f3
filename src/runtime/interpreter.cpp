#include <pybind11/embed.h>

#include "httpy/interpreter.hpp"

#include "httpy/config_error.hpp"
#include "runtime/module_import.hpp"
#include "runtime/python_threads.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <optional>

namespace py = pybind11;

namespace httpy {

namespace {

std::atomic<bool> alive{false};
std::atomic<bool> unfinalised{false}; // set for good: that Python is never finalised
std::atomic<std::size_t> left_running{0};

// What Python's own start-up does when it installs its signal handlers (skipped here, the C++
// side owns SIGINT and SIGTERM): a write to a closed pipe or past a file size limit then fails
// with BrokenPipeError or OSError instead of killing the process. Children started with
// subprocess get both back to SIG_DFL (its restore_signals, on by default).
void ignore_write_signals() {
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN);
}

} // namespace

void detail::python_thread_left() noexcept { ++left_running; }
void detail::python_thread_ended() noexcept { --left_running; }
std::size_t detail::python_threads_left() noexcept { return left_running; }

struct interpreter::state {
    std::optional<py::gil_scoped_release> released;
};

interpreter::interpreter() {
    if (alive.exchange(true))
        throw config_error("a Python interpreter is already running in this process");
    ignore_write_signals();
    py::initialize_interpreter(/*init_signal_handlers=*/false, 0, nullptr,
                               /*add_program_dir_to_path=*/false);
    state_ = std::make_unique<state>();
    state_->released.emplace();
}

interpreter::~interpreter() {
    if (const std::size_t left = detail::python_threads_left(); left > 0) {
        spdlog::warn("{} Python thread(s) still blocked in a handler; Python is left as it is, "
                     "not finalised (atexit handlers do not run)",
                     left);
        state_->released->disarm(); // taking the GIL back could wait for ever
        state_.reset();
        unfinalised = true;
        alive = false;
        return;
    }
    state_->released.reset();
    detail::release_kept_module();
    py::finalize_interpreter();
    alive = false;
}

bool interpreter::running() noexcept { return alive; }

bool interpreter::left_unfinalised() noexcept { return unfinalised; }

} // namespace httpy
