"""What bench/compare and bench/compare_wsgi share: the command line, starting server process trees
on their own ports and stopping them, checking that each answers `hello` and `echo` correctly,
measuring every cell round-robin with `wrk -t1 --latency`, each server's peak RSS (VmHWM) and CPU
time (utime + stime over its process tree), medians with min-max, target verdicts and the chart.

A server is a dict: "name", "cmd" (port -> argv, paths relative to the repository root), "stop"
(the signal that stops it), "endpoints" [(row label, handler, path)], optional "workers" (how many
processes count requests on their own; 1 by default), optional "env" (extra environment
variables) and optional "scheme" ("https": checked and measured over TLS, the certificate not
verified). A cell is (server, row label, handler, path, connections); results are keyed
(row label, handler, connections), a list with one wrk result a run.
"""

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("HTTPY_BENCH_BUILD", os.path.join(ROOT, "build"))
APPS = os.path.join(ROOT, "bench", "compare_servers")

ECHO_QUERY = "?name=bob&lang=en&tag=a&tag=b"
ECHO_HEADERS = ["X-Name: bob"]
ECHO_EXPECTED = {"query": {"name": ["bob"], "lang": ["en"], "tag": ["a", "b"]}, "name": "bob"}
REQUESTS = {  # handler -> (query, wrk headers)
    "hello": ("", []),
    "echo": (ECHO_QUERY, ECHO_HEADERS),
}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def rel(path):
    r = os.path.relpath(path, ROOT)
    return path if r.startswith("..") else r


# ---------------------------------------------------------------------------------------------
# command line and set-up


def parse_args(doc, servers_example):
    """The options every bench/compare* script takes; returns (args, runs, duration, warmup,
    do_write)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, help="runs of the whole matrix (default 3)")
    parser.add_argument("--duration", type=int, help="seconds per wrk cell (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per cell (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help="a trial: 1 run of 2 s, 1 s warm-up; writes nothing unless --write")
    parser.add_argument("--no-build", action="store_true",
                        help="skip scripts/install-deps and scripts/build")
    parser.add_argument("--servers", help="comma-separated parts of server names to run "
                        f"(e.g. {servers_example}); default all")
    write = parser.add_mutually_exclusive_group()
    write.add_argument("--no-write", action="store_true", help="print only")
    write.add_argument("--write", action="store_true", help="write the docs even with --quick")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    duration = args.duration or (2 if args.quick else 10)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    do_write = args.write or (not args.no_write and not args.quick)
    return args, runs, duration, warmup, do_write


def build(targets):
    """scripts/install-deps, then scripts/build of these CMake targets into BUILD."""
    subprocess.run([os.path.join(ROOT, "scripts", "install-deps")], check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "build")], check=True,
                   env={**os.environ, "BUILD_DIR": BUILD, "BUILD_TARGETS": targets})


def prepare():
    """Works from the repository root, and makes SIGTERM unwind through `finally` (which stops
    every server started here). Returns the load average at the start and the date."""
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_start = open("/proc/loadavg").read().split()[:3]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return load_start, started


def select(servers, wanted):
    """The servers whose name contains one of the comma-separated parts of `wanted`."""
    if not wanted:
        return servers
    parts = [w.strip().lower() for w in wanted.split(",") if w.strip()]
    return [s for s in servers if any(w in s["name"].lower() for w in parts)]


def cpu_model():
    return next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")), "?")


def dpkg_versions(packages):
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n"] + packages,
                       capture_output=True, text=True)
    return ", ".join(l for l in p.stdout.splitlines() if l.strip())


# ---------------------------------------------------------------------------------------------
# processes


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_for_port(proc, port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode} before listening"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return None
        except OSError:
            time.sleep(0.05)
    return f"did not listen on {port} within {timeout:.0f} s"


def _stat_fields(pid):
    """/proc/PID/stat after the command name: field 3 (state) is [0]."""
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()


def process_tree(pid):
    """pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(_stat_fields(d)[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def status_kib(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mib(pid):
    """VmHWM summed over the server's processes (a master and its worker count together)."""
    procs = process_tree(pid)
    return sum(status_kib(p, "VmHWM") for p in procs) / 1024.0, len(procs)


def cpu_seconds(pid):
    """CPU time of the server's process tree: utime + stime of every process in it, plus cutime +
    cstime (what children it has reaped used), in seconds."""
    ticks = 0
    for p in process_tree(pid):
        try:
            f = _stat_fields(p)
        except OSError:
            continue
        ticks += sum(int(x) for x in f[11:15])  # fields 14-17: utime stime cutime cstime
    return ticks / CLOCK_TICK


def stop(server):
    proc = server.get("proc")
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, server["stop"])  # its own session: the master and its workers
        proc.wait(timeout=15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def log_tail(server, lines=15):
    try:
        return "".join(open(server["log"], errors="replace").readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def command_line(server):
    env = "".join(f"{k}={shlex.quote(v)} " for k, v in server.get("env", {}).items())
    return env + shlex.join(server["argv"])


# ---------------------------------------------------------------------------------------------
# correctness


def get(port, path, headers=(), scheme="http"):
    if scheme == "https":  # the benchmarks' own self-signed certificate: not verified
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=dict(h.split(": ", 1) for h in headers))
        r = conn.getresponse()
        return r.status, r.read(), r
    finally:
        conn.close()


def check(port, handler, path, workers=1, scheme="http"):
    """None when the endpoint answers as the handler must, else what is wrong. With several
    workers each counts on its own, so the count is not checked."""
    if handler == "hello":
        numbers = []
        for _ in range(2):
            status, body, r = get(port, path, scheme=scheme)
            m = re.fullmatch(rb"request #(\d+)", body)
            if status != 200 or not m or r.getheader("X-Test") != "1":
                return f"GET {path}: status {status}, X-Test {r.getheader('X-Test')!r}, body {body[:80]!r}"
            numbers.append(int(m.group(1)))
        if workers == 1 and numbers[1] != numbers[0] + 1:
            return f"GET {path}: counter went {numbers[0]} -> {numbers[1]}, not +1"
        return None
    query, headers = REQUESTS[handler]
    status, body, r = get(port, path + query, headers, scheme)
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if status != 200 or value != ECHO_EXPECTED or \
            not (r.getheader("Content-Type") or "").startswith("application/json"):
        return f"GET {path + query}: status {status}, Content-Type " \
               f"{r.getheader('Content-Type')!r}, body {body[:120]!r}"
    return None


# ---------------------------------------------------------------------------------------------
# wrk


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_cmd(port, path, headers, connections, duration, scheme="http"):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    return cmd + [f"{scheme}://127.0.0.1:{port}{path}"]


def wrk(cmd, duration):
    """Runs wrk; returns its figures, or {"error": ...} when it fails or sees errors."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not finish"}
    out = p.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if p.returncode != 0 or not rps:
        return {"error": f"wrk failed ({p.returncode}): {(p.stderr or out).strip()[:300]}"}
    lat = {q: to_ms(*re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", out).groups()) for q in ("50", "99")}
    avg = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    served = re.search(r"(\d+) requests in", out)
    result = {"rps": float(rps.group(1)), "p50": lat["50"], "p99": lat["99"],
              "avg": to_ms(*avg.groups()) if avg else None,
              "requests": int(served.group(1)) if served else 0,
              "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
              "socket_detail": sock.group(0) if sock else ""}
    if non2xx:
        result["error"] = f"{non2xx.group(1)} non-2xx responses"
    return result


def measured(server, path, handler, connections, duration):
    """One measured cell: wrk's figures, plus "cpu_us", the server tree's CPU time (sampled just
    before and after wrk) per request served."""
    proc = server["proc"]
    if proc.poll() is not None:
        return {"error": f"server exited with status {proc.returncode}"}
    query, headers = REQUESTS[handler]
    before = cpu_seconds(proc.pid)
    r = wrk(wrk_cmd(server["port"], path + query, headers, connections, duration,
                    server.get("scheme", "http")), duration)
    if r.get("requests"):
        r["cpu_us"] = (cpu_seconds(proc.pid) - before) / r["requests"] * 1e6
    return r


# ---------------------------------------------------------------------------------------------
# the matrix


def start_servers(servers, base_port, logdir, failures, commands):
    """Starts every server, each in its own session on its own port; a server that cannot start
    goes to failures."""
    for i, s in enumerate(servers):
        s["port"] = base_port + i
        s["argv"] = s["cmd"](s["port"])
        commands[s["name"]] = command_line(s)
        if not port_free(s["port"]):
            failures.append((s["name"], f"port {s['port']} is already in use"))
            continue
        s["log"] = os.path.join(logdir, f"server{i}.log")
        with open(s["log"], "w") as log:
            try:
                s["proc"] = subprocess.Popen(s["argv"], stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             env={**os.environ, **s.get("env", {})})
            except OSError as e:
                failures.append((s["name"], f"could not start: {e}"))
                print(f"FAILED {s['name']}: could not start: {e}", file=sys.stderr)


def check_servers(servers, failures):
    """Waits for each started server's port, then checks every endpoint; a server that fails is
    stopped and goes to failures."""
    for s in servers:
        if "proc" not in s:
            continue
        why = wait_for_port(s["proc"], s["port"])
        if why is None:
            for label, handler, path in s["endpoints"]:
                try:
                    why = check(s["port"], handler, path, s.get("workers", 1),
                                s.get("scheme", "http"))
                except (OSError, http.client.HTTPException) as e:
                    why = f"GET {path}: {e!r}"
                if why:
                    break
        if why:
            tail = log_tail(s)
            failures.append((s["name"], why + (f"; its log ends:\n{tail}" if tail else "")))
            print(f"FAILED {s['name']}: {why}\n{tail}", file=sys.stderr)
            stop(s)
            s["failed"] = True
        else:
            print(f"ok  {s['name']} on 127.0.0.1:{s['port']}", file=sys.stderr)


def measure(cells, runs, duration, warmup, results, wrk_commands, label_width=26):
    """Warms every cell up, then runs the matrix `runs` times, round-robin over every cell."""
    for s, label, handler, path, c in cells:
        query, headers = REQUESTS[handler]
        results[(label, handler, c)] = []
        wrk_commands[(handler, c)] = shlex.join(wrk_cmd("PORT", path + query, headers, c, duration,
                                                        s.get("scheme", "http")))
    total = len(cells) * (warmup + runs * duration)
    print(f"{len(cells)} cells, {runs} run(s) of {duration} s, warm-up {warmup} s: "
          f"about {total // 60} min {total % 60} s", file=sys.stderr)

    for s, label, handler, path, c in cells:  # warm-up
        query, headers = REQUESTS[handler]
        wrk(wrk_cmd(s["port"], path + query, headers, c, warmup, s.get("scheme", "http")), warmup)
    for run in range(runs):
        # Round-robin over every cell; each run starts one cell further on.
        order = cells[run % len(cells):] + cells[:run % len(cells)] if cells else []
        for s, label, handler, path, c in order:
            r = measured(s, path, handler, c, duration)
            results[(label, handler, c)].append(r)
            shown = f"{r['rps']:>9,.0f} req/s  p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms" \
                if "rps" in r else ""
            extra = "".join(f"  [{x}]" for x in (r.get("error"), r.get("socket_detail")
                                                    if r.get("socket_errors") else None) if x)
            print(f"run {run + 1}/{runs}  {label:<{label_width}} {handler:<5} c{c:<4} {shown}{extra}",
                  file=sys.stderr)


def run_matrix(servers, base_port, runs, duration, warmup, cells_of, label_width=26):
    """Starts and checks every server, measures the cells `cells_of(server)` gives for each live
    one ([(row label, handler, path, connections)]), takes each one's peak RSS and stops them all.
    Returns (results, failures [(what, why)], commands {server name: its command},
    wrk_commands {(handler, connections): a wrk command, PORT for the port}, rss {server name:
    (MiB, processes)})."""
    failures, results, commands, wrk_commands, rss = [], {}, {}, {}, {}
    logdir = tempfile.mkdtemp(prefix="httpy-compare-")
    try:
        start_servers(servers, base_port, logdir, failures, commands)
        check_servers(servers, failures)
        live = [s for s in servers if "proc" in s and not s.get("failed")]
        cells = [(s, label, handler, path, c) for s in live for (label, handler, path, c) in cells_of(s)]
        measure(cells, runs, duration, warmup, results, wrk_commands, label_width)
        for s in live:
            if s["proc"].poll() is None:
                rss[s["name"]] = peak_rss_mib(s["proc"].pid)
            else:
                failures.append((s["name"], f"exited with status {s['proc'].returncode} "
                                            f"during the measurement\n{log_tail(s)}"))
    finally:
        for s in servers:
            stop(s)
        if failures:
            print(f"server logs: {logdir}", file=sys.stderr)
        else:
            shutil.rmtree(logdir, ignore_errors=True)
    return results, failures, commands, wrk_commands, rss


# ---------------------------------------------------------------------------------------------
# report


def median_spread(values, fmt="{:,.0f}"):
    if not values:
        return "-"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def verdict(ratio, target, higher_is_better=True):
    if higher_is_better:
        if ratio >= target:
            return f"met ({(ratio / target - 1) * 100:.0f}% above {target:g}x)"
        return f"**NOT met**: {(1 - ratio / target) * 100:.0f}% short of {target:g}x"
    if ratio <= target:
        return f"met ({(1 - ratio / target) * 100:.0f}% below {target:g})"
    return f"**NOT met**: {(ratio / target - 1) * 100:.0f}% above {target:g}"


def ok(r):
    return bool(r) and "rps" in r and "error" not in r


def per_run_ratios(results, a, b):
    """a/b req/s within each run where both cells have a result."""
    ra, rb = results.get(a, []), results.get(b, [])
    out = []
    for x, y in zip(ra, rb):
        if ok(x) and ok(y):
            out.append(x["rps"] / y["rps"])
    return out


def ok_runs(results, key):
    return [r for r in results.get(key, []) if ok(r)]


def cell_errors(results, key, what):
    """What wrk reported as errors in the cell's runs, one line a run."""
    return [f"{what}: {r.get('error') or r.get('socket_detail')}"
            for r in results.get(key, []) if r and ("error" in r or r.get("socket_errors"))]


def cell_columns(good, mib):
    """req/s median (min-max), p50 ms, p99 ms and peak RSS MiB of a cell's good runs."""
    return [median_spread([r["rps"] for r in good]),
            f"{statistics.median(r['p50'] for r in good):.2f}" if good else "-",
            f"{statistics.median(r['p99'] for r in good):.2f}" if good else "-",
            f"{mib[0]:.1f}" if mib else "-"]


def chart(path, title, bars, groups, results, color_of):
    """Grouped bars of the median req/s (k) with min-max error bars; `groups` is
    [(group title, bar -> results key)], one bar per entry of `bars` that has a result; gnuplot."""
    labels = [b for b in bars if any(ok_runs(results, key(b)) for _, key in groups)]
    if not labels:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        with open(data, "w") as f:
            for name, key in groups:
                cols = [f'"{name}"']
                for lab in labels:
                    v = [r["rps"] / 1000 for r in ok_runs(results, key(lab))]
                    cols += [f"{statistics.median(v):.3f}", f"{min(v):.3f}", f"{max(v):.3f}"] if v else ["?"] * 3
                f.write(" ".join(cols) + "\n")
        script = f"""
set terminal pngcairo size 1200,600 font "sans,10"
set output "{path}"
set datafile missing "?"
set title "{title}"
set ylabel "requests/s (thousands), median with min-max"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key outside right top vertical
array T[{len(labels)}] = [{", ".join('"' + lab.replace('"', "") + '"' for lab in labels)}]
array C[{len(labels)}] = [{", ".join('"' + color_of(lab) + '"' for lab in labels)}]
plot for [i=1:{len(labels)}] "{data}" using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title T[i] lc rgb C[i]
"""
        p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"gnuplot failed: {p.stderr}", file=sys.stderr)
            return False
    return True
