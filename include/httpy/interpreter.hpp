#pragma once

#include <memory>

namespace httpy {

/// The process's one CPython interpreter.
///
/// Construction starts CPython without Python's own signal handlers (the C++ side owns SIGINT
/// and SIGTERM) and releases the GIL, so that executors can take it from their own threads.
/// Destruction takes the GIL back and finalises Python.
///
/// Requires: constructed and destroyed on the same thread; every `executor` destroyed before
/// the interpreter is.
/// Throws: config_error when an interpreter already exists in this process.
class interpreter {
public:
    interpreter();
    ~interpreter();
    interpreter(const interpreter&) = delete;
    interpreter& operator=(const interpreter&) = delete;

    /// True while an interpreter object exists.
    static bool running() noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace httpy
