"""The server the WSGI end-to-end tests (test_wsgi, test_flask, test_django) talk to.

By default it is `httpy serve TARGET --interface wsgi --venv SOURCE/venvs/test OPTIONS...`
(serve_fixture.Server). With HTTPY_WSGI_REFERENCE=gunicorn it is gunicorn instead, the reference
WSGI server, from the same venv (or Debian's, for a class served without a venv), so the tests
themselves can be checked against a server that is known to work:

    cd tests/e2e && HTTPY_WSGI_REFERENCE=gunicorn /usr/bin/python3 -m unittest -v test_wsgi

Each class says which gunicorn worker stands for httpy best (`reference_worker`: `sync`, or
`gthread` where keep-alive or wsgi.multithread matter); HTTPY_WSGI_REFERENCE_WORKER overrides
it for every class. A test of behaviour in which gunicorn departs from PEP 3333 or from httpy's
documented behaviour (docs/wsgi.md) carries `@gunicorn_differs(...)` and a `# gunicorn differs:`
comment, and is skipped only under the reference (HTTPY_WSGI_REFERENCE_STRICT=1 runs them
there as well, to see that each fails).
"""

import functools
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest

import serve_fixture

# The checkout: HTTPY_SOURCE_DIR (ctest sets it), else the one this file is in.
SOURCE = os.path.abspath(os.environ.get("HTTPY_SOURCE_DIR")
                         or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(SOURCE, "tests", "data", "wsgi")
VENV = os.path.join(SOURCE, "venvs", "test")
FLASK_APP = os.path.join(DATA, "flask_app.py")
DJANGO_PROJECT = os.path.join(DATA, "django_project.py")
EDGE_APP = os.path.join(DATA, "edge_app.py")
VALIDATED = os.path.join(DATA, "validated.py")

REFERENCE = os.environ.get("HTTPY_WSGI_REFERENCE", "")
if REFERENCE not in ("", "gunicorn"):
    raise RuntimeError(f"HTTPY_WSGI_REFERENCE={REFERENCE!r}: only 'gunicorn' is known")
REFERENCE_WORKER = os.environ.get("HTTPY_WSGI_REFERENCE_WORKER", "")
# Runs the @gunicorn_differs tests under the reference too, to see each one fail there.
REFERENCE_STRICT = os.environ.get("HTTPY_WSGI_REFERENCE_STRICT", "") not in ("", "0")

GUNICORN_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
GUNICORN_BOOTED = re.compile(r"Booting worker with pid")


class Gunicorn(serve_fixture.Server):
    """gunicorn on 127.0.0.1:0 serving TARGET (`/path/module.py:NAME`), with the same methods
    as serve_fixture.Server (request, raw, log, wait_for_log, stop, ...). httpy's options are
    translated: `--root-path P` is gunicorn's SCRIPT_NAME environment variable, `--max-body`
    and `--spool-above` have no gunicorn equivalent (gunicorn sets no body limit and never
    spools) and are dropped."""

    def __init__(self, target, *options, venv=VENV, env=None, worker="sync"):
        path, _, name = target.partition(":")
        folder, module = os.path.split(path)
        module = module[:-3] if module.endswith(".py") else module
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.pop("SCRIPT_NAME", None)
        options = [str(o) for o in options]
        while options:
            option = options.pop(0)
            if option == "--root-path":
                full_env["SCRIPT_NAME"] = options.pop(0)
            elif option in ("--max-body", "--spool-above"):
                options.pop(0)
            else:
                raise ValueError(f"no gunicorn equivalent for the httpy option {option}")
        if venv:
            command = [os.path.join(venv, "bin", "gunicorn"), "--no-control-socket"]
        else:  # Debian's gunicorn 20.1 (package gunicorn) on the system Python
            command = ["/usr/bin/python3", "-m", "gunicorn"]
        command += ["--bind", "127.0.0.1:0", "--workers", "1", "--worker-class", worker,
                    "--chdir", folder, "--pythonpath", folder,
                    "--graceful-timeout", "3", "--timeout", "30", "--log-level", "info",
                    "--error-logfile", "-"]
        if worker == "gthread":
            command += ["--threads", "4"]
        command += [f"{module}:{name or 'application'}"]
        self.handler = target
        self.options = options
        self.worker = worker
        self.drain = 5.0
        self._lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.stopped = False
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=full_env)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        match = self.wait_for_log(GUNICORN_LISTENING, serve_fixture.START_TIMEOUT, fail=False)
        if not match or not self.wait_for_log(GUNICORN_BOOTED, 10, fail=False):
            self.kill()
            raise serve_fixture.ServerError(f"gunicorn did not start: {command}; "
                                            f"stderr:\n{self.log()}")
        self.port = int(match.group(1))


def start(target, *options, venv=VENV, env=None, worker="sync"):
    """The server under test (httpy, or the reference) serving `target` (`file.py:NAME`)."""
    if REFERENCE == "gunicorn":
        return Gunicorn(target, *options, venv=venv, env=env, worker=REFERENCE_WORKER or worker)
    venv_options = ("--venv", venv) if venv else ()
    return serve_fixture.Server(target, "--interface", "wsgi", *venv_options, *options, env=env)


def gunicorn_differs(reason, worker=None):
    """Skips the test under the gunicorn reference (only with `worker`, when given): `reason`
    says how gunicorn departs from PEP 3333 or from httpy's documented behaviour."""

    def decorate(test):
        @functools.wraps(test)
        def run(self, *args, **kwargs):
            if (REFERENCE == "gunicorn" and not REFERENCE_STRICT
                    and worker in (None, self.server().worker)):
                raise unittest.SkipTest(f"gunicorn differs: {reason}")
            return test(self, *args, **kwargs)
        return run

    return decorate


class WsgiCase(serve_fixture.ServerCase):
    """A WSGI server per test class: `target` served with `options`, in `venv` (None: the
    system Python), with `env` added to the server's environment."""

    target = EDGE_APP + ":application"
    options = ()
    venv = VENV
    env = None
    reference_worker = "sync"
    still_serving = ("/hello", b"Hello, World!")

    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = start(cls.target, *cls.options, venv=cls.venv, env=cls.env,
                                worker=cls.reference_worker)
        return cls._server

    @property
    def under_reference(self):
        return REFERENCE != ""

    def assert_logged_by_httpy(self, text, timeout=5.0):
        """httpy's own log line (its words, so not checked under the reference)."""
        if not self.under_reference:
            self.server().wait_for_log(text, timeout)

    def get(self, path, headers=None, timeout=10.0):
        return self.server().request("GET", path, headers=headers, timeout=timeout)

    def get_json(self, path, headers=None, status=200):
        got, _, body = self.get(path, headers)
        self.assertEqual(got, status, f"GET {path}: {body[:500]!r}")
        return json.loads(body)

    def exchange(self, data, timeout=5.0):
        """Sends raw `data` on a new connection and reads until the server closes it; returns
        every byte received. Fails when the server keeps the connection open past `timeout`."""
        with self.server().raw(timeout) as sock:
            sock.sendall(data)
            received = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return received
                    received += chunk
            except ConnectionResetError:
                return received
            except socket.timeout:
                self.fail(f"the server kept the connection open {timeout} s after sending "
                          f"{received[:300]!r}... ({len(received)} bytes)")

    def log_lines_since(self, start):
        with self.server()._cond:
            return self.server()._lines[start:]


def split_response(data):
    """(status line, {lower-case name: [values]}, raw body bytes) of one whole response."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no end of the head in {data[:300]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, body


def parse_chunked(body):
    """(payload, complete): the chunks' bytes of a chunked body, and whether it ended with its
    terminating zero-size chunk. A body cut anywhere gives what arrived and False."""
    payload, rest = b"", body
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return payload, False
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            raise AssertionError(f"bad chunk size line {line!r} in {body[:300]!r}")
        if size == 0:
            return payload, rest.startswith(b"\r\n") or rest.find(b"\r\n\r\n") >= 0
        if len(rest) < size + 2:
            return payload + rest[:size], False
        payload += rest[:size]
        rest = rest[size + 2:]


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Polls predicate() until it is truthy or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
