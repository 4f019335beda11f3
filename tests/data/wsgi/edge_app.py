"""A raw WSGI application for the PEP 3333 corners tests/e2e/test_wsgi.py checks over the wire."""

import json
import sys
import time

closed = 0


class Counted:
    """A response iterable whose close() is counted (read back through /closed)."""

    def __init__(self, chunks, delay=0.0, fail_at=None):
        self.chunks, self.delay, self.fail_at = chunks, delay, fail_at

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("the body failed mid-stream")
            if i and self.delay:
                time.sleep(self.delay)
            yield chunk

    def close(self):
        global closed
        closed += 1


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
    if path.endswith("/environ"):
        doc = {k: v for k, v in environ.items() if isinstance(v, (str, bool, tuple))}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(doc).encode()]
    if path == "/closed":
        start_response("200 OK", [])
        return [str(closed).encode()]
    if path == "/input":
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("X-Length", environ.get("CONTENT_LENGTH", "none"))])
        return [data]
    if path == "/late-start":
        def late():
            start_response("201 Created", [("X-Late", "yes")])
            yield b"started late"
        return late()
    if path == "/exc-after":
        def after():
            start_response("200 OK", [])
            yield b"head sent"
            try:
                raise ValueError("too late to change the status")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            yield b"never"
        return after()
    if path == "/raise-mid":
        start_response("200 OK", [])
        return Counted([b"one ", b"two "], fail_at=1)
    if path == "/slow":
        start_response("200 OK", [])
        return Counted([b"chunk %d\n" % i for i in range(int(query.get("n", "50")))],
                       delay=float(query.get("delay", "0.05")))
    if path == "/short":
        start_response("200 OK", [("Content-Length", "10")])
        return Counted([b"12345"], delay=0.01)
    if path == "/long":
        start_response("200 OK", [("Content-Length", "5")])
        return Counted([b"12345", b"67890"])
    if path == "/latin1":
        start_response("200 OK", [("X-Latin", "caf\xe9"), ("X-Echo", environ.get("HTTP_X_LATIN", ""))])
        return [b"latin-1"]
    if path == "/write":
        write = start_response("200 OK", [])
        write(b"written, ")
        return [b"returned"]
    if path == "/bad-status":
        start_response("99 Too Low", [])
        return [b"never"]
    start_response("404 Not Found", [])
    return [b"no such path"]
