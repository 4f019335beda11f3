"""Graceful stop keeps its promise: on SIGTERM the server stops accepting, lets running requests
finish until the drain deadline (or their own handler timeout, whichever comes first), then
answers what still runs with 503 and `Connection: close`, and exits 0 by the deadline plus a
margin whatever the handlers do. A second stop signal exits at once; a stop signal that arrives
while a process starts never ends it by the signal's default action. tests/data/drain_app.py
has a handler for each way of not returning."""

import os
import re
import signal
import subprocess
import threading
import time
import unittest

from serve_fixture import HTTPY, SOURCE, Server, alive, read_response

DRAIN_APP = os.path.join(SOURCE, "tests", "data", "drain_app.py")
SLOW_IMPORT_APP = os.path.join(SOURCE, "tests", "data", "slow_import_app.py")

# What the process may take past its drain deadline to exit (docs/configuration.md "Stopping").
EXIT_MARGIN = 2.0


class InFlight:
    """One request on a raw connection of its own, read on a thread: `response` (a Response, an
    exception, or None at EOF before any answer) and `at` (monotonic time it was read)."""

    def __init__(self, server, target):
        self.response, self.at = None, None
        self._sock = server.raw(30)
        self._sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target.encode())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        with self._sock, self._sock.makefile("rb") as reader:
            try:
                self.response = read_response(reader)
            except (OSError, EOFError, ValueError) as e:
                self.response = e
        self.at = time.monotonic()

    def join(self, timeout=30):
        self._thread.join(timeout)
        return self.response


class DrainCase(unittest.TestCase):
    def start(self, *options):
        server = Server(DRAIN_APP, *options)
        self.addCleanup(server.kill)
        return server

    def stop_with(self, server, *targets):
        """Sends each request, waits until each handler runs, sends SIGTERM: (the InFlights, when
        SIGTERM went, the exit code, when the process had exited)."""
        requests = []
        for target in targets:
            requests.append(InFlight(server, target))
            tag = re.search(r"tag=([\w-]+)", target).group(1)
            server.wait_for_log(f"drain_app: {tag} started", timeout=10)
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        for r in requests:
            r.join()
        code = server.wait_exit(timeout=server.drain + 10)
        return requests, signalled, code, time.monotonic()

    def assert_drain_answer(self, request, signalled, drain, server):
        resp = request.response
        self.assertTrue(hasattr(resp, "status"), f"no answer: {resp!r}\n{server.log()[-3000:]}")
        self.assertEqual(resp.status, 503, server.log()[-3000:])
        self.assertEqual((resp.header("Connection") or "").lower(), "close")
        self.assertEqual(resp.header("Retry-After"), "1")
        self.assertGreaterEqual(request.at - signalled, drain - 0.1, "answered before the deadline")
        self.assertLess(request.at - signalled, drain + 1.0, "answered long after the deadline")


class DrainDeadline(DrainCase):
    def test_a_sync_handler_sleeping_past_the_drain_deadline_gets_503_and_the_process_exits_0(self):
        server = self.start("--drain-timeout", "2", "--handler-timeout", "30")
        (r,), signalled, code, exited = self.stop_with(server, "/sleep?seconds=10&tag=sleeper")
        self.assert_drain_answer(r, signalled, 2.0, server)
        self.assertEqual(code, 0, server.log()[-3000:])
        self.assertLess(exited - signalled, 2.0 + EXIT_MARGIN, server.log()[-3000:])

    def test_a_coroutine_ignoring_its_cancellation_gets_503_at_the_drain_deadline(self):
        server = self.start("--drain-timeout", "1.5", "--handler-timeout", "30")
        (r,), signalled, code, exited = self.stop_with(
            server, "/async-ignore-cancel?tag=stubborn")
        self.assert_drain_answer(r, signalled, 1.5, server)
        self.assertEqual(code, 0, server.log()[-3000:])
        self.assertLess(exited - signalled, 1.5 + EXIT_MARGIN, server.log()[-3000:])

    def test_a_handler_holding_the_gil_in_a_c_call_gets_503_and_the_process_exits_0(self):
        server = self.start("--drain-timeout", "1.5", "--handler-timeout", "30")
        (r,), signalled, code, exited = self.stop_with(server, "/hold-gil?seconds=30&tag=holder")
        self.assert_drain_answer(r, signalled, 1.5, server)
        self.assertEqual(code, 0, server.log()[-3000:])
        self.assertLess(exited - signalled, 1.5 + EXIT_MARGIN, server.log()[-3000:])

    def test_all_at_once_the_quick_finish_the_rest_get_503_and_the_process_exits_in_time(self):
        # (No GIL holder here: while it holds the GIL, no other handler can return at all.)
        server = self.start("--drain-timeout", "2", "--handler-timeout", "30",
                            "--python-threads", "4")
        requests, signalled, code, exited = self.stop_with(
            server, "/sleep?seconds=0.5&tag=quick", "/sleep?seconds=30&tag=sleeper",
            "/async-ignore-cancel?tag=stubborn", "/sleep?seconds=60&tag=sleeper2")
        quick, *stuck = requests
        self.assertEqual((quick.response.status, quick.response.body), (200, b"slept 0.5"),
                         server.log()[-3000:])
        self.assertEqual(quick.response.header("Connection"), "close")
        for r in stuck:
            self.assert_drain_answer(r, signalled, 2.0, server)
        self.assertEqual(code, 0, server.log()[-3000:])
        self.assertLess(exited - signalled, 2.0 + EXIT_MARGIN, server.log()[-3000:])

    def test_a_request_inside_its_handler_timeout_finishes_during_the_drain(self):
        server = self.start("--drain-timeout", "3", "--handler-timeout", "2")
        (r,), signalled, code, _ = self.stop_with(server, "/sleep?seconds=1.5&tag=inside")
        self.assertEqual((r.response.status, r.response.body), (200, b"slept 1.5"))
        self.assertEqual(code, 0)

    def test_the_handler_timeout_still_answers_504_first_when_it_comes_before_the_drain(self):
        # The rule: a running request gets the earlier of its handler deadline and the drain
        # deadline. Here the handler timeout (1 s) is first: 504, then the process exits even
        # though the interrupted handler is still inside time.sleep.
        server = self.start("--drain-timeout", "3", "--handler-timeout", "1")
        started = time.monotonic()
        (r,), signalled, code, exited = self.stop_with(server, "/sleep?seconds=30&tag=overdue")
        self.assertEqual(r.response.status, 504, server.log()[-3000:])
        self.assertLess(r.at - started, 2.5)
        self.assertEqual(code, 0)
        self.assertLess(exited - signalled, 3.0 + EXIT_MARGIN, server.log()[-3000:])


class SecondSignal(DrainCase):
    def second_signal(self, first, second, expected_code):
        server = self.start("--drain-timeout", "30")
        r = InFlight(server, "/sleep?seconds=30&tag=long")
        server.wait_for_log("drain_app: long started", timeout=10)
        server.signal(first)
        server.wait_for_log("stopping;", timeout=5)
        sent = time.monotonic()
        server.signal(second)
        code = server.wait_exit(timeout=5)
        self.assertEqual(code, expected_code, server.log()[-3000:])
        self.assertLess(time.monotonic() - sent, 2.0)
        self.assertIn("while stopping: exiting at once", server.log())
        r.join(5)

    def test_a_second_sigterm_exits_at_once_with_code_143(self):
        self.second_signal(signal.SIGTERM, signal.SIGTERM, 128 + signal.SIGTERM)

    def test_sigint_after_sigterm_exits_at_once_with_code_130(self):
        self.second_signal(signal.SIGTERM, signal.SIGINT, 128 + signal.SIGINT)

    def test_a_second_sigterm_to_the_supervisor_kills_the_workers_and_exits_143(self):
        server = self.start("--workers", "1", "--drain-timeout", "30")
        worker = int(server.request("GET", "/pid")[2])
        r = InFlight(server, "/sleep?seconds=30&tag=long")
        server.wait_for_log("drain_app: long started", timeout=10)
        server.signal(signal.SIGTERM)
        server.wait_for_log("stopping 1 workers", timeout=5)
        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        code = server.wait_exit(timeout=5)
        self.assertEqual(code, 128 + signal.SIGTERM, server.log()[-3000:])
        self.assertLess(time.monotonic() - sent, 2.0)
        self.assertFalse(alive(worker), "the worker outlived its supervisor")
        r.join(5)


class Workers(DrainCase):
    """The supervisor's replacements (SIGHUP here; --max-requests and memory use the same
    path) follow the same rule as a stop."""

    def reload_during(self, target, *options):
        server = self.start("--workers", "1", *options)
        old = int(server.request("GET", "/pid")[2])
        tag = re.search(r"tag=([\w-]+)", target).group(1)
        r = InFlight(server, target)
        server.wait_for_log(f"drain_app: {tag} started", timeout=10)
        server.signal(signal.SIGHUP)
        line = server.wait_for_log(f"stopping worker {old}", timeout=20)
        self.assertTrue(line)
        sigterm = time.monotonic()
        r.join(30)
        return server, old, r, sigterm

    def test_a_reload_lets_a_request_inside_its_handler_timeout_finish(self):
        server, old, r, _ = self.reload_during("/sleep?seconds=1.5&tag=inside",
                                               "--drain-timeout", "3", "--handler-timeout", "2")
        self.assertEqual((r.response.status, r.response.body), (200, b"slept 1.5"),
                         server.log()[-3000:])
        deadline = time.monotonic() + 5
        while alive(old) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(old))
        server.stop()

    def test_a_reload_answers_503_at_the_drain_deadline_and_the_old_worker_exits(self):
        server, old, r, sigterm = self.reload_during(
            "/sleep?seconds=10&tag=long", "--drain-timeout", "2", "--handler-timeout", "30")
        self.assertTrue(hasattr(r.response, "status"), f"no answer: {r.response!r}\n"
                                                       f"{server.log()[-3000:]}")
        self.assertEqual(r.response.status, 503, server.log()[-3000:])
        self.assertEqual(r.response.header("Connection"), "close")
        self.assertLess(r.at - sigterm, 2.0 + 1.0)
        deadline = sigterm + 2.0 + EXIT_MARGIN
        while alive(old) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(old), "the old worker did not exit by its drain deadline")
        self.assertIn(f"worker {old} exited with code 0", server.wait_for_log(
            f"worker {old} exited", timeout=2))
        server.stop()

    def test_a_replaced_worker_that_ignores_sigterm_is_killed_after_its_drain_and_margin(self):
        server = self.start("--workers", "1", "--drain-timeout", "0.5")
        status, _, body = server.request("GET", "/ignore-sigterm")
        self.assertEqual(status, 200)
        old = int(body.split()[0])
        server.signal(signal.SIGHUP)
        server.wait_for_log(f"stopping worker {old}", timeout=20)
        sigterm = time.monotonic()
        server.wait_for_log(f"worker {old} did not stop within 5500 ms of its SIGTERM; killing it",
                            timeout=10)
        self.assertGreaterEqual(time.monotonic() - sigterm, 5.0)
        deadline = time.monotonic() + 3
        while alive(old) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(old))
        self.assertEqual(server.request("GET", "/pid")[0], 200)
        server.stop()


class Startup(unittest.TestCase):
    """A stop signal while a process starts (here: while the app imports, 1.5 s) is acted on
    once it serves: the process stops gracefully instead of dying by the signal."""

    def popen(self, *options):
        proc = subprocess.Popen([HTTPY, "serve", SLOW_IMPORT_APP, "--bind", "127.0.0.1:0",
                                 *options],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        lines = []

        def drain():
            for line in proc.stderr:
                lines.append(line)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        return proc, lines

    def wait_line(self, lines, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                m = re.search(pattern, line)
                if m:
                    return m
            time.sleep(0.01)
        self.fail(f"{pattern!r} not in the log:\n{''.join(lines)}")

    def test_sigterm_while_the_app_imports_stops_the_server_gracefully_with_code_0(self):
        proc, lines = self.popen()
        self.wait_line(lines, "slow_import_app: importing")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        self.assertEqual(code, 0, "".join(lines))
        self.wait_line(lines, "signal 15: stopping", timeout=2)

    def test_a_worker_given_sigterm_as_it_starts_exits_0_instead_of_dying_by_it(self):
        proc, lines = self.popen("--workers", "1", "--drain-timeout", "1")
        pid = int(self.wait_line(lines, r"worker (\d+) starting").group(1))
        os.kill(pid, signal.SIGTERM)  # right after fork, before it caught anything
        self.wait_line(lines, rf"worker {pid} (exited|was killed)")
        log = "".join(lines)
        self.assertIn(f"worker {pid} exited with code 0", log)
        self.assertNotIn("killed by signal", log)
        # The supervisor, which did not ask for that, starts another; then stops cleanly.
        self.wait_line(lines, "httpy listening on")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(15), 0, "".join(lines))


if __name__ == "__main__":
    unittest.main()
