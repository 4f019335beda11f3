"""A raw PEP 3333 application for the corners tests/e2e/test_wsgi.py checks over the wire.

One `application` dispatches on PATH_INFO; no framework sits between the server and it, so
what a test sees is what the server did. Every streamed body is a `Counted` iterable: its
close() adds one to a counter named by the request's `key=` query parameter, and
`/close-count/value?key=...` reads that counter back through another request, so a test can
check that the server called close() exactly once on whatever path its request took.
"""

import hashlib
import io
import json
import sys
import threading
import time
from urllib.parse import parse_qsl

from blob_file import blob_file

_lock = threading.Lock()
_closes = {}  # key -> number of close() calls
_yielded = {}  # key -> chunks /endless has yielded


def _count_close(key):
    with _lock:
        _closes[key] = _closes.get(key, 0) + 1


def _closes_of(key):
    with _lock:
        return _closes.get(key, 0)


BLOB_PATH, BLOB = blob_file("httpy-edge")
BYTESIO_DATA = bytes(range(256)) * 40  # 10 KiB


class Counted:
    """A response iterable over `chunks` (any iterable: a list or a generator) whose close()
    is counted under `key` and closes the generator it wraps."""

    def __init__(self, key, chunks):
        self.key = key
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        _count_close(self.key)
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def _json(start_response, doc, status="200 OK", headers=()):
    body = json.dumps(doc, sort_keys=True).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


def _text(start_response, text, status="200 OK", headers=()):
    body = text if isinstance(text, bytes) else text.encode()
    start_response(status, [("Content-Type", "text/plain"), *headers])
    return [body]


def environ_doc(environ):
    """Every key whose value JSON can carry (str, int, bool, tuple), and for the rest
    (wsgi.input, wsgi.errors, wsgi.file_wrapper, ...) the name of the value's type."""
    doc, others = {}, {}
    for key, value in environ.items():
        if isinstance(value, (str, int, bool, tuple)):
            doc[key] = list(value) if isinstance(value, tuple) else value
            if isinstance(value, tuple):
                others[key] = "tuple"
        else:
            others[key] = type(value).__name__
    doc["_types"] = others
    return doc


def _until_empty(read):
    """Calls read() until it gives b""; returns (what it gave, joined; the number of calls)."""
    parts, calls = [], 0
    while True:
        calls += 1
        part = read()
        if not part:
            return b"".join(parts), calls
        parts.append(part)


def read_input(environ, how, n):
    """Reads wsgi.input the way `how` says; returns (bytes read, number of calls made)."""
    stream = environ["wsgi.input"]
    if how == "read":
        return stream.read(), 1
    if how == "readn":
        return _until_empty(lambda: stream.read(n))
    if how == "content-length":
        return stream.read(int(environ.get("CONTENT_LENGTH") or 0)), 1
    if how == "readline":
        return _until_empty(stream.readline)
    if how == "readline-limit":
        return _until_empty(lambda: stream.readline(n))
    if how == "readlines":
        return b"".join(stream.readlines()), 1
    if how == "iter":
        parts = list(stream)
        return b"".join(parts), len(parts)
    raise ValueError(f"unknown how={how!r}")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    key = query.get("key", "default")

    if path == "/hello":
        return _text(start_response, "Hello, World!")

    if path == "/head":
        # As Werkzeug answers HEAD: the GET's Content-Length, and no body at all.
        body = b"thirteen char"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    if path == "/environ" or path.endswith("/environ") or query.get("dump") == "environ":
        return _json(start_response, environ_doc(environ))

    if path == "/write":
        # The write() callable start_response returns, then an empty iterable.
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"by write()")
        return []

    if path == "/write-then-iterable":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written, ")
        return [b"returned"]

    if path == "/late-start":
        # start_response is called only on the first next() of the returned generator.
        def late():
            start_response("201 Created", [("Content-Type", "text/plain"), ("X-Late", "yes")])
            yield b"started "
            yield b"late"
        return Counted(key, late())

    if path == "/exc-before":
        # start_response, then an error before any body: start_response again with exc_info
        # replaces the status and headers.
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise LookupError("changed my mind before the body")
        except LookupError:
            start_response("500 Custom Failure", [("Content-Type", "text/plain"),
                                                  ("X-Replaced", "yes")], sys.exc_info())
        return [b"replaced by exc_info"]

    if path == "/exc-after":
        # The head has gone out with the first chunk; start_response with exc_info must
        # re-raise, which ends the response mid-body.
        def after():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"head sent. "
            try:
                raise ValueError("exc_info after the head: too late to change the status")
            except ValueError:
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                               sys.exc_info())
            yield b"never sent"
        return Counted(key, after())

    if path == "/raise-mid":
        def mid():
            yield b"one "
            yield b"two "
            raise RuntimeError("the body failed mid-stream")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Counted(key, mid())

    if path == "/close-count":
        # Not a generator: a list inside an object that has close().
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Counted(key, [b"counted ", b"body"])

    if path == "/close-count/value":
        return _text(start_response, str(_closes_of(key)))

    if path == "/endless":
        # 64 KiB chunks for as long as they are taken, counted under `key`: how far the app got
        # ahead of a client that stopped reading.
        def endless():
            chunk = b"e" * 65536
            while True:
                with _lock:
                    _yielded[key] = _yielded.get(key, 0) + 1
                yield chunk
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Counted(key, endless())

    if path == "/endless/yielded":
        with _lock:
            return _text(start_response, str(_yielded.get(key, 0)))

    if path == "/slow-stream":
        n = int(query.get("n", "5"))
        delay = float(query.get("delay", "0.1"))

        def slow():
            for i in range(n):
                if i and delay:
                    time.sleep(delay)
                yield b"data: %d\n\n" % i
        start_response("200 OK", [("Content-Type", "text/event-stream"),
                                  ("Cache-Control", "no-cache")])
        return Counted(key, slow())

    if path == "/stall":
        # One chunk, then nothing for 30 s (sleeping in short steps, so the TimeoutError the
        # handler timeout raises lands within one of them).
        def stalled():
            yield b"data: first\n\n"
            for _ in range(600):
                time.sleep(0.05)
            yield b"data: too late\n\n"
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return Counted(query.get("key", "stall"), stalled())

    if path == "/latin1":
        # A latin-1 str header value goes out as the byte 0xE9; the request's X-Latin arrives
        # as the latin-1 decoding of its bytes.
        echo = environ.get("HTTP_X_LATIN")
        return _json(start_response, {"x_latin": echo,
                                      "code_points": [ord(c) for c in echo or ""]},
                     headers=[("X-Latin", "caf\u00e9")])

    if path == "/input":
        data, calls = read_input(environ, query.get("how", "read"), int(query.get("n", "1000")))
        return _json(start_response, {"sha256": hashlib.sha256(data).hexdigest(),
                                      "length": len(data), "calls": calls,
                                      "content_length": environ.get("CONTENT_LENGTH"),
                                      "after": len(environ["wsgi.input"].read(1000))})

    if path == "/input/sha256":
        # Reads in pieces of n and keeps none of them: what the server holds is what it costs.
        digest, length, stream = hashlib.sha256(), 0, environ["wsgi.input"]
        n = int(query.get("n", "65536"))
        while part := stream.read(n):
            digest.update(part)
            length += len(part)
        return _json(start_response, {"sha256": digest.hexdigest(), "length": length})

    if path == "/errors":
        tag = query.get("tag", "tag")
        errors = environ["wsgi.errors"]
        # Two lines in three write() calls: the first line is split over two of them.
        errors.write(f"errors-{tag} first line, ")
        errors.write(f"its end\nerrors-{tag} second ")
        errors.write("line\n")
        errors.flush()
        return _text(start_response, "written")

    if path == "/content-length-short":
        # Announces 10 bytes, gives 5: the server cannot end the response properly.
        def short():
            yield b"12345"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return Counted(key, short())

    if path == "/content-length-long":
        # Announces 5 bytes, gives 10: no more than 5 may go out.
        def long():
            yield b"12345"
            yield b"67890"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return Counted(key, long())

    if path == "/filewrapper":
        f = open(BLOB_PATH, "rb")
        offset = int(query.get("offset", "0"))
        if offset:
            f.seek(offset)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 8192)

    if path == "/filewrapper/sha256":
        offset = int(query.get("offset", "0"))
        return _json(start_response, {"sha256": hashlib.sha256(BLOB[offset:]).hexdigest(),
                                      "length": len(BLOB) - offset})

    if path == "/filewrapper-bytesio":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](io.BytesIO(BYTESIO_DATA), 1000)

    if path == "/filewrapper-bytesio/sha256":
        return _json(start_response, {"sha256": hashlib.sha256(BYTESIO_DATA).hexdigest(),
                                      "length": len(BYTESIO_DATA)})

    if path == "/bad-status":
        # ?status=...: the status to try; "bytes" tries b"200 OK" (PEP 3333 wants a str).
        status = query.get("status", "99 Too Low")
        start_response(b"200 OK" if status == "bytes" else status,
                       [("Content-Type", "text/plain")])
        return [b"never sent"]

    if path == "/bad-header":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Bad", "a\nInjected: b")])
        return [b"never sent"]

    return _text(start_response, f"no route for {path!r}", status="404 Not Found")
