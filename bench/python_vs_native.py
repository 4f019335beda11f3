#!/usr/bin/python3
"""/python against /native in one server, measured with wrk, written to docs/benchmarks.md.

Starts examples/embed (the worker's Python handler on /python, the same work in C++ on /native),
warms both up, then runs wrk (-t1 -c50 -d10s --latency) RUNS times over a bare request and a
typical one (6 headers, 2 query keys), alternating /native and /python so drift hits both.
Reports medians with min-max, p50/p99 latency, and the ratio python/native per run.

Usage: bench/python_vs_native.py [--runs 3] [--duration 10] [--no-write]
"""

import argparse
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import docs_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("HTTPY_BENCH_BUILD", os.path.join(ROOT, "build"))
PORT = int(os.environ.get("HTTPY_BENCH_PORT", "18180"))

TYPICAL_HEADERS = [
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) bench",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding: gzip, deflate, br",
    "Accept-Language: en-US,en;q=0.5",
    "X-Request-Id: 7f1d2c3b-9a8e-4f6d-b5c4-a3b2c1d0e9f8",
    "Cookie: session=abc123; theme=dark",
]
KINDS = {
    "bare": ("", []),
    "typical": ("?name=bob&lang=en", TYPICAL_HEADERS),
}


def wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the example server did not listen on {port}")


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(path, headers, duration):
    cmd = ["wrk", "-t1", "-c50", f"-d{duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{PORT}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(*re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses on {path}:\n{out}")
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "command": shlex.join(cmd)}


def spread(values, fmt="{:,.0f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    subprocess.run([os.path.join(ROOT, "scripts", "build")], check=True,
                   env={**os.environ, "BUILD_DIR": BUILD, "BUILD_TARGETS": "example_embed"})
    server = subprocess.Popen([os.path.join(BUILD, "examples", "example_embed"),
                               os.path.join(ROOT, "examples", "worker.py"), str(PORT)],
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_port(PORT)
        for kind, (query, headers) in KINDS.items():
            for endpoint in ("/native", "/python"):
                wrk(endpoint + query, headers, 2)  # warm-up
        results = {(k, e): [] for k in KINDS for e in ("/native", "/python")}
        commands = {}
        for _ in range(args.runs):
            for kind, (query, headers) in KINDS.items():
                for endpoint in ("/native", "/python"):
                    r = wrk(endpoint + query, headers, args.duration)
                    results[(kind, endpoint)].append(r)
                    commands[(kind, endpoint)] = r["command"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    rows = ["| request | endpoint | req/s median (min-max) | p50 ms | p99 ms | python/native |",
            "| --- | --- | --- | --- | --- | --- |"]
    for kind in KINDS:
        native = [r["rps"] for r in results[(kind, "/native")]]
        python = [r["rps"] for r in results[(kind, "/python")]]
        ratios = [p / n for p, n in zip(python, native)]
        for endpoint, values in (("/native", native), ("/python", python)):
            runs = results[(kind, endpoint)]
            ratio = spread(ratios, "{:.2f}") if endpoint == "/python" else ""
            rows.append(f"| {kind} | `{endpoint}` | {spread(values)} | "
                        f"{statistics.median(r['p50'] for r in runs):.2f} | "
                        f"{statistics.median(r['p99'] for r in runs):.2f} | {ratio} |")
    table = "\n".join(rows)
    print(table)
    if args.no_write:
        return
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    text = f"""## /python against /native

One server (`examples/embed`, default options: one IO thread, which also runs the Python
calls) answers `/python` with `examples/worker.py`'s `go_request` and `/native` with the same
work in C++ (count, `request #N`, `X-Test: 1`). wrk runs on the same machine. Each cell is the
median of {args.runs} runs of {args.duration} s with min-max; the ratio column is python/native
within each run, /native and /python alternated so drift hits both.

- Command: `bench/python_vs_native.py --runs {args.runs} --duration {args.duration}`
- wrk, typical request: `{commands[("typical", "/python")]}`
- Machine: {os.cpu_count()} cores ({cpu}), wrk on the same cores
- Python {platform.python_version()}; date {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

{table}
"""
    docs_section.replace(os.path.join(ROOT, "docs", "benchmarks.md"), "## /python against /native", text)


if __name__ == "__main__":
    main()
