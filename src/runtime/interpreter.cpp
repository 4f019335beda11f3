#include <pybind11/embed.h>

#include "httpy/interpreter.hpp"

#include "httpy/config_error.hpp"
#include "runtime/module_import.hpp"

#include <atomic>
#include <optional>

namespace py = pybind11;

namespace httpy {

namespace {
std::atomic<bool> alive{false};
} // namespace

struct interpreter::state {
    std::optional<py::gil_scoped_release> released;
};

interpreter::interpreter() {
    if (alive.exchange(true))
        throw config_error("a Python interpreter is already running in this process");
    py::initialize_interpreter(/*init_signal_handlers=*/false, 0, nullptr,
                               /*add_program_dir_to_path=*/false);
    state_ = std::make_unique<state>();
    state_->released.emplace();
}

interpreter::~interpreter() {
    state_->released.reset();
    detail::release_kept_module();
    py::finalize_interpreter();
    alive = false;
}

bool interpreter::running() noexcept { return alive; }

} // namespace httpy
