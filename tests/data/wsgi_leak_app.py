"""A WSGI application with one path per way a response can go (tests/runtime/leak_test.cpp)."""

import io
import sys

closed = 0


class Body:
    """An iterable with close(), counted, as frameworks' response iterables are."""

    def __init__(self, chunks, fail_at=None):
        self._chunks = chunks
        self._fail_at = fail_at

    def __iter__(self):
        for i, chunk in enumerate(self._chunks):
            if i == self._fail_at:
                raise RuntimeError("failed mid-stream")
            yield chunk

    def close(self):
        global closed
        closed += 1


def application(environ, start_response):
    path = environ["PATH_INFO"]
    body = environ["wsgi.input"].read()
    headers = [("Content-Type", "application/octet-stream"), ("X-Path", path)]
    if path == "/list":
        start_response("200 OK", headers)
        return [body, environ["QUERY_STRING"].encode("latin-1")]
    if path == "/generator":
        start_response("200 OK", headers)
        return Body([b"one", b"", b"two", body])
    if path == "/write":
        write = start_response("200 OK", headers)
        write(b"written ")
        return [body]
    if path == "/late-start":
        def late():
            start_response("200 OK", headers)
            yield b"late"
            yield body
        return late()
    if path == "/exc-before":
        start_response("200 OK", headers)
        try:
            raise ValueError("replaced")
        except ValueError:
            start_response("500 Internal Server Error", headers, sys.exc_info())
        return [b"error page"]
    if path == "/exc-after":
        def after():
            start_response("200 OK", headers)
            yield b"head sent"
            try:
                raise ValueError("too late")
            except ValueError:
                start_response("500 Internal Server Error", headers, sys.exc_info())
            yield b"never"
        return after()
    if path == "/raise-mid":
        start_response("200 OK", headers)
        return Body([b"one", b"two"], fail_at=1)
    if path == "/file":
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](open(__file__, "rb"), 4096)
    if path == "/filelike":
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](io.BytesIO(body * 3), 7)
    if path == "/bad-status":
        start_response("99 Too Low", headers)
        return [body]
    if path == "/dropped":
        start_response("200 OK", headers)
        return Body([b"first", b"second", b"third"])
    start_response("404 Not Found", headers)
    return [b"no such path"]
