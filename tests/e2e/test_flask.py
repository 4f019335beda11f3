"""Flask from PyPI (requirements/test.txt, in venvs/test) served by `httpy serve --venv` over real
sockets, exactly as users run it; the same app under wsgiref.validate; and Debian's own
python3-flask serving examples/flask_app.py without a venv."""

import hashlib
import http.client
import json
import re
import os
import time
import unittest
import uuid

import serve_fixture

FLASK_APP = os.path.join(serve_fixture.SOURCE, "tests", "data", "wsgi", "flask_app.py")
VENV = os.path.join(serve_fixture.SOURCE, "venvs", "test")


class FlaskInVenv(serve_fixture.ServerCase):
    handler = FLASK_APP + ":app"
    options = ("--venv", VENV, "--max-body", str(16 * 1024 * 1024))
    still_serving = ("/hello", b"Hello, World!")

    def get_json(self, path, **kwargs):
        status, headers, body = self.server().request("GET", path, **kwargs)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_the_start_up_line_names_the_app_and_wsgi(self):
        self.server().wait_for_log(re.compile(r"wsgi app .*flask_app\.py:app"))

    def test_python_runs_in_the_venv_with_its_packages(self):
        doc = self.get_json("/prefix")
        self.assertEqual(os.path.realpath(doc["prefix"]), os.path.realpath(VENV))
        self.assertTrue(os.path.realpath(doc["flask"]).startswith(os.path.realpath(VENV)), doc)

    def test_routing_and_path_converters(self):
        self.assertEqual(self.get_json("/users/42"), {"uid": 42, "type": "int"})
        self.assertEqual(self.get_json("/files/a/b/c.txt"), {"rest": "a/b/c.txt"})
        status, _, _ = self.server().request("GET", "/users/notanint")
        self.assertEqual(status, 404)

    def test_query_and_form_parsing(self):
        self.assertEqual(self.get_json("/args?a=1&a=2&b=caf%C3%A9"), {"a": ["1", "2"], "b": ["café"]})
        status, _, body = self.server().request(
            "POST", "/form", body=b"x=1&x=2&y=%20z",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, json.loads(body)), (200, {"x": ["1", "2"], "y": [" z"]}))

    def test_json_in_and_out(self):
        status, headers, body = self.server().request(
            "POST", "/json", body=json.dumps({"name": "café", "n": [1, 2]}).encode(),
            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"name": "café", "n": [1, 2], "seen": True})

    def test_a_multipart_upload_of_several_mib_arrives_whole(self):
        data = os.urandom(5 * 1024 * 1024)
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        status, _, got = self.server().request(
            "POST", "/upload", body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, timeout=30)
        self.assertEqual(status, 200, got[:500])
        self.assertEqual(json.loads(got), {"filename": "blob.bin", "size": len(data),
                                           "sha256": hashlib.sha256(data).hexdigest()})

    def test_a_chunked_upload_reaches_flask_whole(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server().port, timeout=10)
        pieces = [b'{"chunked": ', b'"yes"}']
        conn.request("POST", "/json", body=iter(pieces),
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                     encode_chunked=True)
        response = conn.getresponse()
        self.assertEqual((response.status, json.loads(response.read())),
                         (200, {"chunked": "yes", "seen": True}))
        conn.close()

    def test_the_signed_session_round_trips_in_its_cookie(self):
        status, headers, _ = self.server().request("GET", "/session/set?v=hello")
        self.assertEqual(status, 200)
        cookie = headers["Set-Cookie"].split(";")[0]
        self.assertEqual(self.get_json("/session/get", headers={"Cookie": cookie}), {"value": "hello"})
        self.assertEqual(self.get_json("/session/get"), {"value": None})
        tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
        self.assertEqual(self.get_json("/session/get", headers={"Cookie": tampered}), {"value": None})

    def test_abort_404_goes_through_the_error_handler(self):
        status, _, body = self.server().request("GET", "/missing")
        self.assertEqual((status, json.loads(body)), (404, {"error": "not found", "path": "/missing"}))

    def test_stream_with_context_streams_chunked(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server().port, timeout=10)
        conn.request("GET", "/stream?n=3")
        response = conn.getresponse()
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(response.read(), b"".join(b"line %d of /stream\n" % i for i in range(3)))
        conn.close()

    def test_send_file_goes_through_the_file_wrapper_whole(self):
        status, headers, body = self.server().request("GET", "/sendfile")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Length"], str(len(body)))
        self.assertEqual(len(body), 256 * 1200)
        self.assertEqual(hashlib.sha256(body).hexdigest().encode(),
                         self.server().request("GET", "/sendfile/sha256")[2])

    def test_an_exception_in_a_view_is_500_with_the_traceback_only_in_the_log(self):
        status, _, body = self.server().request("GET", "/boom")
        self.assertEqual(status, 500)
        self.assertNotIn(b"secret detail", body)
        self.server().wait_for_log("a view failed: secret detail")
        self.assert_still_serving()


class FlaskValidated(serve_fixture.ServerCase):
    """The same app inside wsgiref.validate: httpy's environ, start_response, wsgi.input and the
    way it drives the response iterable pass every one of the validator's assertions."""

    handler = FLASK_APP + ":validated"
    options = ("--venv", VENV, "--interface", "wsgi")
    still_serving = ("/hello", b"Hello, World!")

    def test_every_route_passes_wsgiref_validate(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        cases = [
            ("GET", "/hello", None, {}, 200), ("GET", "/users/42", None, {}, 200),
            ("GET", "/files/a/b", None, {}, 200), ("GET", "/args?a=1&a=2", None, {}, 200),
            ("POST", "/form", b"x=1", form, 200),
            ("POST", "/json", b'{"a": 1}', {"Content-Type": "application/json"}, 200),
            ("GET", "/session/set?v=1", None, {}, 200), ("GET", "/missing", None, {}, 404),
            ("GET", "/stream?n=3", None, {}, 200), ("GET", "/sendfile", None, {}, 200),
            ("HEAD", "/hello", None, {}, 200), ("GET", "/boom", None, {}, 500),
        ]
        for method, path, body, headers, status in cases:
            got, _, _ = self.server().request(method, path, body=body, headers=headers)
            self.assertEqual(got, status, f"{method} {path}")
        self.server().wait_for_log("a view failed")  # the last one has been logged
        log = self.server().log()
        self.assertNotIn("AssertionError", log)
        self.assertNotIn("WSGIWarning", log)
        self.assert_still_serving()


class DebianFlask(serve_fixture.ServerCase):
    """examples/flask_app.py on Debian's python3-flask: the system packages, no venv."""

    handler = os.path.join(serve_fixture.SOURCE, "examples", "flask_app.py")
    still_serving = ("/", b"Hello from Flask on httpy!\n")

    def test_the_example_serves_from_the_system_flask(self):
        self.server().wait_for_log(re.compile(r"wsgi app .*flask_app\.py:app"))
        status, _, body = self.server().request("GET", "/hello/bob?x=1")
        self.assertEqual((status, json.loads(body)),
                         (200, {"greeting": "Hello, bob!", "query": {"x": "1"}}))

    def test_its_events_arrive_one_by_one(self):
        with self.server().raw(timeout=10) as s:
            start = time.monotonic()
            s.sendall(b"GET /events?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"tick 0" not in data:
                data += s.recv(4096)
            self.assertLess(time.monotonic() - start, 0.9)
            while b"0\r\n\r\n" not in data:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "the stream ended without its last chunk")
                data += chunk
        self.assertIn(b"tick 2", data)


if __name__ == "__main__":
    unittest.main()
