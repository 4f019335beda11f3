#include <pybind11/pybind11.h>

#include "httpy/app.hpp"

#include "httpy/config_error.hpp"
#include "runtime/asgi_call.hpp"
#include "runtime/asgi_support.hpp"
#include "runtime/executor_state.hpp"
#include "runtime/interface_choice.hpp"
#include "runtime/module_import.hpp"
#include "runtime/python_call.hpp"
#include "runtime/python_error.hpp"
#include "runtime/response_stream.hpp"
#include "runtime/wsgi_call.hpp"
#include "runtime/wsgi_support.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/request_to_python.hpp"
#include "marshal/response_from_python.hpp"
#include "marshal/routes_from_python.hpp"
#include "marshal/asgi_scope.hpp"
#include "marshal/wsgi_environ.hpp"

#include <spdlog/spdlog.h>

#include <array>
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

// The body of a handler's (status, body, headers) result when it is an iterator (a generator)
// or an async iterator (an async generator), to be streamed; else null.
py::handle iterator_body(py::handle result) {
    if (!(PyTuple_CheckExact(result.ptr()) || PyList_CheckExact(result.ptr())) ||
        PySequence_Fast_GET_SIZE(result.ptr()) != 3)
        return {};
    py::handle body = PySequence_Fast_GET_ITEM(result.ptr(), 1);
    return PyIter_Check(body.ptr()) != 0 || PyAIter_Check(body.ptr()) != 0 ? body : py::handle();
}

// One request through the handler: request in, response (or an awaitable) out.
class request_call final : public detail::python_call {
public:
    request_call(std::shared_ptr<const handler_info> info, executor::state& pool, request req,
                 call_completion done)
        : python_call(std::move(done)), info_(std::move(info)), pool_(pool),
          req_(std::move(req)) {}

    detail::run_result run() override {
        py::object result = marshal::call_handler(info_->function, req_, info_->body);
        if (is_awaitable(result))
            return detail::awaitable_result{std::move(result)};
        return resume(result);
    }

    response resume(py::handle result) override {
        py::handle body = iterator_body(result);
        if (!body)
            return marshal::response_from_python(result, info_->name, info_->max_response_bytes);
        // The status and headers as any response's, then the body as a stream.
        py::tuple head = py::make_tuple(py::handle(PySequence_Fast_GET_ITEM(result.ptr(), 0)),
                                        py::bytes(),
                                        py::handle(PySequence_Fast_GET_ITEM(result.ptr(), 2)));
        response r = marshal::response_from_python(head, info_->name, info_->max_response_bytes);
        auto iterable = py::reinterpret_borrow<py::object>(body);
        detail::open_stream s{iterable, iterable, py::none(), nullptr,
                              describe() + " (response body)"};
        r.stream = detail::open_response_stream(pool_, std::move(s), detail::chunk_kind::go,
                                                info_->max_response_bytes);
        return r;
    }

    std::string describe() const override {
        return info_->name + " " + req_.method + " " + req_.path;
    }

private:
    std::shared_ptr<const handler_info> info_;
    executor::state& pool_;
    request req_;
};

// The names a module's handler is looked up by when the target names none, in this order.
constexpr std::array<const char*, 3> default_handlers{"go_request", "application", "app"};

} // namespace

const char* to_string(app_interface i) noexcept {
    switch (i) {
    case app_interface::go:
        return "go";
    case app_interface::wsgi:
        return "wsgi";
    case app_interface::asgi:
        return "asgi";
    case app_interface::automatic:
        break;
    }
    return "auto";
}

struct app::state {
    explicit state(app_options o)
        : options(std::move(o)), pool(executor::state::start(options.python)), python(pool) {}

    app_options options;
    raw_routes raw;
    route_table routes;
    bool has_init = false;
    std::shared_ptr<const handler_info> handler;
    std::shared_ptr<const detail::wsgi_app_info> wsgi;
    std::shared_ptr<const detail::asgi_app_info> asgi;
    py::handle lifespan; // an ASGI application's, once its startup completed; the pool's reference
    std::shared_ptr<executor::state> pool;
    executor python; // last: stopped first, while the rest is still there

    ~state() { shut_down_lifespan(); }
    state(const state&) = delete;
    state& operator=(const state&) = delete;

    // The handler as it is named in log lines and errors, e.g. "flask_app.py:app".
    std::string spec() const { return options.handler.module + ":" + options.handler.function; }

    void load();
    void load_wsgi(py::object application);
    void load_asgi(py::object application);
    py::object start_lifespan(const detail::asgi_support& support, py::handle application,
                              py::handle loop);
    void shut_down_lifespan() noexcept;

    // The call that runs `req` through the handler, for the interface it speaks.
    detail::call_ptr make_call(request req, call_completion done) const {
        if (wsgi)
            return detail::make_wsgi_call(wsgi, *pool, std::move(req), std::move(done));
        if (asgi)
            return detail::make_asgi_call(asgi, *pool, std::move(req), std::move(done));
        return std::make_shared<request_call>(handler, *pool, std::move(req), std::move(done));
    }
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

    if (options.handler.function.empty()) {
        py::object& module = module_of(options.handler.module);
        for (const char* name : default_handlers)
            if (py::hasattr(module, name)) {
                options.handler.function = name;
                break;
            }
        if (options.handler.function.empty())
            throw config_error(options.handler.module +
                               " has none of go_request, application and app; name the "
                               "handler as " + options.handler.module + ":NAME");
    }
    py::object function = function_of(options.handler);
    const std::string spec = this->spec();
    if (options.interface == app_interface::automatic) {
        const auto found = detail::interface_of(function);
        if (!found)
            throw config_error(spec + ": cannot tell which interface it speaks from its "
                               "signature or type; say it with --interface go|wsgi|asgi");
        options.interface = *found;
    }
    if (options.interface != app_interface::go && options.init)
        throw config_error(spec + " is a" +
                           (options.interface == app_interface::wsgi ? " WSGI" : "n ASGI") +
                           " application: an init function (" + options.init->function +
                           ") is for the go contract only");
    if (options.interface == app_interface::wsgi)
        return load_wsgi(std::move(function));
    if (options.interface == app_interface::asgi)
        return load_asgi(std::move(function));
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

// Requires: GIL held.
void app::state::load_wsgi(py::object application) {
    detail::wsgi_support support = detail::make_wsgi_support();
    py::dict constant = marshal::wsgi_constant_environ(
        support.errors, support.file_wrapper_type, options.multiprocess);
    auto info = std::make_shared<detail::wsgi_app_info>();
    info->application = application;
    info->name = spec();
    info->root_path = options.root_path;
    info->constant_environ = constant;
    info->start_response_type = support.start_response_type;
    info->file_wrapper_type = support.file_wrapper_type;
    info->file_region = support.file_region;
    info->bytes_io = support.bytes_io;
    info->max_response_bytes = options.python.max_response_bytes;
    for (py::object* o : {&application, static_cast<py::object*>(&constant),
                          &support.start_response_type, &support.errors,
                          &support.file_wrapper_type, &support.file_region, &support.bytes_io})
        pool->keep(std::move(*o));
    wsgi = std::move(info);
}

// Requires: GIL held.
void app::state::load_asgi(py::object application) {
    try {
        pool->start_event_loop();
    } catch (py::error_already_set& e) {
        throw config_error("the event loop could not be made (--loop):\n" +
                           detail::format_traceback(e));
    }
    detail::asgi_support support = detail::make_asgi_support();
    py::object asgi3 = support.as_asgi3(application);
    py::object loop = pool->runner.attr("loop");
    auto info = std::make_shared<detail::asgi_app_info>();
    info->name = spec();
    const std::string name = info->name;
    py::object constant = marshal::asgi_constant_scope(options.root_path);
    py::object log = py::cpp_function([name](const std::string& method, const std::string& path,
                                             const std::string& text) {
        py::gil_scoped_release released;
        spdlog::error("{} {} {}: {}", name, method, path, text);
    });
    py::object lifespan_state = py::none();
    if (options.lifespan != lifespan_mode::off)
        lifespan_state = start_lifespan(support, asgi3, loop);
    info->application = asgi3;
    info->constant_scope = constant;
    info->state = lifespan_state.is_none() ? py::handle() : py::handle(lifespan_state);
    info->exchange_type = support.exchange_type;
    info->loop = loop;
    info->log = log;
    info->cancel_after = static_cast<double>(options.python.handler_timeout.count()) / 1000.0;
    info->max_response_bytes = options.python.max_response_bytes;
    for (py::object* o : {&asgi3, &constant, &log, &lifespan_state, &loop, &support.exchange_type,
                          &support.lifespan_type, &support.as_asgi3, &application})
        pool->keep(std::move(*o));
    asgi = std::move(info);
}

// Runs the lifespan startup on the event loop and waits for its answer (without the GIL):
// the lifespan's state when it completed, None when the application has no lifespan support
// (or lifespan is off). Requires: GIL held.
// Throws: config_error for lifespan.startup.failed, a startup not answered in time, or (with
// lifespan on) an application without lifespan support.
py::object app::state::start_lifespan(const detail::asgi_support& support, py::handle application,
                                      py::handle loop) {
    const std::string name = spec();
    const double timeout = static_cast<double>(options.startup_timeout.count()) / 1000.0;
    py::object manager = support.lifespan_type(application, loop);
    py::module_ asyncio = py::module_::import("asyncio");
    py::tuple answer;
    try {
        py::object pending =
            asyncio.attr("run_coroutine_threadsafe")(manager.attr("startup")(timeout), loop);
        // A loop the startup blocks cannot time it out itself: this wait bounds it too.
        answer = pending.attr("result")(timeout + 1.0);
    } catch (py::error_already_set& e) {
        if (e.matches(PyExc_TimeoutError))
            throw config_error(name + ": lifespan.startup did not finish within " +
                               std::to_string(options.startup_timeout.count()) +
                               " ms (--startup-timeout); is it blocking the event loop?");
        throw config_error(name + ": the lifespan startup failed:\n" + detail::format_traceback(e));
    }
    const auto how = answer[0].cast<std::string>();
    const auto message = answer[1].cast<std::string>();
    if (how == "complete") {
        pool->keep(manager);
        lifespan = manager;
        return answer[2];
    }
    if (how == "failed")
        throw config_error(name + ": lifespan.startup.failed" +
                           (message.empty() ? std::string() : ": " + message));
    if (how == "timeout")
        throw config_error(name + ": " + message + " (--startup-timeout)");
    if (options.lifespan == lifespan_mode::on)
        throw config_error(name + " does not support the ASGI lifespan protocol (--lifespan on): " +
                           message);
    const auto last_line = message.substr(message.rfind('\n') + 1);
    spdlog::info("{}: no lifespan support ({}); serving it without lifespan events", name, last_line);
    return py::none();
}

// After the drain, before the executor stops: lifespan.shutdown, within the startup timeout.
void app::state::shut_down_lifespan() noexcept {
    if (!lifespan)
        return;
    const std::string name = spec();
    const double timeout = static_cast<double>(options.startup_timeout.count()) / 1000.0;
    std::string how;
    std::string message;
    {
        py::gil_scoped_acquire gil;
        try {
            py::module_ asyncio = py::module_::import("asyncio");
            py::object pending = asyncio.attr("run_coroutine_threadsafe")(
                lifespan.attr("shutdown")(timeout), pool->runner.attr("loop"));
            py::tuple answer = pending.attr("result")(timeout + 1.0);
            how = answer[0].cast<std::string>();
            message = answer[1].cast<std::string>();
        } catch (py::error_already_set& e) {
            how = "failed";
            message = e.matches(PyExc_TimeoutError) ? std::string("it blocks the event loop")
                                                    : detail::format_traceback(e);
        } catch (const std::exception& e) {
            how = "failed";
            message = e.what();
        }
    }
    if (how == "complete")
        spdlog::info("{}: lifespan shutdown complete", name);
    else
        spdlog::error("{}: lifespan.shutdown {}{}", name, how,
                      message.empty() ? std::string() : ": " + message);
}

app::app(app_options options) : state_(std::make_unique<state>(std::move(options))) {
    py::gil_scoped_acquire gil;
    state_->load();
}

app::~app() = default;

const raw_routes& app::raw() const noexcept { return state_->raw; }
const route_table& app::routes() const noexcept { return state_->routes; }
bool app::has_init() const noexcept { return state_->has_init; }
const python_function& app::handler_function() const noexcept { return state_->options.handler; }
app_interface app::interface() const noexcept { return state_->options.interface; }
executor& app::python() noexcept { return state_->python; }

void app::submit(request req, call_completion done) {
    state_->pool->submit(state_->make_call(std::move(req), std::move(done)));
}

async_handler app::handler() {
    return [this](request req, call_completion done) { submit(std::move(req), std::move(done)); };
}

call_result app::call(httpy::request req) {
    std::promise<call_result> promise;
    auto future = promise.get_future();
    // From an IO thread of the executor it runs here: posted to this thread, it would wait for
    // the very thread that waits for it.
    state_->pool->call_blocking(state_->make_call(
        std::move(req),
        call_completion([&promise](call_result r) { promise.set_value(std::move(r)); })));
    return future.get();
}

} // namespace httpy
