#include <pybind11/pybind11.h>

#include "httpy/app.hpp"

#include "httpy/config_error.hpp"
#include "runtime/module_import.hpp"
#include "runtime/python_error.hpp"
#include "runtime/request_handler.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/routes_from_python.hpp"

#include <future>
#include <map>

namespace py = pybind11;

namespace httpy {

struct app::state {
    explicit state(app_options o) : options(std::move(o)), python(options.python) {}

    app_options options;
    raw_routes raw;
    route_table routes;
    bool has_init = false;
    executor python; // last: stopped first, while the rest is still there

    void load();
};

// Requires: GIL held.
void app::state::load() {
    std::map<std::string, py::object> modules;
    auto module_of = [&](const std::string& name) -> py::object& {
        auto [it, inserted] = modules.try_emplace(name);
        if (inserted) {
            try {
                it->second = detail::import_module(name);
            } catch (py::error_already_set& e) {
                throw config_error("importing " + name + " failed:\n" + detail::format_traceback(e));
            }
        }
        return it->second;
    };
    auto function_of = [&](const python_function& f) -> py::object {
        py::object& module = module_of(f.module);
        if (!py::hasattr(module, f.function.c_str()))
            throw config_error(f.module + " has no function " + f.function);
        py::object fn = module.attr(f.function.c_str());
        if (!PyCallable_Check(fn.ptr()))
            throw config_error(f.module + ":" + f.function + " is not callable");
        return fn;
    };

    detail::set_request_handler(python, function_of(options.handler), options.handler.function);
    if (!options.init)
        return;
    py::object init = function_of(*options.init);
    const std::string& name = options.init->function;
    try {
        py::object result = init();
        if (py::hasattr(result, "__await__"))
            result = py::module_::import("asyncio").attr("run")(result);
        raw = marshal::routes_from_python(result, name);
    } catch (py::error_already_set& e) {
        throw config_error(name + " raised:\n" + detail::format_traceback(e));
    } catch (const marshal::conversion_error& e) {
        throw config_error(e.what());
    }
    routes = route_table::parse(raw);
    has_init = true;
}

app::app(app_options options) : state_(std::make_unique<state>(std::move(options))) {
    state_->python.run([this] { state_->load(); });
}

app::~app() = default;

const raw_routes& app::raw() const noexcept { return state_->raw; }
const route_table& app::routes() const noexcept { return state_->routes; }
bool app::has_init() const noexcept { return state_->has_init; }
executor& app::python() noexcept { return state_->python; }

call_result app::call(httpy::request req) {
    std::promise<call_result> promise;
    auto future = promise.get_future();
    // From an IO thread of the executor it runs here: posted to this thread, it would wait for
    // the very thread that waits for it.
    detail::call_blocking(python(), std::move(req),
                          call_handler([&promise](boost::system::error_code ec, response r) {
                              promise.set_value({ec, std::move(r)});
                          }));
    return future.get();
}

} // namespace httpy
