"""The handler the `httpy serve` end-to-end tests (tests/e2e/test_serve.py) talk to over HTTP.

One `go_request` dispatches on the path, so one server covers many cases. It has no `go_init`:
without `--init` every method and path reaches it; `--init serve_app.py:routes` adds routes.
"""

import json
import sys
import time

import timeout_spin


def routes():
    """Routes for `--init serve_app.py:routes`: params and 404/405, plus the fixed paths the
    tests use on that server."""
    table = {"/hello/:target": ["GET", "POST"], "/files/*rest": ["GET", "POST"],
             "/only-get": ["GET"]}
    for path in ["/still/alive", "/body", "/len", "/spin", "/spin-count", "/wrong", "/raise",
                 "/inject", "/sleep", "/status"]:
        table[path] = ["GET", "POST"]
    return table


def bad_routes():
    return {"/": "GET"}


def _reflect(method, path, params, query, headers, body):
    raw = body.encode("utf-8", "surrogateescape")
    doc = {"method": method, "path": path, "params": params, "query": query,
           "headers": headers, "body_hex": raw.hex(), "body_type": type(body).__name__}
    return 200, json.dumps(doc, sort_keys=True), {"Content-Type": "application/json"}


def go_request(method, path, params, query, headers, body):
    if path.startswith(("/reflect", "/hello/", "/files/")):
        return _reflect(method, path, params, query, headers, body)
    if path == "/body":
        return 200, body, {"Content-Type": "application/octet-stream"}
    if path == "/len":
        return 200, str(len(body.encode("utf-8", "surrogateescape"))), None
    if path == "/sleep":
        seconds = float(query.get("seconds", headers.get("X-Sleep", ["0.05"]))[0])
        print(f"serve_app: sleep {query.get('tag', [''])[0]} started", file=sys.stderr, flush=True)
        time.sleep(seconds)
        return 200, f"slept {seconds}", None
    if path == "/spin":
        timeout_spin.spin()
    if path == "/spin-count":
        return 200, str(timeout_spin.interrupted), None
    if path == "/wrong":
        return 200, "body", {"X-Test": [1]}
    if path == "/raise":
        raise ValueError("handler failed on purpose")
    if path == "/server":
        return 200, "own server header", {"Server": "custom/1"}
    if path == "/wrong-length":
        return 200, "four", {"Content-Length": ["999"]}
    if path == "/inject":
        return 200, "injected", {"X-Bad": "a\r\nInjected: yes"}
    if path == "/status":
        return int(query["code"][0]), "", None
    if path == "/big":
        return 200, b"x" * int(query["n"][0]), None
    if path == "/generator":
        return 200, _chunks(int(query["n"][0]), float(query.get("delay", ["0"])[0])), None
    if path == "/generator-raise":
        return 200, _chunks(2, 0, then_raise=True), None
    if path == "/generator-count":
        return 200, str(_closed), None
    return 200, path, {"X-Path": path}


_closed = 0


def _chunks(n, delay, then_raise=False):
    """A streamed go body: str and bytes chunks alternating; counts its own closing."""
    global _closed
    try:
        for i in range(n):
            yield f"chunk {i}\n" if i % 2 == 0 else f"chunk {i}\n".encode()
            if delay:
                time.sleep(delay)
        if then_raise:
            raise RuntimeError("the body generator failed")
    finally:
        _closed += 1
