"""bench/compare_wsgi's handlers as a Flask app, written as a Flask user would: the same two routes
and answers as wsgi_app.py. `hello` counts and answers `request #N` with `X-Test: 1`; `echo`
returns the parsed query (a dict of lists) and the `X-Name` header as JSON (through jsonify, so
with Flask's sorted keys and compact separators: the same JSON value as wsgi_app.py's)."""

import itertools

from flask import Flask, jsonify, request

_requests = itertools.count(1)

app = Flask(__name__)


@app.get("/hello")
def hello():
    return f"request #{next(_requests)}", 200, {"X-Test": "1"}


@app.get("/echo")
def echo():
    return jsonify(query=request.args.to_dict(flat=False), name=request.headers.get("X-Name"))


application = app  # uWSGI's default name
