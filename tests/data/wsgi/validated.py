"""The three test applications inside wsgiref.validate's checker: `flask_app`, `django_app`,
`edge_app`. The checker asserts (AssertionError) or warns (WSGIWarning) whenever the server's
environ, its start_response, wsgi.input, wsgi.errors or the way it drives and closes the response
iterable departs from PEP 3333; tests/e2e serves these and looks for either word in the log.

wsgiref.validate predates `wsgi.input_terminated`: its wsgi.input refuses read() without a size,
which Werkzeug calls when the server sets that key (the key says it is safe), so the Flask app
sees the environ of a server that does not set it. The other two read with a size and get the
environ as it is.
"""

import importlib
import wsgiref.validate

# Built on first use (module __getattr__), so serving one app does not import the others'
# frameworks: the Django project migrates its database at import.
_BUILD = {
    "flask_app": lambda: _without_input_terminated(
        wsgiref.validate.validator(importlib.import_module("flask_app").app)),
    "django_app": lambda: wsgiref.validate.validator(
        importlib.import_module("django_project").application),
    "edge_app": lambda: wsgiref.validate.validator(importlib.import_module("edge_app").application),
}
__all__ = list(_BUILD)


def _without_input_terminated(app):
    def application(environ, start_response):
        environ = dict(environ)
        environ.pop("wsgi.input_terminated", None)
        return app(environ, start_response)
    return application


def __getattr__(name):
    if name not in _BUILD:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = _BUILD[name]()
    globals()[name] = app
    return app
