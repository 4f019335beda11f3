"""Debian's nginx on loopback load-balancing `httpy serve` instances, and a steady GET and POST
load through it: what tests/e2e/test_rolling_restart.py and bench/rolling_restart share."""

import http.client
import os
import re
import signal
import shutil
import socket
import subprocess
import threading
import time

import metrics_fixture
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
            re.compile(r"admin listener on http://127\.0\.0\.1:(\d+)")).group(1))

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




class Balancer:
    """nginx in `folder` in front of `instances`, on a free port of its own."""

    def __init__(self, folder, instances):
        self.folder = folder
        self.port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{i.port} max_fails=1 fail_timeout=1s;"
                            for i in instances)
        with open(os.path.join(folder, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(dir=folder, port=self.port, servers=servers,
                                      user="user root;" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen([NGINX, "-p", folder, "-c", "nginx.conf", "-g",
                                      "daemon off;"], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stderr.close()


def restart(instances, index, wait_ready=10.0):
    """Restarts instances[index] as a rolling restart does: SIGTERM (its drain delay, then its
    drain), then a new instance on its port, returned once its /readyz says ready. Raises
    AssertionError when /readyz did not fail at SIGTERM or the new one never got ready."""
    old = instances[index]
    old.server.signal(signal.SIGTERM)
    time.sleep(0.2)
    if old.ready():
        raise AssertionError("/readyz did not fail at SIGTERM")
    code = old.server.wait_exit(15)
    if code != 0:
        raise AssertionError(f"the old instance exited {code}")
    new = Instance(old.port)
    instances[index] = new
    deadline = time.monotonic() + wait_ready
    while not new.ready():
        if time.monotonic() > deadline:
            raise AssertionError("the new instance never got ready")
        time.sleep(0.05)
    return new
