"""Starlette (current release, from the test venv) served by httpy: tests/data/asgi/
starlette_app.py over real sockets with http.client."""

import hashlib
import json
import os
import time
import uuid

import asgi_fixture
from asgi_fixture import AsgiCase, DATA, ROOT_PATH_PREPENDED, uvicorn_differs
from wsgi_fixture import wait_until

STARLETTE_APP = os.path.join(DATA, "starlette_app.py") + ":app"


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                 f"{value}\r\n").encode()
    for name, (filename, content) in files.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 ).encode() + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Starlette(AsgiCase):
    target = STARLETTE_APP
    options = ("--max-body", str(8 * 1024 * 1024))

    def test_routing_path_params_and_lifespan_state(self):
        doc = self.get_json("/users/42?x=1")
        self.assertEqual(doc, {"id": 42, "q": {"x": "1"}, "greeting": "hello from the lifespan"})
        self.assertEqual(self.get("/users/notanint")[0], 404)
        self.assertIn("starlette_app: startup", self.server().log())

    def test_json(self):
        status, _, body = self.server().request("POST", "/json", body=b'{"a": [1, 2]}',
                                                headers={"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)), (200, {"got": {"a": [1, 2]}}))

    def test_form_and_multipart_upload(self):
        content = os.urandom(2 * 1024 * 1024)  # spooled by httpy, read back by Starlette
        body, ctype = multipart({"title": "a file"}, {"upload": ("blob.bin", content)})
        status, _, got = self.server().request("POST", "/form", body=body,
                                               headers={"Content-Type": ctype}, timeout=30)
        self.assertEqual(status, 200, got)
        doc = json.loads(got)
        self.assertEqual(doc["title"], "a file")
        self.assertEqual(doc["upload"], {"filename": "blob.bin", "size": len(content),
                                         "sha256": hashlib.sha256(content).hexdigest()})

    def test_request_stream_over_a_chunked_upload(self):
        parts = [os.urandom(10_000) for _ in range(30)]
        conn = self.server().connect()
        try:
            conn.request("POST", "/upload", body=iter(parts), encode_chunked=True)
            doc = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        whole = b"".join(parts)
        self.assertEqual(doc["size"], len(whole))
        self.assertEqual(doc["sha256"], hashlib.sha256(whole).hexdigest())

    def test_server_sent_events_arrive_as_they_come(self):
        conn = self.server().connect(timeout=10)
        try:
            conn.request("GET", "/events?n=3&every=1")
            response = conn.getresponse()
            self.assertEqual(response.getheader("Content-Type"), "text/event-stream; charset=utf-8")
            started = time.monotonic()
            arrivals = []
            for i in range(3):
                line = response.fp.readline()
                while line.strip() and not line.startswith(b"data:"):
                    line = response.fp.readline()  # chunk-size lines: read raw
                while not line.startswith(b"data:"):
                    line = response.fp.readline()
                self.assertEqual(line.strip(), f"data: event {i}".encode())
                arrivals.append(time.monotonic() - started)
        finally:
            conn.close()
        # One a second, each as it is sent, not all at the end.
        self.assertLess(arrivals[0], 0.5)
        self.assertGreater(arrivals[2] - arrivals[0], 1.5)

    def test_file_response(self):
        status, headers, body = self.get("/file")
        with open(os.path.join(DATA, "starlette_app.py"), "rb") as f:
            self.assertEqual(body, f.read())
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Length"], str(len(body)))

    def test_background_task_runs_after_the_response(self):
        self.assertEqual(self.get("/background")[2], b"queued")
        self.assertTrue(wait_until(lambda: self.get_json("/status").get("background")))

    def test_exception_handler_and_middleware(self):
        status, headers, body = self.get("/teapot")
        self.assertEqual((status, json.loads(body)), (418, {"handled": "I'm a teapot"}))
        self.assertEqual(headers["X-Stamp"], "middleware")

    def test_an_unhandled_exception_is_500_and_logged(self):
        status, _, body = self.get("/crash")
        self.assertEqual(status, 500)
        self.assertNotIn(b"starlette_app /crash", body)
        self.server().wait_for_log("ZeroDivisionError: starlette_app /crash")
        self.assert_still_serving()

    def test_mount(self):
        self.assertEqual(self.get("/sub/hello")[2], b"Hello, World!")


class StarletteUnderRootPath(AsgiCase):
    """--root-path: the prefix stays in `path` (the spec's current text) and Starlette routes
    the rest, as it does behind a proxy that strips nothing."""

    target = STARLETTE_APP
    options = ("--root-path", "/api")
    still_serving = ("/api/hello", b"Hello, World!")

    @uvicorn_differs(ROOT_PATH_PREPENDED)
    def test_routes_under_the_prefix(self):
        self.assertEqual(self.get("/api/hello")[2], b"Hello, World!")
        self.assertEqual(self.get_json("/api/users/7")["id"], 7)
        self.assertEqual(self.get("/api/sub/hello")[2], b"Hello, World!")


class StarletteShutdown(AsgiCase):
    target = STARLETTE_APP

    def test_lifespan_shutdown_runs_on_sigterm(self):
        server = asgi_fixture.start(STARLETTE_APP)
        self.assertEqual(server.request("GET", "/hello")[0], 200)
        log = server.stop()
        self.assertIn("starlette_app: shutdown", log)
