"""A real `httpy serve` process on 127.0.0.1:0 and small real clients for the end-to-end tests.

`Server` starts the binary, learns the port from its `httpy listening on` line (http or https),
keeps draining stderr into a buffer (tests assert on log lines) and stops it with SIGTERM. `read_response` parses
responses off a raw socket so pipelined answers and malformed input can be checked byte by byte.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

HTTPY = os.path.abspath(os.environ.get("HTTPY_BIN", "build/httpy"))
SOURCE = os.path.abspath(os.environ.get("HTTPY_SOURCE_DIR", os.getcwd()))
WORKER = os.path.join(SOURCE, "examples", "worker.py")
ASYNC_WORKER = os.path.join(SOURCE, "examples", "async_worker.py")
APP = os.path.join(SOURCE, "tests", "data", "serve_app.py")

LISTENING = re.compile(r"httpy listening on https?://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 30.0


class ServerError(AssertionError):
    pass


class ServerCase(unittest.TestCase):
    """A server per test class, started at its first use and stopped after the class's last
    test; `handler` and `options` say what it serves and how, `still_serving` a request it must
    answer 200 (its path and body) after whatever a test did to it."""

    handler = APP
    options = ()
    still_serving = ("/still/alive", b"/still/alive")
    _server = None

    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = Server(cls.handler, *cls.options)
        return cls._server

    @classmethod
    def tearDownClass(cls):
        if cls._server is not None:
            server, cls._server = cls._server, None
            server.stop()

    def assert_still_serving(self, server=None):
        path, body = self.still_serving
        status, _, got = (server or self.server()).request("GET", path, timeout=5)
        self.assertEqual((status, got), (200, body), "the server stopped serving")


def alive(pid):
    """Whether any thread of process `pid` still runs. A zombie is dead, but the main thread of a
    killed multithreaded process turns zombie before its other threads have exited and before
    its files (listening sockets too) are closed: that process still counts as alive."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return True
        except (FileNotFoundError, ProcessLookupError):
            pass
    return False


class Server:
    """`httpy serve HANDLER --bind BIND OPTIONS...` (BIND: 127.0.0.1:0 unless given); use as a
    context manager or call `stop()` (which asserts exit code 0 within the drain deadline)."""

    def __init__(self, handler=APP, *options, env=None, bind="127.0.0.1:0"):
        self.handler = handler
        self.options = [str(o) for o in options]
        self.drain = 10.0
        if "--drain-timeout" in self.options:
            self.drain = float(self.options[self.options.index("--drain-timeout") + 1])
        if "--drain-delay" in self.options:
            self.drain += float(self.options[self.options.index("--drain-delay") + 1])
        self._lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.stopped = False
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [HTTPY, "serve", handler, "--bind", bind, *self.options],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=full_env)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        match = self.wait_for_log(LISTENING, START_TIMEOUT, fail=False)
        if not match:
            self.kill()
            raise ServerError(f"httpy serve did not start; stderr:\n{self.log()}")
        self.port = int(match.group(1))

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def log(self):
        with self._cond:
            return "".join(self._lines)

    def wait_for_log(self, pattern, timeout=5.0, fail=True, start=0):
        """The first match of `pattern` (str: substring, or compiled regex) in the log from line
        `start`, waiting up to `timeout` seconds; None (or a failure) when it does not come."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[start:]:
                    if isinstance(pattern, str):
                        if pattern in line:
                            return line
                    else:
                        m = pattern.search(line)
                        if m:
                            return m
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._cond.wait(left)
        if fail:
            raise ServerError(f"{pattern!r} not in the server log within {timeout} s:\n"
                              f"{self.log()}")
        return None

    def line_count(self):
        with self._cond:
            return len(self._lines)

    def connect(self, timeout=10.0):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        """One request on a new http.client connection: (status, HTTPMessage, body bytes)."""
        conn = self.connect(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.msg, resp.read()
        finally:
            conn.close()

    def raw(self, timeout=10.0):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=None):
        """The exit code, waiting at most the drain deadline plus a margin."""
        timeout = self.drain + 5.0 if timeout is None else timeout
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(f"httpy serve did not exit within {timeout} s of SIGTERM; "
                              f"stderr:\n{self.log()}")
        self._reader.join(5)
        self.proc.stderr.close()
        self.stopped = True
        return code

    def stop(self):
        """SIGTERM, then asserts exit code 0 within the drain deadline; returns the log."""
        if self.stopped:
            return self.log()
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        code = self.wait_exit()
        if code != 0:
            raise ServerError(f"httpy serve exited {code} after SIGTERM; stderr:\n{self.log()}")
        return self.log()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self.stopped:
            self._reader.join(5)
            self.proc.stderr.close()
        self.stopped = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
        return False


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.body = headers, body

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def __repr__(self):
        return (f"<{self.version} {self.status} {self.reason} {self.headers!r} "
                f"body={self.body[:200]!r}>")


def read_response(reader, head=False):
    """One response from a buffered binary reader (sock.makefile("rb")); None at EOF before the
    status line. 1xx responses are returned like any other (the caller reads on)."""
    line = reader.readline(65537)
    if not line:
        return None
    parts = line.rstrip(b"\r\n").decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"bad status line {line!r}")
    version, status, reason = parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""
    headers = []
    while True:
        line = reader.readline(65537)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise EOFError(f"EOF inside the headers of a {status} response")
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name, value.strip()))
    resp = Response(version, status, reason, headers, b"")
    if head or status < 200 or status in (204, 304):
        return resp
    if "chunked" in (resp.header("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size = int(reader.readline().split(b";")[0], 16)
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(reader.read(size))
            reader.readline()
        resp.body = b"".join(chunks)
    elif resp.header("Content-Length") is not None:
        n = int(resp.header("Content-Length"))
        resp.body = reader.read(n)
        if len(resp.body) != n:
            raise EOFError(f"body cut short: {len(resp.body)} of {n} bytes")
    else:
        resp.body = reader.read()
    return resp


def closed_within(sock, reader, timeout):
    """True when the peer closes (EOF or reset) within `timeout` s with no further bytes; False
    on timeout; raises when unexpected bytes arrive."""
    # The socket, not `reader`: a buffered reader is unusable after one timeout. Responses are
    # read to their end first, so nothing the server sent is left in `reader`'s buffer.
    sock.settimeout(timeout)
    try:
        data = sock.recv(1)
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    if data:
        rest = b""
        try:
            sock.settimeout(0.2)
            rest = sock.recv(65536)
        except OSError:
            pass
        raise AssertionError(f"expected the connection to close, got bytes {data + rest!r}")
    return True


def run_parallel(count, fn, timeout=30.0):
    """Runs fn(i) for i in range(count) on `count` threads at once; returns the results (an
    exception counts as the result)."""
    results = [None] * count
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait(timeout)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise AssertionError(f"parallel requests still running after {timeout} s")
    return results
