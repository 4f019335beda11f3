"""A small Flask application served by httpy's WSGI interface:

    httpy serve examples/flask_app.py --venv venvs/test     # Flask from PyPI, in the venv
    httpy serve examples/flask_app.py                        # or Debian's python3-flask

`app` is found without naming it (`examples/flask_app.py:app` says it explicitly) and is told
apart from a go_request handler by its type.
"""

import time

from flask import Flask, Response, jsonify, request, stream_with_context

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask on httpy!\n"


@app.get("/hello/<name>")
def hello(name):
    return jsonify(greeting=f"Hello, {name}!", query=request.args.to_dict())


@app.post("/echo")
def echo():
    return jsonify(received=request.get_json(silent=True), length=request.content_length)


@app.get("/events")
def events():
    """Server-sent events: one a second, each sent as soon as it is yielded."""

    def stream():
        for i in range(int(request.args.get("n", 5))):
            yield f"data: tick {i}\n\n"
            time.sleep(1)

    return Response(stream_with_context(stream()), mimetype="text/event-stream")
