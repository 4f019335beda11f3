#include <pybind11/pybind11.h>

#include "httpy/app.hpp"

#include "httpy/config_error.hpp"
#include "httpy/detail/python_error.hpp"
#include "httpy/detail/request_handler.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/routes_from_python.hpp"

#include <filesystem>
#include <future>
#include <map>

namespace py = pybind11;
namespace fs = std::filesystem;

namespace httpy {

namespace {

bool names_a_file(std::string_view module) {
    return module.ends_with(".py") || module.find('/') != std::string_view::npos;
}

void put_first_on_sys_path(const fs::path& folder) {
    py::list path = py::module_::import("sys").attr("path");
    py::str entry(folder.string());
    if (!path.contains(entry))
        path.insert(0, entry);
}

// Imports the file under its stem name, exactly that file even when the name is also a
// module elsewhere on sys.path.
py::object import_file(const std::string& file) {
    const fs::path path = fs::absolute(file);
    if (!fs::is_regular_file(path))
        throw config_error("handler file not found: " + file);
    put_first_on_sys_path(path.parent_path());
    auto util = py::module_::import("importlib.util");
    const std::string name = path.stem().string();
    py::object spec = util.attr("spec_from_file_location")(name, path.string());
    if (spec.is_none())
        throw config_error("cannot import " + file + ": not a Python source file");
    py::object module = util.attr("module_from_spec")(spec);
    py::module_::import("sys").attr("modules")[py::str(name)] = module;
    spec.attr("loader").attr("exec_module")(module);
    return module;
}

py::object import_module(const std::string& module) {
    if (names_a_file(module))
        return import_file(module);
    put_first_on_sys_path(fs::current_path());
    return py::module_::import(module.c_str());
}

} // namespace

python_function python_function::parse(std::string_view spec, std::string_view default_function) {
    // A colon after the last '/' separates the function (paths may hold colons only in folders).
    const auto slash = spec.rfind('/');
    const auto colon = spec.find(':', slash == std::string_view::npos ? 0 : slash);
    python_function f{std::string(spec.substr(0, colon)), std::string(default_function)};
    if (colon != std::string_view::npos)
        f.function = std::string(spec.substr(colon + 1));
    if (f.module.empty() || f.function.empty())
        throw config_error("bad Python function \"" + std::string(spec) +
                           "\": expected MODULE[:FUNCTION] or FILE.py[:FUNCTION]");
    return f;
}

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
                it->second = import_module(name);
            } catch (py::error_already_set& e) {
                throw config_error("importing " + name + " failed:\n" + detail::format_traceback(e));
            }
        }
        return it->second;
    };
    auto function_of = [&](const python_function& f, bool required) -> py::object {
        py::object& module = module_of(f.module);
        if (!py::hasattr(module, f.function.c_str())) {
            if (!required)
                return py::object();
            throw config_error(f.module + " has no function " + f.function);
        }
        py::object fn = module.attr(f.function.c_str());
        if (!PyCallable_Check(fn.ptr()))
            throw config_error(f.module + ":" + f.function + " is not callable");
        return fn;
    };

    detail::set_request_handler(python, function_of(options.handler, true),
                                options.handler.function);
    if (!options.init)
        return;
    py::object init = function_of(*options.init, options.init_required);
    if (!init)
        return;
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

call_result app::request(std::string method, std::string path, std::string body, fields params,
                         fields query, fields headers) {
    return call({std::move(method), std::move(path), std::move(params), std::move(query),
                 std::move(headers), std::move(body)});
}

} // namespace httpy
