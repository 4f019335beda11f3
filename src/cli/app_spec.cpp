#include "cli/app_spec.hpp"

namespace httpy::detail {

app_options app_spec(std::string_view handler, std::string_view init, bool no_init) {
    app_options o;
    o.handler = python_function::parse(handler, "go_request");
    if (!no_init)
        o.init = init.empty() ? python_function{o.handler.module, "go_init"}
                              : python_function::parse(init, "go_init");
    o.init_required = !init.empty();
    return o;
}

} // namespace httpy::detail
