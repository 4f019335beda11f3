#include "runtime/interface_choice.hpp"

#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

#include <string>

namespace py = pybind11;

namespace httpy::detail {

namespace {

constexpr const char* choice_source = R"(
import inspect

_KNOWN = {
    "flask.app.Flask": "wsgi",
    "django.core.handlers.wsgi.WSGIHandler": "wsgi",
    "werkzeug.wsgi.DispatcherMiddleware": "wsgi",
    "werkzeug.middleware.dispatcher.DispatcherMiddleware": "wsgi",
    "django.core.handlers.asgi.ASGIHandler": "asgi",
    "starlette.applications.Starlette": "asgi",
    "fastapi.applications.FastAPI": "asgi",
}


def interface_of(target):
    call = target
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        call = getattr(type(target), "__call__", None)
    coroutine = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(call)
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        parameters = None
    if parameters is not None and not any(
            p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        if len(required) <= 6 <= len(positional):
            return "go"
        if len(required) <= 3 <= len(positional) and coroutine:
            return "asgi"
        if len(required) <= 2 <= len(positional) and not coroutine:
            return "wsgi"
        if inspect.isclass(target) and len(required) <= 1 <= len(positional):
            return "asgi"  # ASGI 2: instance = app(scope); await instance(receive, send)
    for cls in type(target).__mro__:
        known = _KNOWN.get(f"{cls.__module__}.{cls.__qualname__}")
        if known:
            return known
    return None
)";

} // namespace

std::optional<app_interface> interface_of(py::handle target) {
    py::dict scope;
    scope["__builtins__"] = py::module_::import("builtins");
    scope["__name__"] = "httpy.interface_choice";
    py::exec(choice_source, scope);
    const py::object found = scope["interface_of"](target);
    if (found.is_none())
        return std::nullopt;
    const auto name = found.cast<std::string>();
    if (name == "go")
        return app_interface::go;
    if (name == "wsgi")
        return app_interface::wsgi;
    return app_interface::asgi;
}

} // namespace httpy::detail
