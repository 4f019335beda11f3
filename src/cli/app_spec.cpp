#include "cli/app_spec.hpp"

namespace httpy::detail {

app_options app_spec(std::string_view handler, std::string_view init, bool no_init) {
    app_options o;
    o.handler = python_function::parse(handler, "go_request");
    if (no_init)
        return o;
    if (!init.empty()) {
        o.init = python_function::parse(init, "go_init");
        return o;
    }
    // The Python contract's default: the handler module's go_init, when it has one.
    python_function go_init{o.handler.module, "go_init"};
    if (has_python_function(go_init))
        o.init = std::move(go_init);
    return o;
}

} // namespace httpy::detail
