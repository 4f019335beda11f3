"""The admin listener (`--admin-bind`): /metrics parsed with prometheus_client's own parsers and
checked against the traffic each test sent, /healthz, /readyz (ready, saturated, draining), and
the drain delay's stop sequence, on a real `httpy serve`."""

import os
import re
import signal
import socket
import threading
import time
import unittest

import metrics_fixture
import serve_fixture
from metrics_fixture import scrape, value

ADMIN = re.compile(r"admin listener on http://127\.0\.0\.1:(\d+)")
ROUTES = ("--init", os.path.join(serve_fixture.SOURCE, "tests", "data", "serve_app.py") + ":routes")


def admin_port(server):
    return int(server.wait_for_log(ADMIN).group(1))


class AdminServer(serve_fixture.Server):
    def __init__(self, *options):
        super().__init__(serve_fixture.APP, "--admin-bind", "127.0.0.1:0", *ROUTES, *options)
        self.admin = admin_port(self)


class MetricsTest(unittest.TestCase):
    """One server per test: every count starts at zero, so values can be checked exactly."""

    def setUp(self):
        self.server = AdminServer("--handler-timeout", "0.5")
        self.addCleanup(self.server.stop)

    def test_requests_are_counted_by_method_route_and_status(self):
        for _ in range(7):
            self.assertEqual(self.server.request("GET", "/hello/ann")[0], 200)
        for _ in range(3):
            self.assertEqual(self.server.request("POST", "/hello/bob", body=b"abc")[0], 200)
        self.assertEqual(self.server.request("GET", "/nowhere")[0], 404)
        self.assertEqual(self.server.request("DELETE", "/only-get")[0], 405)
        _, samples = scrape(self.server.admin)
        requests = lambda **labels: value(samples, "http_requests_total", **labels)
        self.assertEqual(requests(method="GET", route="/hello/:target", status="200"), 7)
        self.assertEqual(requests(method="POST", route="/hello/:target", status="200"), 3)
        self.assertEqual(requests(method="GET", route="", status="404"), 1)
        self.assertEqual(requests(method="DELETE", route="", status="405"), 1)
        # the raw path never becomes a label
        self.assertFalse([s for s in samples if "/hello/ann" in s.labels.values()])
        count = value(samples, "http_request_duration_seconds_count", method="GET",
                      route="/hello/:target")
        self.assertEqual(count, 7)
        buckets = [s for s in samples if s.name == "http_request_duration_seconds_bucket"
                   and s.labels["route"] == "/hello/:target" and s.labels["method"] == "GET"]
        self.assertEqual([s.labels["le"] for s in buckets],
                         ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5",
                          "5.0", "10.0", "+Inf"])
        self.assertEqual(buckets[-1].value, 7)
        self.assertGreater(value(samples, "http_request_duration_seconds_sum", method="GET",
                                 route="/hello/:target"), 0)
        self.assertEqual(value(samples, "http_request_body_size_bytes_sum", method="POST",
                               route="/hello/:target"), 9)
        self.assertEqual(value(samples, "http_requests_in_flight"), 0)

    def test_a_request_in_flight_is_counted_while_it_runs(self):
        done = threading.Event()
        threading.Thread(target=lambda: (self.server.request("GET", "/sleep?seconds=2"),
                                         done.set()), daemon=True).start()
        self.server.wait_for_log("serve_app: sleep")
        _, samples = scrape(self.server.admin)
        self.assertEqual(value(samples, "http_requests_in_flight"), 1)
        self.assertEqual(value(samples, "httpy_python_threads_busy"), 1)
        self.assertTrue(done.wait(10))
        _, samples = scrape(self.server.admin)
        self.assertEqual(value(samples, "http_requests_in_flight"), 0)

    def test_refusals_timeouts_and_connections_are_counted(self):
        with self.server.raw() as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")  # no Host
            self.assertIn(b" 400 ", s.recv(4096))
        with self.server.raw() as s:
            s.sendall(b"GET /hello/x HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 20000 + b"\r\n\r\n")
            self.assertIn(b" 431 ", s.recv(4096))
        self.assertEqual(self.server.request("GET", "/sleep?seconds=1.5")[0], 504)
        idle = self.server.raw()
        self.addCleanup(idle.close)
        idle.sendall(b"GET /hello/x HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertIn(b" 200 ", idle.recv(4096))
        _, samples = scrape(self.server.admin)
        self.assertEqual(value(samples, "httpy_bad_requests_total", status="400",
                               reason="missing_host"), 1)
        self.assertEqual(value(samples, "httpy_bad_requests_total", status="431",
                               reason="header_too_large"), 1)
        self.assertEqual(value(samples, "httpy_handler_timeouts_total"), 1)
        self.assertEqual(value(samples, "http_requests_total", route="/sleep", status="504"), 1)
        self.assertEqual(value(samples, "httpy_connections_open"), 1)

    def test_the_process_metrics_describe_this_process(self):
        started = time.time()
        _, samples = scrape(self.server.admin)
        with open(f"/proc/{self.server.proc.pid}/statm") as statm:
            resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        self.assertAlmostEqual(value(samples, "process_resident_memory_bytes"), resident,
                               delta=resident * 0.5)
        self.assertLess(abs(value(samples, "process_start_time_seconds") - started), 60)
        self.assertGreater(value(samples, "process_open_fds"), 3)
        self.assertGreater(value(samples, "process_cpu_seconds_total"), 0)
        self.assertEqual(value(samples, "httpy_python_queue_length"), 0)

    def test_openmetrics_when_the_scraper_asks(self):
        self.server.request("GET", "/hello/x")
        content_type, samples = scrape(self.server.admin, openmetrics=True)
        self.assertTrue(content_type.startswith("application/openmetrics-text; version=1.0.0"))
        self.assertEqual(value(samples, "http_requests_total", route="/hello/:target"), 1)
        content_type, _ = scrape(self.server.admin)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"))


class ProbesTest(unittest.TestCase):
    def test_health_and_readiness_while_serving(self):
        with AdminServer() as server:
            self.assertEqual(metrics_fixture.get(server.admin, "/healthz")[::2], (200, "ok\n"))
            self.assertEqual(metrics_fixture.get(server.admin, "/readyz")[::2], (200, "ready\n"))
            self.assertEqual(metrics_fixture.get(server.admin, "/elsewhere")[0], 404)
            # the admin routes are not on the public port: there the app answers
            status, _, body = server.request("GET", "/healthz")
            self.assertNotEqual((status, body), (200, b"ok\n"))
            server.stop()

    def test_not_ready_while_the_python_queue_is_full(self):
        with AdminServer("--python-threads", "1", "--queue-limit", "1") as server:
            for tag in ("a", "b"):
                threading.Thread(target=server.request, daemon=True,
                                 args=("GET", f"/sleep?seconds=3&tag={tag}")).start()
            # whichever started first holds the one thread; the other then waits in the queue
            server.wait_for_log(re.compile(r"serve_app: sleep [ab] started"))
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                status, _, body = metrics_fixture.get(server.admin, "/readyz")
                if status == 503:
                    break
                time.sleep(0.02)
            self.assertEqual(status, 503)
            self.assertIn("saturated", body)
            deadline = time.monotonic() + 10
            while metrics_fixture.get(server.admin, "/readyz")[0] != 200:
                self.assertLess(time.monotonic(), deadline, "never ready again")
                time.sleep(0.05)
            server.stop()

    def test_a_bad_admin_address_stops_start_up(self):
        import subprocess
        run = subprocess.run([serve_fixture.HTTPY, "serve", serve_fixture.APP, "--bind",
                              "127.0.0.1:0", "--admin-bind", "nowhere"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 2)
        self.assertIn('bad --admin-bind "nowhere"', run.stderr)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            run = subprocess.run([serve_fixture.HTTPY, "serve", serve_fixture.APP, "--bind",
                                  "127.0.0.1:0", "--admin-bind",
                                  f"127.0.0.1:{taken.getsockname()[1]}"],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(run.returncode, 2)
        self.assertIn("cannot listen on the admin address", run.stderr)


class DrainDelayTest(unittest.TestCase):
    def test_sigterm_fails_readiness_first_and_serves_with_connection_close(self):
        server = AdminServer("--drain-delay", "1.5", "--drain-timeout", "2")
        self.addCleanup(server.kill)
        keep_alive = server.connect()
        keep_alive.request("GET", "/hello/x")
        first = keep_alive.getresponse()
        first.read()
        self.assertNotEqual(first.getheader("Connection"), "close")
        signaled = time.monotonic()
        server.signal(signal.SIGTERM)
        server.wait_for_log("not ready; serving 1500 ms more")
        self.assertEqual(metrics_fixture.get(server.admin, "/readyz")[0], 503)
        # the kept-alive connection is answered, and told to close
        keep_alive.request("GET", "/hello/y")
        second = keep_alive.getresponse()
        self.assertEqual(second.status, 200)
        second.read()
        self.assertEqual(second.getheader("Connection"), "close")
        keep_alive.close()
        # new connections are still accepted during the delay
        status, headers, _ = server.request("GET", "/hello/z")
        self.assertEqual((status, headers["Connection"]), (200, "close"))
        self.assertEqual(server.wait_exit(10), 0)
        self.assertGreaterEqual(time.monotonic() - signaled, 1.5)
        log = server.log()
        self.assertLess(log.index("not ready"), log.index("stopping; in-flight"))


if __name__ == "__main__":
    unittest.main()


class WorkersTest(unittest.TestCase):
    """With worker processes the supervisor serves the admin listener: one scrape covers every
    worker, and no counter goes backwards when workers are reloaded or killed."""

    def setUp(self):
        self.server = AdminServer("--workers", "2", "--drain-delay", "0.5")
        self.addCleanup(self.server.stop)

    def hello(self, n):
        for _ in range(n):
            self.assertEqual(self.server.request("GET", "/hello/w")[0], 200)

    def total(self, samples=None):
        samples = samples or scrape(self.server.admin)[1]
        return value(samples, "http_requests_total", route="/hello/:target", status="200")

    def workers(self):
        with open(f"/proc/{self.server.proc.pid}/task/{self.server.proc.pid}/children") as f:
            return [int(p) for p in f.read().split()]

    def wait_ready(self, count, exclude=()):
        deadline = time.monotonic() + 30
        while True:
            _, samples = scrape(self.server.admin)
            pids = {s.labels["worker"] for s in samples if s.name == "httpy_connections_open"}
            if (value(samples, "httpy_workers", state="ready") == count
                    and value(samples, "httpy_workers", state="stopping") == 0
                    and not pids & {str(p) for p in exclude}):
                return samples
            self.assertLess(time.monotonic(), deadline, "workers never became ready")
            time.sleep(0.1)

    def test_one_scrape_counts_every_worker(self):
        samples = self.wait_ready(2)
        self.hello(30)
        _, samples = scrape(self.server.admin)
        self.assertEqual(self.total(samples), 30)
        per_worker = {s.labels["worker"] for s in samples if s.name == "httpy_connections_open"}
        self.assertEqual(per_worker, {str(p) for p in self.workers()})
        rss = [s for s in samples if s.name == "process_resident_memory_bytes"]
        self.assertEqual(len(rss), 3, rss)  # two workers and the supervisor
        self.assertEqual(metrics_fixture.get(self.server.admin, "/readyz")[0], 200)

    def test_a_reload_between_two_scrapes_loses_no_count(self):
        self.wait_ready(2)
        self.hello(20)
        self.assertEqual(self.total(), 20)
        old = self.workers()
        self.server.signal(signal.SIGHUP)
        samples = self.wait_ready(2, exclude=old)
        self.assertEqual(self.total(samples), 20)
        self.assertEqual(value(samples, "httpy_worker_restarts_total", reason="reload"), 2)
        self.hello(5)
        self.assertEqual(self.total(), 25)

    def test_a_worker_killed_mid_scrape_never_sends_a_counter_back(self):
        self.wait_ready(2)
        self.hello(10)
        first = self.total()
        self.assertEqual(first, 10)
        victim = self.workers()[0]
        self.hello(6)
        scraped = []
        scraper = threading.Thread(target=lambda: scraped.append(self.total()))
        scraper.start()
        os.kill(victim, signal.SIGKILL)
        scraper.join(10)
        second = self.total()
        self.assertGreaterEqual(min(scraped + [second]), first)
        self.assertLessEqual(second, 16)
        samples = self.wait_ready(2, exclude=[victim])
        self.assertEqual(value(samples, "httpy_worker_restarts_total", reason="killed"), 1)
        self.hello(4)
        self.assertGreaterEqual(self.total(), second + 4)

    def test_readiness_fails_as_soon_as_the_stop_begins(self):
        self.wait_ready(2)
        self.server.signal(signal.SIGTERM)
        deadline = time.monotonic() + 0.4  # inside the workers' drain delay
        status, _, body = metrics_fixture.get(self.server.admin, "/readyz")
        self.assertLess(time.monotonic(), deadline + 0.5)
        self.assertEqual((status, body), (503, "draining: the server is stopping\n"))
        self.assertEqual(self.server.wait_exit(), 0)
