#pragma once

#include "httpy/app.hpp"

#include <string>

namespace httpy::detail {

/// What the commands' TARGET and its options name, shared by `httpy serve` and `httpy call`.
struct app_choice {
    /// `FILE.py[:NAME]` or `MODULE[:NAME]`; without NAME the module's `go_request`, else its
    /// `application`, else its `app`.
    std::string handler;
    /// `MODULE:FUNCTION`; empty: the handler module's `go_init` when it has one.
    std::string init;
    /// `auto`, `go`, `wsgi` or `asgi`.
    std::string interface = "auto";
    /// WSGI: the prefix moved from PATH_INFO to SCRIPT_NAME.
    std::string root_path;
    /// A virtual environment to start Python in; empty: `$VIRTUAL_ENV`, when set.
    std::string venv;
    /// ASGI: `auto`, `on` or `off`.
    std::string lifespan = "auto";
    /// ASGI: seconds the lifespan startup (and shutdown) may take.
    double startup_timeout = 30;
    /// The asyncio event loop: `auto`, `asyncio` or `uvloop`.
    std::string loop = "auto";
};

/// The venv `choice` names, or `$VIRTUAL_ENV` when it names none.
std::string venv_of(const app_choice& choice);

/// The application the commands' TARGET and `--init` name (see `app_choice`); no init at all
/// with `no_init`. The executor options are left at their defaults but for the event loop.
/// Requires: an interpreter exists (the default looks into the handler module, see
/// `has_python_function`).
/// Throws: config_error for a malformed HANDLER or `--init`, a bad `--lifespan` or `--loop`,
/// or a handler module that cannot be imported.
app_options app_spec(const app_choice& choice, bool no_init = false);

} // namespace httpy::detail
