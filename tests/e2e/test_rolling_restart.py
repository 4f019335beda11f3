"""httpy past one machine: Debian's real nginx on loopback load-balancing three `httpy serve`
instances while clients send GET and POST requests at a steady rate throughout. A rolling
restart (each instance in turn: SIGTERM with a drain delay, then a new instance on its port,
ready on /readyz) costs no request, POSTs included, which nginx never retries once sent; an
instance SIGKILLed mid-load costs only the requests in flight on it."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import metrics_fixture
import serve_fixture
from serve_fixture import APP, Server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ROUTES = APP + ":routes"
CLIENTS = 4
DRAIN_DELAY = "1"

NGINX_CONF = """
{user}
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream httpy {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://httpy;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One `httpy serve` on a fixed port, with a drain delay and an admin listener."""

    def __init__(self, port):
        self.port = port
        self.server = Server(APP, "--init", ROUTES, "--drain-delay", DRAIN_DELAY,
                             "--drain-timeout", "5", "--admin-bind", "127.0.0.1:0",
                             bind=f"127.0.0.1:{port}")
        self.admin = int(self.server.wait_for_log(
            serve_fixture.re.compile(r"admin listener on http://127\.0\.0\.1:(\d+)")).group(1))

    def ready(self):
        return metrics_fixture.get(self.admin, "/readyz")[0] == 200


class Load:
    """CLIENTS threads, each on its own keep-alive connection to nginx, alternating GET and POST
    (whose answer echoes the body) until stopped; every answer is checked."""

    def __init__(self, port):
        self.port = port
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def one(self, conn, n, client):
        if n % 2:
            body = f"post {client} {n}".encode()
            conn.request("POST", "/body", body=body)
            want = body
        else:
            conn.request("GET", f"/hello/{client}-{n}")
            want = None
        resp = conn.getresponse()
        got = resp.read()
        if resp.status != 200 or (want is not None and got != want):
            raise AssertionError(f"{resp.status} {got[:80]!r}")

    def run(self, client):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                self.one(conn, n, client)
                with self.lock:
                    self.ok += 1
            except Exception as e:  # counted, and the client goes on on a new connection
                with self.lock:
                    self.failures.append(f"{'POST' if n % 2 else 'GET'}: {e!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)


class RollingRestart(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.instances = [Instance(free_port()) for _ in range(3)]
        self.addCleanup(lambda: [i.server.kill() for i in self.instances])
        self.port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{i.port} max_fails=1 fail_timeout=1s;"
                            for i in self.instances)
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port, servers=servers,
                                      user="user root;" if os.geteuid() == 0 else ""))
        self.nginx = subprocess.Popen([NGINX, "-p", self.dir, "-c", "nginx.conf", "-g",
                                       "daemon off;"], stderr=subprocess.PIPE)
        self.addCleanup(self.stop_nginx)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                self.assertIsNone(self.nginx.poll(), self.nginx.stderr.read().decode())
                self.assertLess(time.monotonic(), deadline, "nginx did not start")
                time.sleep(0.05)

    def stop_nginx(self):
        self.nginx.terminate()
        self.nginx.wait(10)
        self.nginx.stderr.close()

    def steady(self, seconds, load):
        start = load.ok
        time.sleep(seconds)
        self.assertGreater(load.ok, start, "no request got through")

    def test_a_rolling_restart_fails_no_request(self):
        load = Load(self.port)
        try:
            self.steady(1.0, load)
            for index, old in enumerate(list(self.instances)):
                served = int(metrics_fixture.value(metrics_fixture.scrape(old.admin)[1],
                                                   "http_requests_total", route="/body"))
                self.assertGreater(served, 0, "nginx sent this instance no POST")
                old.server.signal(signal.SIGTERM)
                time.sleep(0.2)
                self.assertFalse(old.ready(), "/readyz did not fail at SIGTERM")
                self.assertEqual(old.server.wait_exit(15), 0)
                new = Instance(old.port)
                self.instances[index] = new
                deadline = time.monotonic() + 10
                while not new.ready():
                    self.assertLess(time.monotonic(), deadline, "the new instance never ready")
                    time.sleep(0.05)
                self.steady(1.0, load)
        finally:
            load.stop()
        print(f"\nrolling restart: {load.ok} requests answered, {len(load.failures)} failed",
              flush=True)
        self.assertEqual(load.failures, [])
        self.assertGreater(load.ok, 100)

    def test_an_instance_killed_mid_load_costs_only_its_requests_in_flight(self):
        load = Load(self.port)
        try:
            self.steady(1.0, load)
            self.instances[0].server.proc.kill()
            self.instances[0].server.wait_exit(10)
            self.steady(2.0, load)
        finally:
            load.stop()
        print(f"\nSIGKILL: {load.ok} requests answered, {len(load.failures)} failed "
              f"({load.failures})", flush=True)
        # at most one request in flight per client, and nginx retries the GETs elsewhere
        self.assertLessEqual(len(load.failures), CLIENTS)
        self.assertTrue(all(f.startswith("POST") for f in load.failures), load.failures)


if __name__ == "__main__":
    unittest.main()
