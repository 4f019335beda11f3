"""The Flask application tests/e2e/test_flask.py serves, with one route per feature users
rely on. `validated` is the same app inside wsgiref.validate's checker."""

import hashlib
import os
import tempfile
import wsgiref.validate

from flask import Flask, Response, abort, jsonify, request, send_file, session, stream_with_context

app = Flask(__name__)
app.secret_key = "httpy-test-secret"

# A file for send_file: deterministic bytes, written once per process.
BLOB = os.path.join(tempfile.gettempdir(), f"httpy-flask-blob-{os.getpid()}.bin")
with open(BLOB, "wb") as f:
    f.write(bytes(range(256)) * 1200)  # 300 KiB


@app.get("/hello")
def hello():
    return "Hello, World!"


@app.get("/prefix")
def prefix():
    import flask
    import sys
    return jsonify(prefix=sys.prefix, flask=flask.__file__)


@app.get("/users/<int:uid>")
def user(uid):
    return jsonify(uid=uid, type=type(uid).__name__)


@app.get("/files/<path:rest>")
def files(rest):
    return jsonify(rest=rest)


@app.get("/args")
def args():
    return jsonify({k: request.args.getlist(k) for k in request.args})


@app.post("/form")
def form():
    return jsonify({k: request.form.getlist(k) for k in request.form})


@app.post("/json")
def json_echo():
    doc = request.get_json()
    doc["seen"] = True
    return jsonify(doc)


@app.post("/upload")
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.get("/session/set")
def session_set():
    session["value"] = request.args["v"]
    return "set"


@app.get("/session/get")
def session_get():
    return jsonify(value=session.get("value"))


@app.get("/missing")
def missing():
    abort(404)


@app.errorhandler(404)
def not_found(error):
    return jsonify(error="not found", path=request.path), 404


@app.get("/stream")
def stream():
    n = int(request.args.get("n", 5))

    def lines():
        for i in range(n):
            yield f"line {i} of {request.path}\n"

    return Response(stream_with_context(lines()), mimetype="text/plain")


@app.get("/sendfile")
def sendfile():
    return send_file(BLOB, mimetype="application/octet-stream")


@app.get("/sendfile/sha256")
def sendfile_sha256():
    with open(BLOB, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@app.get("/boom")
def boom():
    raise RuntimeError("a view failed: secret detail")


def _without_input_terminated(wrapped):
    """wsgiref.validate predates `wsgi.input_terminated`: it refuses `wsgi.input.read()` without
    a size, which Werkzeug calls when the server sets that key (PEP 3333 asks for a size). So
    the validated app sees the environ of a server that does not set it."""

    def application(environ, start_response):
        environ = dict(environ)
        environ.pop("wsgi.input_terminated", None)
        return wrapped(environ, start_response)

    return application


validated = _without_input_terminated(wsgiref.validate.validator(app))
