"""The access log (`--access-log`, `--access-log-format`) of a real `httpy serve`: each format's
line for real requests (the client address after proxy headers, the request id, the duration),
refused requests, the standard output, SIGUSR1 reopening the file after logrotate moved it, whole
lines from several worker processes, and start-up refusing a bad format or path."""

import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import serve_fixture
from serve_fixture import APP, HTTPY, Server

COMMON = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "(\S+) (\S+) '
                    r'HTTP/(1\.[01])" (\d{3}) (\d+|-) (\d+\.\d{6})$')


def read_lines(path, count, timeout=5.0):
    """The first `count` lines of the file at `path`, waiting for the writer thread."""
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


class LogCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = os.path.join(self.dir.name, "access.log")

    def serve(self, *options):
        server = Server(APP, "--access-log", self.path, *options)
        self.addCleanup(server.stop)
        return server


class Formats(LogCase):
    def test_common_has_client_request_status_bytes_and_duration(self):
        server = self.serve()
        server.request("GET", "/logged/path?q=1")
        [line] = read_lines(self.path, 1)
        m = COMMON.match(line)
        self.assertIsNotNone(m, line)
        self.assertEqual(m.group(1, 3, 4, 5, 6, 7),
                         ("127.0.0.1", "GET", "/logged/path?q=1", "1.1", "200",
                          str(len(b"/logged/path"))))
        self.assertLess(float(m.group(8)), 5.0)

    def test_combined_adds_referer_user_agent_and_request_id(self):
        server = self.serve("--access-log-format", "combined")
        server.request("GET", "/c", headers={"Referer": "http://ref.example/", "User-Agent":
                                             'agent "quoted"', "X-Request-Id": "req-42"})
        [line] = read_lines(self.path, 1)
        self.assertIn('"http://ref.example/" "agent \\x22quoted\\x22"', line)
        self.assertRegex(line, r" \d+\.\d{6} req-42$")

    def test_json_is_one_object_per_line_with_the_route(self):
        server = Server(APP, "--access-log", self.path, "--access-log-format", "json",
                        "--init", APP + ":routes")
        self.addCleanup(server.stop)
        server.request("POST", "/hello/ann", body=b"12345", headers={"X-Request-Id": "r1"})
        [line] = read_lines(self.path, 1)
        doc = json.loads(line)
        self.assertEqual({k: doc[k] for k in ("client", "method", "target", "status", "route",
                                              "request_bytes", "request_id", "version")},
                         {"client": "127.0.0.1", "method": "POST", "target": "/hello/ann",
                          "status": 200, "route": "/hello/:target", "request_bytes": 5,
                          "request_id": "r1", "version": "1.1"})
        self.assertGreater(doc["duration_s"], 0)

    def test_a_template_names_its_fields(self):
        server = self.serve("--access-log-format", "{method} {target} {status} {duration_ms}ms")
        server.request("GET", "/t")
        [line] = read_lines(self.path, 1)
        self.assertRegex(line, r"^GET /t 200 \d+\.\d{3}ms$")

    def test_the_client_is_the_one_a_trusted_proxy_names(self):
        server = self.serve("--forwarded-allow-ips", "127.0.0.1")
        server.request("GET", "/p", headers={"X-Forwarded-For": "203.0.113.9"})
        untrusted = Server(APP, "--access-log", self.path + ".2", "--forwarded-allow-ips", "")
        self.addCleanup(untrusted.stop)
        untrusted.request("GET", "/p", headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertTrue(read_lines(self.path, 1)[0].startswith("203.0.113.9 - - ["))
        self.assertTrue(read_lines(self.path + ".2", 1)[0].startswith("127.0.0.1 - - ["))

    def test_a_refused_request_is_logged_with_its_status(self):
        server = self.serve()
        with server.raw() as s:
            s.sendall(b"GET /no-host HTTP/1.1\r\n\r\n")
            self.assertIn(b" 400 ", s.recv(4096))
        [line] = read_lines(self.path, 1)
        m = COMMON.match(line)
        self.assertIsNotNone(m, line)
        self.assertEqual(m.group(3, 4, 6), ("GET", "/no-host", "400"))


class Destinations(LogCase):
    def test_without_a_file_the_lines_go_to_the_standard_output(self):
        proc = subprocess.Popen([HTTPY, "serve", APP, "--bind", "127.0.0.1:0", "--access-log"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            port = None
            for line in proc.stderr:
                m = serve_fixture.LISTENING.search(line)
                if m:
                    port = int(m.group(1))
                    break
            self.assertIsNotNone(port)
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/to/stdout")
            conn.getresponse().read()
            conn.close()
            line = proc.stdout.readline()
            self.assertIsNotNone(COMMON.match(line.rstrip("\n")), line)
            self.assertIn("/to/stdout", line)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0)

    def test_sigusr1_reopens_the_file_that_logrotate_moved(self):
        server = self.serve()
        server.request("GET", "/before")
        self.assertEqual(len(read_lines(self.path, 1)), 1)
        os.rename(self.path, self.path + ".1")
        server.signal(signal.SIGUSR1)
        server.wait_for_log("reopening the access log")
        deadline = time.monotonic() + 5
        while not os.path.exists(self.path):  # the writer thread reopens between writes
            server.request("GET", "/probe")
            self.assertLess(time.monotonic(), deadline, "the file was not reopened")
            time.sleep(0.05)
        server.request("GET", "/after")
        self.assertTrue(any("/after" in l for l in read_lines(self.path, 1)))
        with open(self.path + ".1") as f:
            rotated = f.read()
        self.assertIn("/before", rotated)
        self.assertNotIn("/after", rotated)

    def test_workers_write_whole_lines_to_one_file(self):
        server = Server(APP, "--access-log", self.path, "--workers", "2")
        self.addCleanup(server.stop)
        threads = [threading.Thread(target=lambda: [server.request("GET", "/w/" + "x" * 300)
                                                    for _ in range(100)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        lines = read_lines(self.path, 400)
        self.assertEqual(len(lines), 400)
        for line in lines:
            self.assertIsNotNone(COMMON.match(line), line)
        pids = re.findall(r"worker (\d+) starting", server.log())
        self.assertEqual(len(set(pids)), 2)


class StartUp(unittest.TestCase):
    def run_serve(self, *options):
        return subprocess.run([HTTPY, "serve", APP, "--bind", "127.0.0.1:0", *options],
                              capture_output=True, text=True, timeout=30)

    def test_an_unknown_placeholder_stops_start_up(self):
        run = self.run_serve("--access-log", "-", "--access-log-format", "{method} {nope}")
        self.assertEqual(run.returncode, 2)
        self.assertIn("nope", run.stderr)

    def test_a_file_that_cannot_be_opened_stops_start_up(self):
        run = self.run_serve("--access-log", "/nonexistent/dir/access.log")
        self.assertEqual(run.returncode, 2)
        self.assertIn("/nonexistent/dir/access.log", run.stderr)


if __name__ == "__main__":
    unittest.main()
