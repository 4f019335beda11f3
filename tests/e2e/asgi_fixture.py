"""The server the ASGI end-to-end tests (test_asgi, test_starlette, test_fastapi) talk to.

By default it is `httpy serve TARGET --interface asgi --venv SOURCE/venvs/test OPTIONS...`
(serve_fixture.Server). With HTTPY_ASGI_REFERENCE=uvicorn it is uvicorn (httptools, uvloop)
from the same venv, the reference ASGI server, so the tests themselves can be checked against a
server known to work:

    cd tests/e2e && HTTPY_ASGI_REFERENCE=uvicorn /usr/bin/python3 -m unittest -v test_asgi

A test of behaviour in which uvicorn departs from the ASGI spec or from httpy's documented
behaviour (docs/asgi.md) carries `@uvicorn_differs(...)` and is skipped under the reference.
"""

import functools
import os
import re
import subprocess
import threading
import unittest

import serve_fixture
import wsgi_fixture
from wsgi_fixture import parse_chunked, split_response  # noqa: F401 (for the tests)

SOURCE = os.path.abspath(os.environ.get("HTTPY_SOURCE_DIR")
                         or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(SOURCE, "tests", "data", "asgi")
VENV = os.path.join(SOURCE, "venvs", "test")
EDGE_APP = os.path.join(DATA, "edge_app.py") + ":app"

REFERENCE = os.environ.get("HTTPY_ASGI_REFERENCE", "")
if REFERENCE not in ("", "uvicorn"):
    raise RuntimeError(f"HTTPY_ASGI_REFERENCE={REFERENCE!r}: only 'uvicorn' is known")

UVICORN_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class Uvicorn(serve_fixture.Server):
    """uvicorn on 127.0.0.1:0 serving TARGET (`/path/module.py:NAME`), with serve_fixture.Server's
    methods. httpy's `--root-path`, `--lifespan` and `--handler-timeout` are translated (the
    last has no uvicorn equivalent and is dropped)."""

    def __init__(self, target, *options, env=None):
        path, _, name = target.partition(":")
        folder, module = os.path.split(path)
        module = module[:-3] if module.endswith(".py") else module
        command = [os.path.join(VENV, "bin", "uvicorn"), "--app-dir", folder,
                   "--host", "127.0.0.1", "--port", "0", "--http", "httptools",
                   "--loop", "uvloop", "--timeout-graceful-shutdown", "3"]
        options = [str(o) for o in options]
        while options:
            option = options.pop(0)
            if option in ("--root-path", "--lifespan", "--loop"):
                command += [option, options.pop(0)]
            elif option in ("--handler-timeout", "--max-body", "--spool-above"):
                options.pop(0)
            else:
                raise ValueError(f"no uvicorn equivalent for the httpy option {option}")
        command.append(f"{module}:{name or 'app'}")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.handler = target
        self.options = options
        self.drain = 5.0
        self._lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.stopped = False
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=full_env)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        match = self.wait_for_log(UVICORN_RUNNING, serve_fixture.START_TIMEOUT, fail=False)
        if not match:
            self.kill()
            raise serve_fixture.ServerError(f"uvicorn did not start: {command}; "
                                            f"stderr:\n{self.log()}")
        self.port = int(match.group(1))

    def stop(self):
        """SIGTERM; uvicorn re-raises it to exit, so -SIGTERM counts as a clean stop."""
        if self.stopped:
            return self.log()
        if self.proc.poll() is None:
            self.signal(serve_fixture.signal.SIGTERM)
        code = self.wait_exit()
        if code not in (0, -serve_fixture.signal.SIGTERM):
            raise serve_fixture.ServerError(f"uvicorn exited {code} after SIGTERM:\n{self.log()}")
        return self.log()


def start(target, *options, env=None):
    """The server under test (httpy, or the reference) serving `target` (`file.py:NAME`)."""
    if REFERENCE == "uvicorn":
        return Uvicorn(target, *options, env=env)
    return serve_fixture.Server(target, "--interface", "asgi", "--venv", VENV, *options, env=env)


# Shared by the suites that mount an app under --root-path.
ROOT_PATH_PREPENDED = ("uvicorn's --root-path is a prefix a proxy has removed: it puts it back "
                       "in front of the path sent (GET /x is seen as /prefix/x)")


def uvicorn_differs(reason):
    """Skips the test under the uvicorn reference: `reason` says how uvicorn departs from the
    ASGI spec or from httpy's documented behaviour."""

    def decorate(test):
        @functools.wraps(test)
        def run(self, *args, **kwargs):
            if REFERENCE == "uvicorn":
                raise unittest.SkipTest(f"uvicorn differs: {reason}")
            return test(self, *args, **kwargs)
        return run

    return decorate


class AsgiCase(wsgi_fixture.WsgiCase):
    """An ASGI server per test class: `target` served with `options` and `env`; the helpers
    (get, get_json, exchange, assert_logged_by_httpy...) are WsgiCase's."""

    target = EDGE_APP
    options = ()
    env = None
    still_serving = ("/hello", b"Hello, World!")

    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = start(cls.target, *cls.options, env=cls.env)
        return cls._server

    @property
    def under_reference(self):
        return REFERENCE != ""
