#include <pybind11/embed.h>

#include "httpy/interpreter.hpp"

#include "httpy/config_error.hpp"
#include "runtime/module_import.hpp"
#include "runtime/python_threads.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
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

// The `version` (or `version_info`) a venv's pyvenv.cfg records, e.g. "3.11.2".
std::string venv_version(const std::filesystem::path& cfg) {
    std::ifstream in(cfg);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq == std::string::npos)
            continue;
        auto trim = [](std::string s) {
            const auto b = s.find_first_not_of(" \t\r");
            const auto e = s.find_last_not_of(" \t\r");
            return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
        };
        const std::string key = trim(line.substr(0, eq));
        if (key == "version" || key == "version_info")
            return trim(line.substr(eq + 1));
    }
    return {};
}

// Checks that `venv` is a virtual environment of this Python; returns its interpreter's path.
std::string venv_executable(const std::string& venv) {
    namespace fs = std::filesystem;
    const fs::path root = fs::absolute(venv);
    const fs::path cfg = root / "pyvenv.cfg";
    if (!fs::is_regular_file(cfg))
        throw config_error("--venv " + venv + " is not a virtual environment: it has no pyvenv.cfg");
    const std::string theirs = venv_version(cfg);
    const std::string ours = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
    if (theirs != ours && !theirs.starts_with(ours + "."))
        throw config_error("--venv " + venv + " is a virtual environment of Python " +
                           (theirs.empty() ? std::string("of unknown version") : theirs) +
                           ", but httpy runs Python " + PY_VERSION +
                           "; make the venv with that Python (/usr/bin/python3 -m venv)");
    return (root / "bin" / "python").string();
}

} // namespace

void detail::python_thread_left() noexcept { ++left_running; }
void detail::python_thread_ended() noexcept { --left_running; }
std::size_t detail::python_threads_left() noexcept { return left_running; }

struct interpreter::state {
    std::optional<py::gil_scoped_release> released;
};

interpreter::interpreter(const interpreter_options& options) {
    if (alive.exchange(true))
        throw config_error("a Python interpreter is already running in this process");
    std::string executable;
    try {
        if (!options.venv.empty())
            executable = venv_executable(options.venv);
    } catch (...) {
        alive = false;
        throw;
    }
    ignore_write_signals();
    // As pybind11's own initialize_interpreter does, plus the venv: site.py finds pyvenv.cfg
    // beside (or above) sys.executable and sets sys.prefix and the site-packages from it.
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.isolated = 0;
    config.use_environment = 1;
    config.install_signal_handlers = 0;
    if (!executable.empty()) {
        const PyStatus status =
            PyConfig_SetBytesString(&config, &config.executable, executable.c_str());
        if (PyStatus_Exception(status) != 0) {
            PyConfig_Clear(&config);
            alive = false;
            throw config_error("--venv " + options.venv + ": cannot use its path");
        }
    }
    py::initialize_interpreter(&config, 0, nullptr, /*add_program_dir_to_path=*/false);
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
