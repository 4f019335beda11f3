#pragma once

#include <memory>
#include <string>

namespace httpy {

/// How the interpreter starts.
struct interpreter_options {
    /// A virtual environment (made by `python3 -m venv`) to start in, as its own `bin/python`
    /// would: its site-packages importable and `sys.prefix` the venv. Empty: none.
    std::string venv;
};

/// The process's one CPython interpreter.
///
/// Construction starts CPython without Python's own signal handlers (the C++ side owns SIGINT
/// and SIGTERM) but ignores SIGPIPE and SIGXFSZ as Python's start-up does, so that a write to a
/// closed pipe raises BrokenPipeError instead of killing the process (children started with
/// `subprocess` get the default dispositions back). It then releases the GIL, so that executors
/// can take it from their own threads.
/// Destruction takes the GIL back and finalises Python; except while a thread an executor could
/// not stop is still running (an event loop a handler keeps blocked): Python is then left
/// un-finalised, as finalising would wait for that thread's GIL or end it mid-call.
///
/// Requires: constructed and destroyed on the same thread; every `executor` destroyed before
/// the interpreter is.
/// Throws: config_error when an interpreter already exists in this process, or when
/// `options.venv` is no virtual environment (no `pyvenv.cfg`) or one of another Python
/// version (naming both).
class interpreter {
public:
    explicit interpreter(const interpreter_options& options = {});
    ~interpreter();
    interpreter(const interpreter&) = delete;
    interpreter& operator=(const interpreter&) = delete;

    /// True while an interpreter object exists.
    static bool running() noexcept;

    /// True once an interpreter was destroyed without finalising Python (a thread it could not
    /// stop still runs). The process should then end with `std::_Exit` after flushing its
    /// output, not by returning from `main`: static destructors and atexit handlers would run
    /// under that thread, and what the live interpreter still holds would count as leaked.
    static bool left_unfinalised() noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace httpy
