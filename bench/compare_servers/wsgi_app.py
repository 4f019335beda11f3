"""bench/compare's handlers as a raw WSGI app (no framework), for gunicorn and uWSGI: the same
work as httpy_app.py, plus parsing the query, which WSGI leaves to the application."""

import itertools
import json
from urllib.parse import parse_qs

_requests = itertools.count(1)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hello":
        body = f"request #{next(_requests)}".encode()
        start_response("200 OK", [("X-Test", "1"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/echo":
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        body = json.dumps({"query": query, "name": environ.get("HTTP_X_NAME")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]


application = app  # uWSGI's default name
