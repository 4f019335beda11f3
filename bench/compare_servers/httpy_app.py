"""bench/compare's handlers for httpy: `hello` counts and answers `request #N` with `X-Test: 1`;
`echo` returns the parsed query and the `X-Name` header as JSON. The same work as wsgi_app.py and
asgi_app.py, except that httpy hands the query and headers over already parsed."""

import itertools
import json

# Each request takes the next number; next() on a count is atomic under the GIL.
_requests = itertools.count(1)


def go_init():
    return {"/hello": ["GET"], "/echo": ["GET"]}


def go_request(method, path, params, query, headers, body):
    if path == "/echo":
        name = headers.get("X-Name")
        text = json.dumps({"query": query, "name": name[0] if name else None})
        return 200, text, {"Content-Type": ["application/json"]}
    return 200, f"request #{next(_requests)}", {"X-Test": ["1"]}
