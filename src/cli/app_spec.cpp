#include "cli/app_spec.hpp"

#include "httpy/config_error.hpp"

#include <cstdlib>

namespace httpy::detail {

namespace {

app_interface interface_named(const std::string& name) {
    for (auto i : {app_interface::automatic, app_interface::go, app_interface::wsgi,
                   app_interface::asgi})
        if (name == to_string(i))
            return i;
    throw config_error("--interface " + name + ": expected auto, go, wsgi or asgi");
}

lifespan_mode lifespan_named(const std::string& name) {
    if (name == "auto")
        return lifespan_mode::automatic;
    if (name == "on")
        return lifespan_mode::on;
    if (name == "off")
        return lifespan_mode::off;
    throw config_error("--lifespan " + name + ": expected auto, on or off");
}

loop_kind loop_named(const std::string& name) {
    if (name == "auto")
        return loop_kind::automatic;
    if (name == "asyncio")
        return loop_kind::asyncio;
    if (name == "uvloop")
        return loop_kind::uvloop;
    throw config_error("--loop " + name + ": expected auto, asyncio or uvloop");
}

} // namespace

std::string venv_of(const app_choice& choice) {
    if (!choice.venv.empty())
        return choice.venv;
    const char* active = std::getenv("VIRTUAL_ENV");
    return active ? active : "";
}

app_options app_spec(const app_choice& choice, bool no_init) {
    app_options o;
    o.handler = python_function::parse(choice.handler, "");
    o.interface = interface_named(choice.interface);
    o.lifespan = lifespan_named(choice.lifespan);
    if (!(choice.startup_timeout > 0))
        throw config_error("--startup-timeout: expected a number of seconds above 0");
    o.startup_timeout = std::chrono::milliseconds(static_cast<long long>(choice.startup_timeout * 1000));
    o.python.event_loop = loop_named(choice.loop);
    o.root_path = choice.root_path;
    while (o.root_path.size() > 1 && o.root_path.back() == '/')
        o.root_path.pop_back();
    if (o.root_path == "/")
        o.root_path.clear();
    if (!o.root_path.empty() && o.root_path.front() != '/')
        throw config_error("--root-path " + choice.root_path + ": expected a path starting with /");
    if (no_init || o.interface == app_interface::wsgi || o.interface == app_interface::asgi)
        return o;
    if (!choice.init.empty()) {
        o.init = python_function::parse(choice.init, "go_init");
        return o;
    }
    // The Python contract's default: the handler module's go_init, when it has one.
    python_function go_init{o.handler.module, "go_init"};
    if (has_python_function(go_init))
        o.init = std::move(go_init);
    return o;
}

} // namespace httpy::detail
