"""Overload and faults (issue 5): handlers that fail the hard ways, a full queue, an endless
loop, a huge response and SIGTERM with 200 requests in flight. After each, the server answers a
normal request: nothing a handler does stops the process."""

import os
import signal
import socket
import threading
import time
import unittest

from serve_fixture import SOURCE, Server, ServerCase, read_response, run_parallel
from slow_clients import rss_kib

FAULT_APP = os.path.join(SOURCE, "tests", "data", "fault_app.py")
ASYNC_FAULT_APP = os.path.join(SOURCE, "tests", "data", "async_fault_app.py")
MIB = 1024 * 1024


def ignores(sig_ign_hex, signum):
    """Whether a /proc/PID/status SigIgn mask has `signum` ignored."""
    return bool(int(sig_ign_hex, 16) & (1 << (signum - 1)))


def sig_ign(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return line.split()[1]
    raise AssertionError(f"no SigIgn for {pid}")


class FaultCase(ServerCase):
    handler = FAULT_APP
    still_serving = ("/alive", b"alive")

    def assert_500_logged(self, path, logged):
        server = self.server()
        start = server.line_count()
        status, _, body = server.request("GET", path, timeout=30)
        self.assertEqual(status, 500, body)
        server.wait_for_log(logged, timeout=5, start=start)
        self.assertNotIn(b"Traceback", body)
        self.assert_still_serving()
        return body


class HandlerFaults(FaultCase):
    def test_recursion_error_is_500_and_logged(self):
        self.assert_500_logged("/recursion", "RecursionError: maximum recursion depth exceeded")

    def test_a_failed_allocation_memory_error_is_500_and_logged(self):
        self.assert_500_logged("/memory", "MemoryError")

    def test_a_raised_memory_error_is_500_and_logged(self):
        self.assert_500_logged("/raise-memory", "MemoryError: raised on purpose")

    def test_system_exit_is_500_and_the_process_keeps_serving(self):
        self.assert_500_logged("/exit", "SystemExit: 3")

    def test_keyboard_interrupt_is_500_and_the_process_keeps_serving(self):
        self.assert_500_logged("/interrupt", "KeyboardInterrupt")

    def test_the_traceback_goes_to_the_log_and_never_to_the_client(self):
        body = self.assert_500_logged("/value-error", "ValueError: secret-detail-42")
        self.assertNotIn(b"secret-detail-42", body)
        self.assertNotIn(b"fault_app.py", body)

    def test_each_fault_many_times_leaves_the_server_serving(self):
        paths = ["/recursion", "/memory", "/raise-memory", "/exit", "/interrupt", "/value-error"]
        server = self.server()  # started here: threads calling server() at once would race
        statuses = run_parallel(
            len(paths) * 5, lambda i: server.request("GET", paths[i % len(paths)])[0])
        self.assertEqual(statuses, [500] * len(paths) * 5)
        self.assert_still_serving()


class Signals(FaultCase):
    def test_writing_to_a_pipe_nobody_reads_raises_broken_pipe_error_instead_of_killing(self):
        server = self.server()
        status, _, body = server.request("GET", "/broken-pipe")
        self.assertEqual((status, body), (200, b"BrokenPipeError"))
        self.assertIsNone(server.proc.poll(), "SIGPIPE killed the server")
        self.assertTrue(ignores(sig_ign(server.proc.pid), signal.SIGPIPE))
        self.assertTrue(ignores(sig_ign(server.proc.pid), signal.SIGXFSZ))
        self.assert_still_serving()

    def test_a_handler_s_subprocess_starts_with_sigpipe_and_sigxfsz_not_ignored(self):
        status, _, body = self.server().request("GET", "/child-sigign")
        self.assertEqual(status, 200, body)
        self.assertFalse(ignores(body.decode(), signal.SIGPIPE), body)
        self.assertFalse(ignores(body.decode(), signal.SIGXFSZ), body)


class DebugSwitch(FaultCase):
    options = ("--debug",)

    def test_with_debug_the_500_body_carries_the_traceback(self):
        status, _, body = self.server().request("GET", "/value-error")
        self.assertEqual(status, 500)
        self.assertIn(b"Traceback (most recent call last)", body)
        self.assertIn(b"ValueError: secret-detail-42", body)

    def test_with_debug_a_wrong_result_names_the_problem_in_the_body(self):
        status, _, body = self.server().request("GET", "/huge?bytes=100")
        self.assertEqual(status, 200)
        status, _, body = self.server().request("GET", f"/huge?bytes={65 * MIB}")
        self.assertEqual(status, 500)
        self.assertIn(b"the response limit is 67108864 bytes", body)


class HugeResponse(FaultCase):
    options = ("--max-response", str(50 * MIB))

    def test_a_100_mb_body_over_the_limit_is_500_and_its_memory_comes_back(self):
        server = self.server()
        self.assert_still_serving()
        before = rss_kib(server.proc.pid)
        start = server.line_count()
        status, _, body = server.request("GET", f"/huge?bytes={100 * MIB}", timeout=60)
        self.assertEqual(status, 500, body[:200])
        self.assertLess(len(body), 1024)
        server.wait_for_log(f"a body of type bytes of {100 * MIB} bytes; the response limit is "
                            f"{50 * MIB} bytes", start=start)
        self.assert_still_serving()
        # The handler's 100 MiB was never copied and Python has freed it: resident memory is
        # back within a few MiB of where it was (not 100 or 200 MiB above).
        after = rss_kib(server.proc.pid)
        self.assertLess(after - before, 8 * 1024, f"RSS {before} KiB -> {after} KiB")

    def test_a_body_under_the_limit_arrives_whole(self):
        status, _, body = self.server().request("GET", f"/huge?bytes={40 * MIB}", timeout=60)
        self.assertEqual(status, 200)
        self.assertEqual(len(body), 40 * MIB)
        self.assertEqual(body.count(b"x"), 40 * MIB)


class EndlessLoop(FaultCase):
    options = ("--handler-timeout", "1", "--python-threads", "2")

    def test_an_endless_loop_is_504_at_the_timeout_interrupted_while_others_are_served(self):
        server = self.server()
        result = {}

        def spin():
            start = time.monotonic()
            result["status"] = server.request("GET", "/forever", timeout=20)[0]
            result["elapsed"] = time.monotonic() - start

        spinner = threading.Thread(target=spin)
        spinner.start()
        time.sleep(0.2)
        served = 0
        while spinner.is_alive():  # the loop holds one Python thread; the other serves
            status, _, body = server.request("GET", "/alive", timeout=5)
            self.assertEqual((status, body), (200, b"alive"))
            served += 1
        spinner.join()
        self.assertEqual(result["status"], 504)
        self.assertGreaterEqual(result["elapsed"], 0.9)
        self.assertLess(result["elapsed"], 5.0)
        self.assertGreater(served, 0, "nothing was served while the handler looped")
        # TimeoutError landed in the loop (it may land just after the 504 went out).
        deadline = time.monotonic() + 3
        while server.request("GET", "/interrupted")[2] != b"1":
            self.assertLess(time.monotonic(), deadline, "TimeoutError was not raised in the loop")
            time.sleep(0.05)


class Overload(FaultCase):
    options = ("--python-threads", "1", "--queue-limit", "2", "--threads", "1")

    def test_a_full_queue_answers_503_at_once_and_the_server_recovers(self):
        server = self.server()
        # One call running (2 s) and two queued fill the executor; later calls are refused.
        holders = [threading.Thread(target=server.request,
                                    args=("GET", "/sleep?seconds=2"), kwargs={"timeout": 30})
                   for _ in range(3)]
        for t in holders:
            t.start()
            time.sleep(0.1)
        refused = []
        for _ in range(5):
            start = time.monotonic()
            status, headers, _ = server.request("GET", "/alive", timeout=10)
            refused.append((status, headers.get("Retry-After"), time.monotonic() - start))
        for status, retry_after, elapsed in refused:
            self.assertEqual((status, retry_after), (503, "1"), refused)
            # Refused without waiting for the sleeping call (2 s) to finish.
            self.assertLess(elapsed, 1.0, refused)
        for t in holders:
            t.join(30)
        statuses = [server.request("GET", "/alive")[0] for _ in range(20)]
        self.assertEqual(statuses, [200] * 20, "the server did not recover once the load dropped")


class AsyncFaults(FaultCase):
    options = ("--handler-timeout", "1")

    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = Server(ASYNC_FAULT_APP, *cls.options)
        return cls._server

    def timed_request(self, path, server=None):
        start = time.monotonic()
        status, _, _ = (server or self.server()).request("GET", path, timeout=20)
        return status, time.monotonic() - start

    def test_a_coroutine_blocking_the_loop_is_504_at_the_timeout_and_logged_with_its_request(self):
        server = self.server()
        start = server.line_count()
        status, elapsed = self.timed_request("/block?seconds=3")
        self.assertEqual(status, 504)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 2.0, "answered when the sleep ended, not at the timeout")
        server.wait_for_log("go_request GET /block: blocking the asyncio event loop", start=start)
        server.wait_for_log("go_request GET /block: the asyncio event loop runs again",
                            timeout=5, start=start)
        self.assert_still_serving()

    def test_a_coroutine_ignoring_cancellation_is_504_at_the_timeout(self):
        status, elapsed = self.timed_request("/ignore-cancel")
        self.assertEqual(status, 504)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 2.0)
        self.assert_still_serving()

    def test_sigterm_exits_by_the_drain_deadline_with_the_loop_blocked_and_cancellation_ignored(self):
        drain = 2.0
        server = Server(ASYNC_FAULT_APP, "--handler-timeout", "1", "--drain-timeout", str(drain))
        try:
            results = {}
            clients = [threading.Thread(target=lambda p=p: results.__setitem__(
                           p, self.timed_request(p, server)))
                       for p in ("/ignore-cancel", "/block?seconds=60")]
            for t in clients:
                t.start()
            time.sleep(0.3)  # both in flight: one swallowing cancellation, one blocking the loop
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            for t in clients:
                t.join(20)
            code = server.wait_exit(timeout=drain + 5)
            elapsed = time.monotonic() - started
        finally:
            server.kill()
        self.assertEqual([results[p][0] for p in ("/ignore-cancel", "/block?seconds=60")],
                         [504, 504], server.log()[-3000:])
        self.assertEqual(code, 0, server.log()[-3000:])
        self.assertLess(elapsed, drain + 3.0, server.log()[-3000:])


class StopUnderLoad(unittest.TestCase):
    def test_sigterm_with_200_requests_in_flight_answers_each_and_exits_0(self):
        server = Server(FAULT_APP, "--python-threads", "16", "--drain-timeout", "10")
        count = 200
        socks = []
        try:
            for _ in range(count):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
                sock.sendall(b"GET /sleep?seconds=0.1 HTTP/1.1\r\nHost: t\r\n\r\n")
                socks.append(sock)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            responses = []
            for sock in socks:
                try:
                    responses.append(read_response(sock.makefile("rb")))
                except OSError as e:
                    responses.append(e)
            code = server.wait_exit()
            elapsed = time.monotonic() - started
        finally:
            for sock in socks:
                sock.close()
            server.kill()
        missing = [(i, r) for i, r in enumerate(responses) if not hasattr(r, "status")]
        self.assertEqual(missing, [], f"{len(missing)} of {count} requests got no response; "
                                      f"server log:\n{server.log()[-3000:]}")
        self.assertEqual([(r.status, r.body) for r in responses], [(200, b"slept")] * count)
        # Every response says the connection closes: the server is stopping.
        self.assertEqual({r.header("Connection") for r in responses}, {"close"})
        self.assertEqual(code, 0)
        self.assertLess(elapsed, 10 + 5)


if __name__ == "__main__":
    unittest.main()
