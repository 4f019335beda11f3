"""Worker processes: `httpy serve --workers N` runs a supervisor and N workers on one port
(SO_REUSEPORT). Each test starts a real supervisor, talks to it with http.client over new
connections (so the kernel spreads them over the workers) and checks which process answered:
tests/data/workers_app.py answers "PID VERSION"."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from serve_fixture import HTTPY, SOURCE, Server, alive
from slow_clients import status_field

APP = os.path.join(SOURCE, "tests", "data", "workers_app.py")


class WorkersCase(unittest.TestCase):
    def answer(self, server, path="/"):
        """(pid, version) of the worker that answered a request on a new connection."""
        status, _, body = server.request("GET", path)
        self.assertEqual(status, 200, body)
        pid, version = body.decode().split()
        return int(pid), int(version)

    def pids_serving(self, server, want, timeout=20.0):
        """The set of worker pids answering, once `want` distinct ones answered."""
        seen = set()
        deadline = time.monotonic() + timeout
        while len(seen) < want and time.monotonic() < deadline:
            seen.add(self.answer(server)[0])
        self.assertEqual(len(seen), want, f"workers seen: {seen}\n{server.log()}")
        return seen

    def wait_gone(self, pids, timeout=15.0):
        deadline = time.monotonic() + timeout
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse([p for p in pids if alive(p)], "worker processes left behind")


class Sharing(WorkersCase):
    def test_two_workers_answer_on_one_port(self):
        with Server(APP, "--workers", "2") as server:
            server.wait_for_log("(2 worker processes, supervisor ")
            workers = self.pids_serving(server, 2)
            for pid in workers:
                self.assertEqual(status_field(pid, "PPid"), server.proc.pid)
                self.assertNotEqual(pid, server.proc.pid)
            for _ in range(20):
                self.assertIn(self.answer(server)[0], workers)

    def test_sigterm_lets_in_flight_requests_finish_then_exits_0(self):
        server = Server(APP, "--workers", "2")
        workers = self.pids_serving(server, 2)
        results = []

        def slow():
            try:
                results.append(server.request("GET", "/sleep?seconds=1")[0])
            except OSError as e:
                results.append(repr(e))

        clients = [threading.Thread(target=slow) for _ in range(8)]
        for c in clients:
            c.start()
        time.sleep(0.4)  # every request is in a handler now
        server.signal(signal.SIGTERM)
        for c in clients:
            c.join(20)
        self.assertEqual(server.wait_exit(), 0, server.log())
        self.assertEqual(results, [200] * 8, server.log())
        self.wait_gone(workers)

    def test_workers_stop_when_the_supervisor_is_killed(self):
        server = Server(APP, "--workers", "2")
        workers = self.pids_serving(server, 2)
        server.kill()  # SIGKILL: no chance to stop them itself
        self.wait_gone(workers)


class Restarts(WorkersCase):
    def test_a_worker_that_dies_is_replaced_and_the_others_keep_serving(self):
        with Server(APP, "--workers", "2") as server:
            before = self.pids_serving(server, 2)
            with self.assertRaises((ConnectionError, OSError)):  # http.client: no response
                server.request("GET", "/exit")
            server.wait_for_log("exited with code 3; starting another")
            after = self.pids_serving(server, 2)
            self.assertEqual(len(before & after), 1, (before, after))

    def test_max_requests_replaces_a_worker_without_a_failed_request(self):
        with Server(APP, "--workers", "1", "--max-requests", "30") as server:
            seen, answered = set(), 0
            deadline = time.monotonic() + 20
            while len(seen) < 2 and time.monotonic() < deadline:
                seen.add(self.answer(server)[0])  # asserts 200
                answered += 1
            self.assertEqual(len(seen), 2, server.log())
            self.assertGreaterEqual(answered, 30)
            server.wait_for_log("reached its request limit; replacing it")

    def test_max_worker_memory_replaces_a_worker_that_grows(self):
        with Server(APP, "--workers", "1", "--max-worker-memory", "64") as server:
            first, _ = self.answer(server)
            for _ in range(4):
                self.answer(server, "/grow?mib=20")
            line = server.wait_for_log(f"worker {first} uses ", timeout=10)
            self.assertIn("above the limit of 64 MiB; replacing it", line)
            server.wait_for_log(f"worker {first} exited with code 0", timeout=15)
            self.assertNotEqual(self.answer(server)[0], first)


class Reload(WorkersCase):
    def copy_of_app(self):
        """A copy of the app in a folder of its own, for a test to rewrite."""
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        app = os.path.join(folder, "app.py")
        shutil.copy(APP, app)
        return app

    def test_sighup_loads_the_new_code_without_a_failed_request(self):
        app = self.copy_of_app()
        with Server(app, "--workers", "2") as server:
            old = self.pids_serving(server, 2)
            failures, versions, stop = [], [], threading.Event()

            def client():
                while not stop.is_set():
                    try:
                        pid, version = self.answer(server)
                        versions.append((pid, version))
                    except (OSError, AssertionError) as e:
                        failures.append(repr(e))

            running = threading.Thread(target=client)
            running.start()
            with open(app) as f:
                source = f.read()
            with open(app, "w") as f:
                f.write(source.replace("VERSION = 1", "VERSION = 2"))
            server.signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (
                    len(versions) > 20 and all(v == 2 for _, v in versions[-20:])):
                time.sleep(0.05)
            stop.set()
            running.join(10)
            self.assertEqual(failures, [], server.log())
            self.assertTrue(all(v == 2 for _, v in versions[-20:]), versions[-20:])
            self.assertFalse({p for p, _ in versions[-20:]} & old)
            server.wait_for_log("SIGHUP: reloading")
            self.wait_gone(old)

    def test_a_reload_with_broken_code_keeps_the_old_workers(self):
        app = self.copy_of_app()
        with Server(app, "--workers", "2") as server:
            old = self.pids_serving(server, 2)
            with open(app, "a") as f:
                f.write("\nraise RuntimeError('broken on purpose')\n")
            server.signal(signal.SIGHUP)
            server.wait_for_log("keeps serving", timeout=15)
            self.assertIn("broken on purpose", server.log())
            time.sleep(0.5)
            self.assertEqual(self.pids_serving(server, 2), old)


class Startup(unittest.TestCase):
    def run_fails(self, *args):
        done = subprocess.run([HTTPY, "serve", *args], capture_output=True, timeout=60)
        err = done.stderr.decode()
        self.assertEqual(done.returncode, 2, err)
        self.assertNotIn("listening on", err)
        return err

    def test_a_bad_app_exits_2_naming_the_problem(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        app = os.path.join(folder, "bad.py")
        with open(app, "w") as f:
            f.write("raise RuntimeError('cannot import this')\n")
        err = self.run_fails(app, "--workers", "2", "--bind", "127.0.0.1:0")
        self.assertIn("cannot import this", err)
        self.assertIn("before it was ready; stopping", err)

    def test_a_busy_port_exits_2_before_any_worker_starts(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        self.addCleanup(holder.close)
        port = holder.getsockname()[1]
        err = self.run_fails(APP, "--workers", "2", "--bind", f"127.0.0.1:{port}")
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", err)
        self.assertNotIn("starting", err)


if __name__ == "__main__":
    unittest.main()
