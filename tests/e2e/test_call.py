"""End-to-end tests of `httpy call`: the real binary, real CPython, real files."""

import json
import os
import subprocess
import tempfile
import unittest

HTTPY = os.path.abspath(os.environ.get("HTTPY_BIN", "build/httpy"))
SOURCE = os.environ.get("HTTPY_SOURCE_DIR", os.getcwd())
WORKER = os.path.join(SOURCE, "examples", "worker.py")
HANDLERS = os.path.join(SOURCE, "tests", "data", "handlers.py")


def call(*args, cwd=None):
    """Runs `httpy call ARGS...`; returns (exit code, head lines, body bytes, stderr)."""
    done = subprocess.run([HTTPY, "call", *args], capture_output=True, cwd=cwd, timeout=60)
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    return done.returncode, head.decode().split("\r\n"), body, done.stderr.decode()


def header(lines, name):
    values = [l.split(": ", 1)[1] for l in lines[1:] if l.split(": ", 1)[0] == name]
    return values[0] if values else None


class ExampleWorker(unittest.TestCase):
    def test_hello_answers_from_python(self):
        code, head, body, _ = call(WORKER, "GET", "/hello/bob?x=1")
        self.assertEqual(code, 0)
        self.assertEqual(head[0], "HTTP/1.1 200 OK")
        self.assertEqual(header(head, "X-Test"), "1")
        self.assertEqual(header(head, "Content-Length"), str(len(body)))
        self.assertEqual(body, b"request #1")

    def test_unknown_path_is_404_from_the_init_routes(self):
        code, head, _, _ = call(WORKER, "GET", "/nowhere")
        self.assertEqual(code, 0)
        self.assertEqual(head[0], "HTTP/1.1 404 Not Found")

    def test_wrong_method_is_405_with_allow(self):
        code, head, _, _ = call(WORKER, "DELETE", "/ping")
        self.assertEqual(code, 0)
        self.assertEqual(head[0], "HTTP/1.1 405 Method Not Allowed")
        self.assertEqual(header(head, "Allow"), "GET, HEAD")

    def test_head_prints_headers_only(self):
        code, head, body, _ = call(WORKER, "HEAD", "/ping")
        self.assertEqual(code, 0)
        self.assertEqual(head[0], "HTTP/1.1 200 OK")
        self.assertEqual(body, b"")


class Arguments(unittest.TestCase):
    def reflect(self, *args):
        code, head, body, err = call(f"{HANDLERS}:reflect", *args)
        self.assertEqual(code, 0, err)
        return json.loads(body), bytes.fromhex(header(head, "X-Body-Hex"))

    def test_query_is_parsed_the_go_way(self):
        doc, _ = self.reflect("GET", "/p%20q?a=1&a=2&b=x+y&c&d=%C3%A9")
        self.assertEqual(doc["path"], "/p q")
        self.assertEqual(doc["query"], {"a": ["1", "2"], "b": ["x y"], "c": [""], "d": ["é"]})

    def test_headers_are_canonical_and_repeated_ones_kept(self):
        doc, _ = self.reflect("GET", "/", "-H", "x-sleep: 0", "-H", "ACCEPT: a", "-H", "accept: b")
        self.assertEqual(doc["headers"]["X-Sleep"], ["0"])
        self.assertEqual(doc["headers"]["Accept"], ["a", "b"])

    def test_binary_body_reaches_python_exactly(self):
        data = bytes(range(256)) + b"\x00\xff\xfe"
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        try:
            _, body = self.reflect("POST", "/", "--data-file", f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(body, data)

    def test_a_binary_body_comes_back_exactly(self):
        data = b"\x00bin\xffary\x80"
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        try:
            code, _, body, _ = call(f"{HANDLERS}:raw_body", "POST", "/", "--data-file", f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(code, 0)
        self.assertEqual(body, data)

    def test_params_come_from_the_matched_route(self):
        code, _, body, err = call(f"{HANDLERS}:reflect", "POST", "/hello/ann",
                                  "--init", f"{HANDLERS}:init_routes")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(body)["params"], {"target": ["ann"]})

    def test_a_module_name_is_imported_from_the_working_directory(self):
        code, _, body, err = call("handlers:raw_body", "POST", "/", "-d", "by name",
                                  cwd=os.path.dirname(HANDLERS))
        self.assertEqual(code, 0, err)
        self.assertEqual(body, b"by name")


class Switches(unittest.TestCase):
    def test_no_init_sends_every_path_to_the_handler(self):
        code, head, body, err = call(WORKER, "DELETE", "/not/a/route", "--no-init")
        self.assertEqual(code, 0, err)
        self.assertEqual(head[0], "HTTP/1.1 200 OK")
        self.assertEqual(body, b"request #1")

    def test_body_bytes_hands_python_bytes(self):
        code, _, body, err = call(f"{HANDLERS}:body_type", "POST", "/", "-d", "x", "--body-bytes")
        self.assertEqual(code, 0, err)
        self.assertEqual(body, b"bytes")
        code, _, body, err = call(f"{HANDLERS}:body_type", "POST", "/", "-d", "x")
        self.assertEqual(body, b"str")

    def test_the_printed_content_length_is_the_real_one(self):
        code, head, body, err = call(f"{HANDLERS}:wrong_length", "GET", "/")
        self.assertEqual(code, 0, err)
        lengths = [l for l in head if l.startswith("Content-Length:")]
        self.assertEqual(lengths, [f"Content-Length: {len(body)}"])


class Failures(unittest.TestCase):
    def test_a_wrong_result_is_500_with_the_precise_error_on_stderr(self):
        code, head, body, err = call(f"{HANDLERS}:wrong_shape", "GET", "/")
        self.assertEqual(code, 1)
        self.assertEqual(head[0], "HTTP/1.1 500 Internal Server Error")
        self.assertIn('wrong_shape returned headers["X-Test"][0] of type int; expected str', err)
        self.assertNotIn(b"X-Test", body)

    def test_an_exception_is_500_with_the_traceback_on_stderr_only(self):
        code, head, body, err = call(f"{HANDLERS}:raises", "GET", "/")
        self.assertEqual(code, 1)
        self.assertEqual(head[0], "HTTP/1.1 500 Internal Server Error")
        self.assertIn("ValueError: handler failed on purpose", err)
        self.assertNotIn(b"Traceback", body)

    def test_system_exit_in_a_handler_is_a_500_not_an_exit(self):
        code, head, _, _ = call(f"{HANDLERS}:system_exit", "GET", "/")
        self.assertEqual(code, 1)
        self.assertEqual(head[0], "HTTP/1.1 500 Internal Server Error")

    def test_a_timeout_is_504(self):
        code, head, _, err = call(f"{HANDLERS}:spin_or_count", "GET", "/spin",
                                  "--handler-timeout", "0.2")
        self.assertEqual(code, 1)
        self.assertEqual(head[0], "HTTP/1.1 504 Gateway Timeout")
        self.assertIn("timed out", err)

    def test_setup_errors_exit_2_with_one_clear_message(self):
        cases = [
            (["/no/such/file.py", "GET", "/"], "handler file not found: /no/such/file.py"),
            ([f"{HANDLERS}:nope", "GET", "/"], "has no function nope"),
            ([f"{HANDLERS}:echo", "GET", "/", "--init", f"{HANDLERS}:init_bad_value"],
             'init_bad_value returned ["/"]'),
            ([f"{HANDLERS}:echo", "GET", "/", "--init", f"{HANDLERS}:init_bad_method"],
             '"FETCH"'),
            ([f"{HANDLERS}:echo", "GET", "no-slash"], 'bad target "no-slash"'),
            ([f"{HANDLERS}:echo", "GET", "/%zz"], 'bad target "/%zz"'),
            ([f"{HANDLERS}:echo", "GET", "/", "-H", "no colon"], 'bad header "no colon"'),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                code, _, _, err = call(*args)
                self.assertEqual(code, 2)
                self.assertIn(message, err)

    def test_usage_errors_exit_2(self):
        done = subprocess.run([HTTPY, "call", WORKER], capture_output=True, timeout=60)
        self.assertEqual(done.returncode, 2)
        self.assertIn(b"required", done.stderr)


class AsgiApp(unittest.TestCase):
    """`httpy call` runs an ASGI app too, its lifespan included."""

    def test_fastapi_example(self):
        code, head, body, err = call(os.path.join(SOURCE, "examples", "fastapi_app.py") + ":app",
                                     "GET", "/hello/bob", "--venv",
                                     os.path.join(SOURCE, "venvs", "test"))
        self.assertEqual(code, 0, err)
        self.assertEqual(head[0], "HTTP/1.1 200 OK")
        self.assertEqual(json.loads(body), {"greeting": "Hello, bob!"})
        lengths = [l for l in head if l.lower().startswith("content-length:")]
        # The app's own (lower-case) one is not printed beside it.
        self.assertEqual(lengths, [f"Content-Length: {len(body)}"])
        self.assertIn("lifespan shutdown complete", err)


if __name__ == "__main__":
    unittest.main()
