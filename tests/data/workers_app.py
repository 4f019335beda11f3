"""The app of tests/e2e/test_workers.py: each answer names the worker process that made it and
the app's VERSION (a reload test rewrites it), plus ways to make a worker die, grow or wait."""

import os
import time

VERSION = 1

_kept = []


def go_request(method, path, params, query, headers, body):
    if path == "/exit":
        os._exit(3)  # the worker dies mid-request, as after a crash in an extension
    if path == "/grow":
        _kept.append(bytearray(b"x") * (int(query["mib"][0]) << 20))  # written, so resident
    if path == "/sleep":
        time.sleep(float(query["seconds"][0]))
    return 200, f"{os.getpid()} {VERSION}", {}
