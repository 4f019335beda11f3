"""The handler the leak soak (bench/soak, tests/e2e/test_soak.py) sends its requests to.

Every request carries 6 headers, 3 query keys and a small body; the path picks the outcome:
an answer built from every argument (`/ok/...`, 200), an exception (`/raise/...`, 500) or a
return value of the wrong shape (`/wrong/...`, 500). `/stats` reports Python's own counts after
a full collection, so the soak can check that they stay flat. Nothing here keeps a reference
to a request's objects between calls.
"""

import gc
import json
import sys


def _stats():
    gc.collect()
    doc = {"blocks": sys.getallocatedblocks(), "python": sys.version.split()[0]}
    if hasattr(sys, "gettotalrefcount"):  # debug CPython only
        doc["refs"] = sys.gettotalrefcount()
    return 200, json.dumps(doc), {"Content-Type": "application/json"}


def _ok(kind, method, path, params, query, headers, body):
    doc = {"method": method, "path": path, "query": query, "name": headers.get("X-Name", [""])[0],
           "trace": headers.get("X-Trace-Id", [""])[0], "length": len(body)}
    echo = {"Content-Type": "application/json", "X-Echo": query.get("a", []),
            "X-Trace-Id": headers.get("X-Trace-Id", [])}
    if kind == "text":
        return 200, json.dumps(doc), echo
    if kind == "bytes":
        return 200, json.dumps(doc).encode(), echo
    # "body": the request body back, as a list-typed 3-item sequence
    return [200, body, {"Content-Type": headers.get("Content-Type", ["text/plain"])}]


_WRONG = {
    "int-header": lambda body: (200, body, {"X-Test": [1]}),
    "crlf-header": lambda body: (200, body, {"X-Test": "a\r\nInjected: 1"}),
    "short-tuple": lambda body: (200, body),
    "long-tuple": lambda body: (200, body, None, "extra"),
    "none": lambda body: None,
    "bad-status": lambda body: ("200", body, None),
}


def go_request(method, path, params, query, headers, body):
    group, _, kind = path[1:].partition("/")
    if group == "ok":
        return _ok(kind, method, path, params, query, headers, body)
    if group == "raise":  # raised here, not deeper: every frame costs the log a traceback entry
        if kind == "chained":
            try:
                {}["missing"]
            except KeyError as e:
                raise ValueError("soak: failed while handling " + body) from e
        if kind == "type":
            return 200, body + 1, None  # TypeError: str + int
        raise RuntimeError("soak: handler failed on purpose: " + body)
    if group == "wrong":
        return _WRONG[kind](body)
    if path == "/stats":
        return _stats()
    return 404, "no such soak path: " + path, None
