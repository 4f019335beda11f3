"""Flask over real sockets: the Flask of venvs/test (requirements/test.txt) served with
`--venv`, exactly as users run it; the same app inside wsgiref.validate; and Debian's own
python3-flask on the system Python, without a venv. The app is tests/data/wsgi/flask_app.py;
wsgi_fixture.py says how to run these against gunicorn instead (HTTPY_WSGI_REFERENCE=gunicorn)."""

import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
import time
import unittest
import uuid

import serve_fixture
from wsgi_fixture import (FLASK_APP, REFERENCE, SOURCE, VALIDATED, VENV, WsgiCase,
                          gunicorn_differs)

MIB = 1024 * 1024


def multipart(fields, files):
    """(body, content type) of a multipart/form-data request: `fields` {name: str},
    `files` {name: (filename, bytes)}."""
    boundary = "httpy-" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode() + b"\r\n")
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def deterministic_bytes(size):
    """`size` bytes that are the same every run and neither repeat nor compress."""
    return b"".join(hashlib.sha256(b"upload-%d" % i).digest()
                    for i in range(size // 32 + 1))[:size]


class FlaskInVenv(WsgiCase):
    """Every feature flask_app.py has a route for, on PyPI's Flask in venvs/test."""

    target = FLASK_APP + ":app"
    options = ("--max-body", str(16 * MIB))

    def test_the_start_up_line_names_the_app_and_wsgi(self):
        self.assert_logged_by_httpy(re.compile(r"wsgi app .*flask_app\.py:app"))
        self.assertEqual(self.get("/hello")[2], b"Hello, World!")

    def test_python_runs_in_the_venv_with_its_packages(self):
        doc = self.get_json("/prefix")
        self.assertEqual(os.path.realpath(doc["prefix"]), os.path.realpath(VENV),
                         f"sys.prefix is not the venv: {doc}")
        self.assertTrue(os.path.realpath(doc["flask"]).startswith(os.path.realpath(VENV)),
                        f"flask was not imported from the venv: {doc}")

    def test_hello_and_head(self):
        status, headers, body = self.get("/hello")
        self.assertEqual((status, body), (200, b"Hello, World!"))
        self.assertEqual(headers["Content-Length"], "13")
        self.assertTrue(headers["Content-Type"].startswith("text/html"), headers["Content-Type"])
        status, headers, body = self.server().request("HEAD", "/hello")
        self.assertEqual((status, headers["Content-Length"], body), (200, "13", b""))

    def test_routing_and_path_converters(self):
        self.assertEqual(self.get_json("/users/42"), {"uid": 42, "type": "int"})
        self.assertEqual(self.get_json("/files/a/b/c.txt"), {"rest": "a/b/c.txt"})
        self.assertEqual(self.get_json("/files/caf%C3%A9/x%20y"), {"rest": "café/x y"},
                         "Flask decodes the latin-1 PATH_INFO back to UTF-8")
        self.assertEqual(self.get_json("/users/notanint", status=404)["error"], "not found")
        status, _, _ = self.server().request("POST", "/users/42")
        self.assertEqual(status, 405)

    def test_query_parsing(self):
        self.assertEqual(self.get_json("/echo-args?a=1&a=2&b=caf%C3%A9&c=x+y&d="),
                         {"a": ["1", "2"], "b": ["café"], "c": ["x y"], "d": [""]})

    def test_form_parsing(self):
        status, _, body = self.server().request(
            "POST", "/form", body="x=1&x=2&y=%20z&name=caf%C3%A9".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"x": ["1", "2"], "y": [" z"], "name": ["café"]})

    def test_json_in_and_out(self):
        doc = {"name": "café", "n": [1, 2, {"deep": None}]}
        status, headers, body = self.server().request(
            "POST", "/json", body=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(json.loads(body), {**doc, "seen_by": "flask"})

    def test_a_multipart_upload_of_5_mib_arrives_whole(self):
        data = deterministic_bytes(5 * MIB + 123)
        body, content_type = multipart({"note": "café"}, {"file": ("blob.bin", data)})
        status, _, got = self.server().request("POST", "/upload", body=body,
                                               headers={"Content-Type": content_type},
                                               timeout=30)
        self.assertEqual(status, 200, got[:500])
        self.assertEqual(json.loads(got), {"filename": "blob.bin", "size": len(data),
                                           "sha256": hashlib.sha256(data).hexdigest(),
                                           "fields": {"note": ["café"]}})

    def test_a_chunked_upload_reaches_flask_whole(self):
        conn = self.server().connect(10)
        self.addCleanup(conn.close)
        pieces = [b'{"chunked": ', b'"yes", ', b'"n": 3}']
        conn.request("POST", "/json", body=iter(pieces), encode_chunked=True,
                     headers={"Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        body = response.read()
        self.assertEqual(response.status, 200, body)
        self.assertEqual(json.loads(body), {"chunked": "yes", "n": 3, "seen_by": "flask"})

    def test_the_signed_session_round_trips_in_its_cookie(self):
        status, headers, body = self.get("/session/set?v=hello%20caf%C3%A9")
        self.assertEqual((status, json.loads(body)), (200, {"stored": "hello café"}))
        set_cookie = headers["Set-Cookie"]
        self.assertTrue(set_cookie.startswith("session="), set_cookie)
        self.assertIn("HttpOnly", set_cookie)
        cookie = set_cookie.split(";")[0]
        self.assertEqual(self.get_json("/session/get", {"Cookie": cookie}),
                         {"value": "hello café"})
        self.assertEqual(self.get_json("/session/get"), {"value": None}, "no cookie, no session")
        name, _, value = cookie.partition("=")
        tampered = f"{name}={value[:-4]}{'AAAA' if not value.endswith('AAAA') else 'BBBB'}"
        self.assertEqual(self.get_json("/session/get", {"Cookie": tampered}), {"value": None},
                         "a cookie whose signature does not match must be ignored")

    def test_abort_404_goes_through_the_error_handler(self):
        status, headers, body = self.get("/missing")
        self.assertEqual(status, 404)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(json.loads(body), {"error": "not found", "path": "/missing"})
        self.assertEqual(self.get_json("/no/such/route", status=404),
                         {"error": "not found", "path": "/no/such/route"})

    def test_stream_with_context_streams_chunked(self):
        conn = self.server().connect(10)
        self.addCleanup(conn.close)
        conn.request("GET", "/stream?n=5")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(response.getheader("Content-Length"))
        self.assertEqual(response.read(),
                         b"".join(b"line %d of /stream?n=5\n" % i for i in range(5)))

    def test_send_file_sends_the_file_whole(self):
        want = self.get_json("/sendfile/sha256")
        status, headers, body = self.get("/sendfile")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/octet-stream")
        self.assertEqual(headers["Content-Length"], str(want["size"]))
        self.assertEqual((len(body), hashlib.sha256(body).hexdigest()),
                         (want["size"], want["sha256"]))

    def test_an_exception_in_a_view_is_500_with_the_traceback_only_in_the_log(self):
        start = self.server().line_count()
        status, _, body = self.get("/boom")
        self.assertEqual(status, 500)
        self.assertNotIn(b"secret-detail-4f1c", body, "the error detail leaked into the body")
        self.assertNotIn(b"Traceback", body)
        self.server().wait_for_log("RuntimeError: a Flask view failed: secret-detail-4f1c",
                                   start=start)
        self.server().wait_for_log("Traceback", start=start)
        self.assert_still_serving()


class FlaskValidated(WsgiCase):
    """flask_app.py inside wsgiref.validate (tests/data/wsgi/validated.py): the server's side
    of every route passes the validator's checks."""

    target = VALIDATED + ":flask_app"

    def test_every_route_passes_wsgiref_validate(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        upload, upload_type = multipart({"a": "b"}, {"file": ("x.bin", b"\x00" * 70000)})
        cases = [
            ("GET", "/hello", None, {}, 200), ("HEAD", "/hello", None, {}, 200),
            ("GET", "/users/42", None, {}, 200), ("GET", "/files/a/b", None, {}, 200),
            ("GET", "/echo-args?a=1&a=2", None, {}, 200),
            ("POST", "/form", b"x=1&y=2", form, 200),
            ("POST", "/json", b'{"a": 1}', {"Content-Type": "application/json"}, 200),
            ("POST", "/upload", upload, {"Content-Type": upload_type}, 200),
            ("GET", "/session/set?v=1", None, {}, 200), ("GET", "/session/get", None, {}, 200),
            ("GET", "/missing", None, {}, 404), ("GET", "/nowhere", None, {}, 404),
            ("GET", "/stream?n=3", None, {}, 200), ("GET", "/sendfile", None, {}, 200),
            ("GET", "/boom", None, {}, 500),
        ]
        start = self.server().line_count()
        for method, path, body, headers, status in cases:
            with self.subTest(method=method, path=path):
                got, _, got_body = self.server().request(method, path, body=body,
                                                         headers=headers)
                self.assertEqual(got, status, f"{method} {path}: {got_body[:300]!r}")
        self.server().wait_for_log("a Flask view failed", start=start)  # /boom was handled
        time.sleep(0.3)  # complaints about an unclosed iterator come when it is collected
        log = self.server().log()
        for word in ("AssertionError", "WSGIWarning", "garbage collected without being closed"):
            self.assertNotIn(word, log, f"wsgiref.validate complained:\n{log}")
        self.assert_still_serving()


class FlaskWorkers(WsgiCase):
    """The venv's Flask in two worker processes: each worker's Python is the venv's, and the
    environ says wsgi.multiprocess."""

    target = FLASK_APP + ":app"
    options = ("--workers", "2")

    @gunicorn_differs("the fixture's gunicorn runs one worker")
    def test_both_workers_serve_from_the_venv_and_say_multiprocess(self):
        pids = set()
        for _ in range(60):  # new connections spread over the workers by SO_REUSEPORT
            doc = self.get_json("/prefix")
            self.assertEqual(os.path.realpath(doc["prefix"]), os.path.realpath(VENV), doc)
            self.assertTrue(doc["multiprocess"], doc)
            pids.add(doc["pid"])
            if len(pids) == 2:
                break
        self.assertEqual(len(pids), 2, f"only worker {pids} answered 60 connections")
        self.assertNotIn(self.server().proc.pid, pids, "the supervisor answered itself")


@unittest.skipIf(REFERENCE, "httpy's own --venv option")
class VenvChoice(unittest.TestCase):
    """--venv refuses what is not a venv of httpy's Python, with exit code 2 and a message that
    says why; $VIRTUAL_ENV is the default."""

    def start_up_failure(self, venv):
        done = subprocess.run([serve_fixture.HTTPY, "serve", FLASK_APP + ":app", "--venv", venv,
                               "--bind", "127.0.0.1:0"], capture_output=True, timeout=60)
        return done.returncode, done.stderr.decode(errors="replace")

    def test_a_folder_that_is_no_venv_stops_start_up(self):
        with tempfile.TemporaryDirectory() as folder:
            code, err = self.start_up_failure(folder)
        self.assertEqual(code, 2, err)
        self.assertIn(f"--venv {folder} is not a virtual environment: it has no pyvenv.cfg", err)

    def test_a_venv_of_another_python_stops_start_up_naming_both_versions(self):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "pyvenv.cfg"), "w") as cfg:
                cfg.write("home = /opt/python3.9/bin\ninclude-system-site-packages = false\n"
                          "version = 3.9.2\n")
            code, err = self.start_up_failure(folder)
        self.assertEqual(code, 2, err)
        self.assertIn("is a virtual environment of Python 3.9.2, but httpy runs Python "
                      f"{platform.python_version()}", err)

    def test_virtual_env_is_the_default_venv(self):
        server = serve_fixture.Server(FLASK_APP + ":app", "--interface", "wsgi",
                                      env={"VIRTUAL_ENV": VENV})
        self.addCleanup(server.stop)
        status, _, body = server.request("GET", "/prefix")
        self.assertEqual(status, 200, body)
        self.assertEqual(os.path.realpath(json.loads(body)["prefix"]), os.path.realpath(VENV))


class DebianFlask(WsgiCase):
    """flask_app.py on Debian's python3-flask (2.2) and the system Python: no venv."""

    target = FLASK_APP + ":app"
    venv = None

    def test_the_system_flask_serves_the_app(self):
        doc = self.get_json("/prefix")
        self.assertEqual(doc["prefix"], doc["base_prefix"], f"not the system Python: {doc}")
        self.assertTrue(doc["flask"].startswith("/usr/lib/python3/dist-packages/flask/"),
                        f"not Debian's python3-flask: {doc}")
        self.assertEqual(self.get("/hello")[2], b"Hello, World!")
        self.assertEqual(self.get_json("/users/7"), {"uid": 7, "type": "int"})
        status, _, body = self.server().request(
            "POST", "/json", body=b'{"a": "caf\\u00e9"}',
            headers={"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)), (200, {"a": "café", "seen_by": "flask"}))
        conn = self.server().connect(10)
        self.addCleanup(conn.close)
        conn.request("GET", "/stream?n=2")
        self.assertEqual(conn.getresponse().read(),
                         b"line 0 of /stream?n=2\nline 1 of /stream?n=2\n")


class ExampleOnDebianFlask(WsgiCase):
    """examples/flask_app.py, as its docstring says to serve it, on Debian's python3-flask."""

    target = os.path.join(SOURCE, "examples", "flask_app.py") + ":app"
    venv = None
    still_serving = ("/", b"Hello from Flask on httpy!\n")

    def test_the_example_serves_from_the_system_flask(self):
        self.assert_logged_by_httpy(re.compile(r"wsgi app .*flask_app\.py:app"))
        status, _, body = self.get("/hello/bob?x=1")
        self.assertEqual((status, json.loads(body)),
                         (200, {"greeting": "Hello, bob!", "query": {"x": "1"}}))

    def test_its_events_arrive_one_by_one(self):
        with self.server().raw(timeout=10) as s:
            start = time.monotonic()
            s.sendall(b"GET /events?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"tick 0" not in data:
                chunk = s.recv(4096)
                self.assertTrue(chunk, f"the stream ended before its first event: {data!r}")
                data += chunk
            self.assertLess(time.monotonic() - start, 0.9, "the first event waited for later ones")
            self.assertNotIn(b"tick 1", data)
            while b"0\r\n\r\n" not in data:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "the stream ended without its last chunk")
                data += chunk
        self.assertIn(b"tick 1", data)


if __name__ == "__main__":
    unittest.main()
