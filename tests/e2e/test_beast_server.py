"""End-to-end tests of examples/beast_server: a plain Boost.Beast server of the application's
own (no httpy::server) answering /python through an httpy::app and /native in C++, driven by
http.client over real sockets, with examples/worker.py as the Python side."""

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from serve_fixture import WORKER, read_response

BEAST_SERVER = os.path.abspath(os.environ.get("HTTPY_BEAST_SERVER",
                                              "build/examples/example_beast_server"))
LISTENING = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")


class BeastServer(unittest.TestCase):
    """One example server for the class, on a free port."""

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([BEAST_SERVER, WORKER, "0"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = cls.proc.stdout.readline()
        match = LISTENING.search(line)
        if not match:
            cls.proc.kill()
            raise AssertionError(f"{BEAST_SERVER} did not start: {line!r} "
                                 f"{cls.proc.stderr.read()!r}")
        cls.port = int(match.group(1))

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            code = cls.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            raise
        finally:
            cls.proc.stdout.close()
            cls.proc.stderr.close()
        if code != 0:
            raise AssertionError(f"example_beast_server exited {code} after SIGTERM")

    def connect(self, timeout=10.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        self.addCleanup(conn.close)
        return conn

    def get(self, conn, path, headers=None, method="GET"):
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()

    def test_native_and_python_answer_on_one_kept_alive_connection(self):
        conn = self.connect()
        resp, body = self.get(conn, "/native")
        self.assertEqual((resp.status, body), (200, b"hello from C++"))
        self.assertEqual(resp.getheader("Server"), "httpy")
        self.assertEqual(resp.getheader("Content-Length"), str(len(body)))
        self.assertIsNotNone(resp.getheader("Date"))
        sock = conn.sock
        self.assertIsNotNone(sock, "the server closed the connection after /native")
        resp, body = self.get(conn, "/python")
        self.assertEqual(resp.status, 200)
        self.assertRegex(body.decode(), r"^request #\d+$")
        self.assertEqual(resp.getheader("X-Test"), "1")
        resp, body = self.get(conn, "/python?x=1")
        self.assertEqual(resp.status, 200)
        resp, _ = self.get(conn, "/nowhere")
        self.assertEqual(resp.status, 404)
        self.assertIs(conn.sock, sock, "the connection was not kept alive")

    def test_head_gets_the_length_without_a_body(self):
        conn = self.connect()
        resp, body = self.get(conn, "/native", method="HEAD")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Length"), str(len(b"hello from C++")))
        self.assertEqual(body, b"")
        resp, body = self.get(conn, "/native")  # nothing stray left on the connection
        self.assertEqual(body, b"hello from C++")

    def test_a_bad_target_is_answered_400(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /python%zz HTTP/1.1\r\nHost: t\r\n\r\n")
            with sock.makefile("rb") as reader:
                resp = read_response(reader)
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 400)

    def test_native_and_python_answer_while_a_python_handler_sleeps(self):
        self.get(self.connect(), "/python")  # warm up
        slow = {}

        def sleep_in_python():
            start = time.monotonic()
            resp, body = self.get(self.connect(), "/python", headers={"X-Sleep": "2"})
            slow.update(status=resp.status, seconds=time.monotonic() - start)

        sleeper = threading.Thread(target=sleep_in_python)
        sleeper.start()
        time.sleep(0.3)  # the handler is asleep now
        conn = self.connect()
        start = time.monotonic()
        resp, body = self.get(conn, "/native")
        native_seconds = time.monotonic() - start
        self.assertEqual((resp.status, body), (200, b"hello from C++"))
        start = time.monotonic()
        resp, body = self.get(conn, "/python")
        python_seconds = time.monotonic() - start
        self.assertEqual(resp.status, 200)
        sleeper.join(10)
        self.assertEqual(slow.get("status"), 200)
        self.assertGreaterEqual(slow["seconds"], 2.0)
        self.assertLess(native_seconds, 0.5, "/native waited for the sleeping Python handler")
        self.assertLess(python_seconds, 1.0, "/python waited for the sleeping Python handler")


if __name__ == "__main__":
    unittest.main()
