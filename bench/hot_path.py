#!/usr/bin/python3
"""Where one request's time goes: user-space instructions (callgrind) and system calls (strace)
per request, for /native and /python of examples/embed, written to docs/benchmarks.md.

Instruction counts do not depend on what else the machine is doing, so they show the effect of
a change on this noisy 2-core machine where req/s cannot. Requests are sent one at a time on
one keep-alive connection (the typical request: 6 headers, 2 query keys).

Usage: bench/hot_path.py [--requests 2000] [--no-write]
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import docs_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("HTTPY_BENCH_BUILD", os.path.join(ROOT, "build"))
PORT = int(os.environ.get("HTTPY_BENCH_PORT", "18190"))
REQUEST = (
    "GET {path}?name=bob&lang=en HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) bench\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.5\r\n"
    "X-Request-Id: 7f1d2c3b-9a8e-4f6d-b5c4-a3b2c1d0e9f8\r\nCookie: session=abc123; theme=dark\r\n\r\n"
)


def wait_for_port(timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the example server did not listen on {PORT}")


def send(path, count):
    """Sends `count` requests one after the other on one connection; checks each answer."""
    request = REQUEST.format(path=path).encode()
    with socket.create_connection(("127.0.0.1", PORT)) as s:
        pending = b""
        for _ in range(count):
            s.sendall(request)
            while b"request #" not in pending or not re.search(rb"request #\d+", pending):
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit("the server closed the connection")
                pending += chunk
            if not pending.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"unexpected answer: {pending[:80]!r}")
            pending = pending[re.search(rb"request #\d+", pending).end():]


def start(prefix=()):
    return subprocess.Popen([*prefix, os.path.join(BUILD, "examples", "example_embed"),
                             os.path.join(ROOT, "examples", "worker.py"), str(PORT)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(server):
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()


def instructions(endpoints, count):
    out = tempfile.mkdtemp(prefix="httpy-callgrind-")
    server = start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.out"])
    result = {}
    try:
        wait_for_port()
        for path in endpoints:
            send(path, 300)  # warm-up
        for i, path in enumerate(endpoints, start=1):
            subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)
            send(path, count)
            subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
            dump = open(f"{out}/cg.out.{i}").read()
            total = int(re.search(r"^(?:summary|totals): (\d+)", dump, re.M).group(1))
            result[path] = total / count
    finally:
        stop(server)
    return result


def syscalls(endpoints, count):
    result = {}
    for path in endpoints:
        server = start()
        try:
            wait_for_port()
            send(path, 300)
            with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as report:
                tracer = subprocess.Popen(["strace", "-f", "-c", "-o", report.name, "-p", str(server.pid)],
                                          stderr=subprocess.DEVNULL)
                time.sleep(1.0)  # attached to every thread
                send(path, count)
                tracer.send_signal(signal.SIGINT)
                tracer.wait(timeout=30)
                calls = {}
                for line in report.read().splitlines():
                    fields = line.split()
                    if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                        calls[fields[-1]] = int(fields[3])
                result[path] = calls
        finally:
            stop(server)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    subprocess.run([os.path.join(ROOT, "scripts", "build")], check=True,
                   env={**os.environ, "BUILD_DIR": BUILD, "BUILD_TARGETS": "example_embed"})
    endpoints = ["/native", "/python"]
    ins = instructions(endpoints, args.requests)
    sys_calls = syscalls(endpoints, args.requests)
    names = sorted({n for calls in sys_calls.values() for n in calls},
                   key=lambda n: -max(c.get(n, 0) for c in sys_calls.values()))
    rows = ["| per request | `/native` | `/python` |", "| --- | ---: | ---: |",
            "| user-space instructions (callgrind) | " + " | ".join(f"{ins[p]:,.0f}" for p in endpoints) + " |"]
    for name in names:
        if max(c.get(name, 0) for c in sys_calls.values()) < args.requests / 100:
            continue  # start-up and shutdown calls, not per request
        rows.append(f"| `{name}` calls | " + " | ".join(f"{sys_calls[p].get(name, 0) / args.requests:.2f}" for p in endpoints) + " |")
    table = "\n".join(rows)
    print(table)
    if args.no_write:
        return
    text = f"""## Where the time goes

Per request, one request at a time on one keep-alive connection (the typical request of the
section above), in `examples/embed`: user-space instructions counted by callgrind (stable
whatever else the machine does; kernel time is not in it) and system calls counted by
`strace -f -c`, each over {args.requests:,} requests after a warm-up. The difference between the
two columns is what the Python route adds: the executor and the marshal layer (see "The Python
boundary") and the handler itself.

- Command: `bench/hot_path.py --requests {args.requests}`
- Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

{table}
"""
    docs_section.replace(os.path.join(ROOT, "docs", "benchmarks.md"), "## Where the time goes", text)


if __name__ == "__main__":
    main()
