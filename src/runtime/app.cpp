#include <pybind11/pybind11.h>

#include "httpy/app.hpp"

#include "httpy/config_error.hpp"
#include "runtime/executor_state.hpp"
#include "runtime/module_import.hpp"
#include "runtime/python_call.hpp"
#include "runtime/python_error.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/request_to_python.hpp"
#include "marshal/response_from_python.hpp"
#include "marshal/routes_from_python.hpp"

#include <future>
#include <map>

namespace py = pybind11;

namespace httpy {

namespace {

// What every call of one app needs: shared with the calls, so that one the executor still
// holds (a coroutine on an event loop left running at shutdown) never points at a freed app.
struct handler_info {
    py::handle function; // the reference is the executor's (see executor::state::keep)
    std::string name;    // e.g. "go_request", in log lines and conversion messages
    marshal::body_type body = marshal::body_type::str;
    std::size_t max_response_bytes = 0;
};

// True when a handler's result is to be awaited (a coroutine or anything with __await__); a
// tuple or list never is. Requires: GIL held.
bool is_awaitable(py::handle result) {
    if (PyTuple_CheckExact(result.ptr()) || PyList_CheckExact(result.ptr()))
        return false;
    return PyCoro_CheckExact(result.ptr()) || py::hasattr(result, "__await__");
}

// One request through the handler: request in, response (or an awaitable) out.
class request_call final : public detail::python_call {
public:
    request_call(std::shared_ptr<const handler_info> info, request req, call_completion done)
        : python_call(std::move(done)), info_(std::move(info)), req_(std::move(req)) {}

    detail::run_result run() override {
        py::object result = marshal::call_handler(info_->function, req_, info_->body);
        if (is_awaitable(result))
            return detail::awaitable_result{std::move(result)};
        return resume(result);
    }

    response resume(py::handle result) override {
        return marshal::response_from_python(result, info_->name, info_->max_response_bytes);
    }

    std::string describe() const override {
        return info_->name + " " + req_.method + " " + req_.path;
    }

private:
    std::shared_ptr<const handler_info> info_;
    request req_;
};

} // namespace

struct app::state {
    explicit state(app_options o)
        : options(std::move(o)), pool(executor::state::start(options.python)), python(pool) {}

    app_options options;
    raw_routes raw;
    route_table routes;
    bool has_init = false;
    std::shared_ptr<const handler_info> handler;
    std::shared_ptr<executor::state> pool;
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

    py::object function = function_of(options.handler);
    handler = std::make_shared<const handler_info>(handler_info{
        function, options.handler.function,
        options.python.body_as_bytes ? marshal::body_type::bytes : marshal::body_type::str,
        options.python.max_response_bytes});
    pool->keep(std::move(function));
    pool->start_event_loop(); // now, once: never raced for by the first coroutines
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
    py::gil_scoped_acquire gil;
    state_->load();
}

app::~app() = default;

const raw_routes& app::raw() const noexcept { return state_->raw; }
const route_table& app::routes() const noexcept { return state_->routes; }
bool app::has_init() const noexcept { return state_->has_init; }
executor& app::python() noexcept { return state_->python; }

void app::submit(request req, call_completion done) {
    state_->pool->submit(
        std::make_shared<request_call>(state_->handler, std::move(req), std::move(done)));
}

async_handler app::handler() {
    return [this](request req, call_completion done) { submit(std::move(req), std::move(done)); };
}

call_result app::call(httpy::request req) {
    std::promise<call_result> promise;
    auto future = promise.get_future();
    // From an IO thread of the executor it runs here: posted to this thread, it would wait for
    // the very thread that waits for it.
    state_->pool->call_blocking(std::make_shared<request_call>(
        state_->handler, std::move(req),
        call_completion([&promise](call_result r) { promise.set_value(std::move(r)); })));
    return future.get();
}

} // namespace httpy
