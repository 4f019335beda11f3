"""Example: a handler module for httpy, in the spirit of the original Go project.

Serve it with `httpy serve examples/worker.py`, or try one request without a server:
`httpy call examples/worker.py GET '/hello/bob?x=1'`.
"""

import itertools
import time

# Each request takes the next number; next() on a count is atomic under the GIL.
_requests = itertools.count(1)


def go_init():
    """Called once before any request: the routes this module answers."""
    return {
        "/": ["GET"],
        "/ping": ["GET"],
        "/hello/:target": ["GET", "POST"],
    }


def go_request(method, path, params, query, headers, body):
    """Answers every route: counts requests, and sleeps first when asked to by X-Sleep."""
    number = next(_requests)
    sleep = headers.get("X-Sleep")
    if sleep:
        time.sleep(float(sleep[0]))
    return 200, f"request #{number}", {"X-Test": ["1"]}
