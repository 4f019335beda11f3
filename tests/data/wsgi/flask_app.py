"""The Flask application tests/e2e/test_flask.py serves: one route per feature users rely on.

It runs on the Flask of venvs/test (requirements/test.txt) and on Debian's python3-flask (2.2)
alike, so it uses nothing newer than Flask 2.2 has. tests/data/wsgi/validated.py wraps it in
wsgiref.validate.
"""

import hashlib
import os
import sys

from flask import (Flask, Response, abort, jsonify, request, send_file, session,
                   stream_with_context)

from blob_file import blob_file

app = Flask(__name__)
app.secret_key = "httpy-flask-test-secret-key"


BLOB = blob_file("httpy-flask")[0]


@app.get("/hello")
def hello():
    return "Hello, World!"


@app.get("/prefix")
def prefix():
    """Where Python and Flask come from: the venv, or Debian's system packages."""
    import flask
    return jsonify(prefix=sys.prefix, base_prefix=sys.base_prefix, flask=flask.__file__,
                   executable=sys.executable, pid=os.getpid(),
                   multiprocess=request.environ["wsgi.multiprocess"])


@app.get("/users/<int:uid>")
def user(uid):
    return jsonify(uid=uid, type=type(uid).__name__)


@app.get("/files/<path:rest>")
def files(rest):
    return jsonify(rest=rest)


@app.get("/echo-args")
def echo_args():
    return jsonify({k: request.args.getlist(k) for k in request.args})


@app.post("/form")
def form():
    return jsonify({k: request.form.getlist(k) for k in request.form})


@app.post("/json")
def json_echo():
    doc = request.get_json()
    doc["seen_by"] = "flask"
    return jsonify(doc)


@app.post("/upload")
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   fields={k: request.form.getlist(k) for k in request.form})


@app.get("/session/set")
def session_set():
    session["value"] = request.args["v"]
    return jsonify(stored=session["value"])


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
        # stream_with_context keeps `request` usable while the server pulls the chunks.
        for i in range(n):
            yield f"line {i} of {request.path}?{request.query_string.decode()}\n"

    return Response(stream_with_context(lines()), mimetype="text/plain")


@app.get("/sendfile")
def sendfile():
    return send_file(BLOB, mimetype="application/octet-stream")


@app.get("/sendfile/sha256")
def sendfile_sha256():
    with open(BLOB, "rb") as f:
        data = f.read()
    return jsonify(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@app.get("/boom")
def boom():
    raise RuntimeError("a Flask view failed: secret-detail-4f1c")
