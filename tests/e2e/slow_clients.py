"""Slow and many clients against a running `httpy serve`: the scenarios behind
tests/e2e/test_slow_clients.py (short) and bench/slow_clients (full size, figures for
docs/security-figures.md). Each scenario returns a dict of what it measured; the caller judges.

- slowloris_rounds: a normal keep-alive client's latency on a server under a slowloris attack
  (tests/e2e/slowloris.py in a child process) and on an idle one at the same moments.
- never_reading: clients that ask for a large response and never read it.
- hold_connections: many concurrent connections opened, held, closed; the server's descriptors
  and RSS before, during and after.
- out_of_descriptors: the server's open-file limit lowered under it while clients keep coming.
"""

import contextlib
import json
import math
import os
import resource
import select
import selectors
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SLOWLORIS = os.path.join(HERE, "slowloris.py")
PROBE = b"GET /probe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
TIMEOUT_LOG = "answering 408 and closing"
WRITE_TIMEOUT_LOG = "writing the response failed: The socket was closed due to a timeout"
ACCEPT_FAILED_LOG = "accept failed"


# --- the server process, seen from /proc -------------------------------------------------------

def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def status_field(pid, name):
    """The number a /proc/PID/status line starts with (`VmRSS` in KiB, `PPid`, ...)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {name} for {pid}")


def rss_kib(pid):
    return status_field(pid, "VmRSS")


def cpu_seconds(pid):
    """User plus system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_file_limit(pid):
    """(soft, hard) RLIMIT_NOFILE of the process."""
    return resource.prlimit(pid, resource.RLIMIT_NOFILE)


def settled_fds(pid, quiet=0.3, timeout=10.0):
    """The process's descriptor count once it has not changed for `quiet` seconds (connections
    a client just closed take a moment to be closed by the server too)."""
    count, since, start = open_fds(pid), time.monotonic(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() - start < timeout:
        time.sleep(0.02)
        now = open_fds(pid)
        if now != count:
            count, since = now, time.monotonic()
    return count


def wait_for_fds(pid, want, timeout):
    """Seconds until the process has exactly `want` descriptors open; None when it does not
    within `timeout`."""
    start = time.monotonic()
    while True:
        if open_fds(pid) == want:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.01)


def orphans_with_unsent_bytes(port):
    """Sockets of local port `port` that are closing (FIN-WAIT-1, CLOSING, LAST-ACK) with bytes
    still queued to send: what a server leaves the kernel when it closes, without a reset, on a
    client that does not read."""
    closing = {"04", "0B", "09"}
    found = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local_port = int(fields[1].rpartition(":")[2], 16)
            tx_queue = int(fields[4].partition(":")[0], 16)
            if local_port == port and fields[3] in closing and tx_queue > 0:
                found += 1
    return found


def log_count(servers, text, want=None, timeout=5.0):
    """Lines containing `text` in the logs of `servers` (one Server or a list); waits up to
    `timeout` for `want` of them (the logs are read by a thread each)."""
    servers = servers if isinstance(servers, (list, tuple)) else [servers]
    deadline = time.monotonic() + timeout
    while True:
        n = sum(1 for server in servers for line in server.log().splitlines() if text in line)
        if want is None or n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


@contextlib.contextmanager
def own_fd_soft_limit(soft):
    """This process's soft RLIMIT_NOFILE set to `soft` inside the block (children started in it
    inherit it), restored after."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, before[1]), before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def raise_own_fd_limit(need):
    """Raises this process's soft RLIMIT_NOFILE to at least `need`; False when the hard limit
    does not allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return True
    if hard != resource.RLIM_INFINITY and hard < need:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- clients ----------------------------------------------------------------------------------

def read_one_response(sock, buf):
    """(status, rest of buf) after reading one Content-Length response from a blocking socket."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise AssertionError(f"connection closed before a response; got {buf!r}")
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            raise AssertionError("connection closed inside a response body")
        buf += data
    return int(head[9:12]), buf[length:]


class KeepAliveClient:
    """A normal client: one keep-alive connection, one small request at a time."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def request(self):
        """Seconds from sending a request to having read its whole response (the connection is
        already open: connecting is not part of it)."""
        start = time.perf_counter()
        self.sock.sendall(PROBE)
        status, self.buf = read_one_response(self.sock, self.buf)
        elapsed = time.perf_counter() - start
        if status != 200:
            raise AssertionError(f"the normal client got {status}")
        return elapsed


class Slowloris:
    """tests/e2e/slowloris.py as a child process, holding `connections` trickling connections
    from the end of the `with` statement's entry until its exit; `records` then has one list per
    connection (see slowloris.py).

    It runs at a lower priority (nice 10): a real attacker's CPU is on other machines, while here
    it shares the cores with the server and the client measuring latency, and should not be what
    that client measures."""

    def __init__(self, port, connections, settle, interval=1.0, nice=10):
        self.proc = subprocess.Popen(
            [sys.executable, SLOWLORIS, str(port), str(connections), "--interval", str(interval),
             "--settle", str(settle), "--nice", str(nice)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.records = None
        self.wait_timeout = settle + 30

    def __enter__(self):
        line = ""
        if select.select([self.proc.stdout], [], [], 60)[0]:
            line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            raise AssertionError(f"the slowloris child did not get its connections open in 60 s "
                                 f"(it said {line!r})")
        return self

    def __exit__(self, *exc):
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            if not select.select([self.proc.stdout], [], [], self.wait_timeout)[0]:
                raise AssertionError("the slowloris child did not finish")
            self.records = json.loads(self.proc.stdout.readline())["connections"]
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
        return False


# --- scenarios ----------------------------------------------------------------------------------

def measure_alternating(clients, seconds, gap):
    """Latencies of `clients` asked in turn for `seconds`, `gap` seconds after each answer: one
    list per client, their samples taken at the same moments, so the machine's background load
    falls on each alike. Think time, not a load generator: it measures waiting rather than
    saturating the two cores the servers and the attacker share with it."""
    out = [[] for _ in clients]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for latencies, client in zip(out, clients):
            latencies.append(client.request())
            if gap:
                time.sleep(gap)
    return out


def slowloris_rounds(servers, rounds, phase, connections, header_timeout, gap):
    """Two identical servers and a normal client with a keep-alive connection to each, asking
    them in turn (`gap` seconds of think time after each answer). Each round has a quiet phase
    (no attack) and an attack phase of `phase` seconds, in alternating order; in round r the
    attack (`connections` slow connections, each one the server closes replaced at once) is on
    servers[r % 2], while the other one is the idle server measured at the same moments."""
    clients = [KeepAliveClient(server.port) for server in servers]
    try:
        measure_alternating(clients, 1.0, gap)  # warm-up: imports, caches, allocator
        out = []
        for r in range(rounds):
            target = r % 2
            one = {"attacked": target}
            for kind in (("quiet", "attack") if r % 2 == 0 else ("attack", "quiet")):
                if kind == "quiet":
                    one["quiet"] = measure_alternating(clients, phase, gap)
                    continue
                with Slowloris(servers[target].port, connections,
                               settle=header_timeout + 5) as attacker:
                    cpu = [cpu_seconds(server.proc.pid) for server in servers]
                    began = time.monotonic()
                    one["attack"] = measure_alternating(clients, phase, gap)
                    one["seconds"] = time.monotonic() - began
                    one["cpu"] = [cpu_seconds(server.proc.pid) - before
                                  for server, before in zip(servers, cpu)]
                one["slow"] = attacker.records
            out.append(one)
    finally:
        for client in clients:
            client.close()
    return {"rounds": out, "phase": phase, "connections": connections,
            "header_timeout": header_timeout, "gap": gap}


def latency_summary(result):
    """From slowloris_rounds: per round the attacked server's p99 over the idle server's at the
    same moments ("paired") and over its own in the quiet phase ("same server"), their medians,
    and pooled p50/p99 (seconds) of the attacked server, the idle one beside it, and the quiet
    phases; CPU seconds per second of each during the attacks."""
    attacked, beside, quiet, paired, same, cpu_attacked, cpu_idle = [], [], [], [], [], [], []
    for one in result["rounds"]:
        t = one["attacked"]
        under, idle, own_quiet = one["attack"][t], one["attack"][1 - t], one["quiet"][t]
        attacked += under
        beside += idle
        quiet += one["quiet"][0] + one["quiet"][1]
        paired.append(percentile(under, 99) / percentile(idle, 99))
        same.append(percentile(under, 99) / percentile(own_quiet, 99))
        cpu_attacked.append(one["cpu"][t] / one["seconds"])
        cpu_idle.append(one["cpu"][1 - t] / one["seconds"])

    def stats(samples):
        return {"p50": percentile(samples, 50), "p99": percentile(samples, 99),
                "max": max(samples), "requests": len(samples)}

    return {"attacked": stats(attacked), "idle": stats(beside), "quiet": stats(quiet),
            "paired_p99_ratios": paired, "paired_p99_ratio": statistics.median(paired),
            "same_server_p99_ratios": same, "same_server_p99_ratio": statistics.median(same),
            "cpu_attacked": statistics.median(cpu_attacked),
            "cpu_idle": statistics.median(cpu_idle)}


def slow_summary(records):
    """What happened to the slow connections: outcomes, and the time from each one's first byte
    to the server closing it."""
    outcomes = {}
    for r in records:
        outcomes[r[4]] = outcomes.get(r[4], 0) + 1
    lives = sorted(r[3] - r[1] for r in records if r[1] is not None and r[3] is not None)
    return {"connections": len(records), "outcomes": outcomes,
            "closed_min": lives[0] if lives else None,
            "closed_median": statistics.median(lives) if lives else None,
            "closed_max": lives[-1] if lives else None,
            "bytes_sent": sorted({r[5] for r in records})}


def large_response_size():
    """A response size the kernel cannot buffer whole: twice the largest send buffer TCP may
    grow to, plus room for the client's receive buffer."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem = 4 << 20
    return max(8 << 20, 2 * wmem)


def never_reading(server, clients, pipelined, write_timeout, size=None):
    """`clients` connections each send `pipelined` requests for a `size`-byte response and never
    read. Measures when the server closes each (a reset the client sees without reading), the
    server's descriptors and RSS before, during and after, and a normal client's requests while
    the writes are stuck."""
    size = size or large_response_size()
    pid = server.proc.pid
    fds_before, rss_before = settled_fds(pid), rss_kib(pid)
    request = f"GET /big?n={size} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    logged_before = log_count(server, WRITE_TIMEOUT_LOG)
    socks = []
    for _ in range(clients):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window: the server's writes stall on the send buffer, not on ours.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", server.port))
        s.sendall(request * pipelined)
        socks.append(s)
    sent = time.monotonic()
    time.sleep(min(1.0, write_timeout / 2))  # the responses are being written, and stall
    fds_during, rss_during = open_fds(pid), rss_kib(pid)
    normal = KeepAliveClient(server.port)
    try:
        others = [normal.request() for _ in range(50)]
    finally:
        normal.close()
    # POLLERR/POLLHUP come with the server's reset: no need to read our full receive buffer.
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLERR | select.POLLHUP)
    closed = {}
    deadline = sent + write_timeout + 10
    while len(closed) < clients and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            if fd not in closed:
                closed[fd] = time.monotonic() - sent
                poller.unregister(fd)
    released = wait_for_fds(pid, fds_before, 10)
    received, endings = [], []
    for s in socks:
        total, ending = 0, "open"
        s.setblocking(False)
        try:
            while True:
                data = s.recv(1 << 20)
                if not data:
                    ending = "eof"
                    break
                total += len(data)
        except BlockingIOError:
            ending = "open"
        except ConnectionResetError:
            ending = "reset"
        received.append(total)
        endings.append(ending)
        s.close()
    return {"clients": clients, "pipelined": pipelined, "size": size,
            "write_timeout": write_timeout,
            "closed_after": sorted(closed.values()), "unclosed": clients - len(closed),
            "endings": endings, "received": received,
            "fds_before": fds_before, "fds_during": fds_during, "fds_after": open_fds(pid),
            "fds_released_after": released,
            "rss_before": rss_before, "rss_during": rss_during, "rss_after": rss_kib(pid),
            "others_max": max(others), "others_median": statistics.median(others),
            "orphans": orphans_with_unsent_bytes(server.port),
            "timeouts_logged": log_count(server, WRITE_TIMEOUT_LOG, logged_before + clients)
            - logged_before}


def _open_and_ask(port, count):
    """`count` connections to `port`, each with one answered request, all kept open."""
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(PROBE)
            socks.append(s)
        statuses = {}
        for s in socks:
            status, _ = read_one_response(s, b"")
            statuses[status] = statuses.get(status, 0) + 1
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks, statuses


def hold_connections(server, count, cycles, warmup_cycles=2, settle=0.5):
    """Opens `count` connections (one request answered on each), holds them, closes them; first
    `warmup_cycles` times to warm the allocator, then `cycles` times measured. Returns the
    server's descriptors and RSS (KiB) at the start, after the warm-up, and during and after
    each cycle."""
    pid = server.proc.pid
    start_fds, start_rss = settled_fds(pid), rss_kib(pid)
    out = {"count": count, "start_fds": start_fds, "start_rss": start_rss, "warmup": [],
           "cycles": []}

    def cycle():
        began = time.monotonic()
        socks, statuses = _open_and_ask(server.port, count)
        opened = time.monotonic() - began
        fds_during, rss_during = open_fds(pid), rss_kib(pid)
        for s in socks:
            s.close()
        released = wait_for_fds(pid, start_fds, 15)
        time.sleep(settle)
        return {"statuses": statuses, "open_seconds": opened, "fds_during": fds_during,
                "rss_during": rss_during, "released_after": released,
                "fds_after": open_fds(pid), "rss_after": rss_kib(pid)}

    for _ in range(warmup_cycles):
        out["warmup"].append(cycle())
    out["base_fds"], out["base_rss"] = settled_fds(pid), rss_kib(pid)
    for _ in range(cycles):
        out["cycles"].append(cycle())
    return out


def out_of_descriptors(server, spare, extra, watch=2.0):
    """Lowers the server's open-file limit to what it uses plus `spare`, then opens `spare` +
    `extra` connections with a request each: `extra` of them cannot be accepted. Measures the
    server's CPU and log lines while they wait, then closes answered connections until every
    one has been answered."""
    pid = server.proc.pid
    base = settled_fds(pid)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (base + spare, base + spare))
    logged_before = log_count(server, ACCEPT_FAILED_LOG)
    pending = []
    for _ in range(spare + extra):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(PROBE)
        pending.append(s)
    time.sleep(0.2)
    cpu_before = cpu_seconds(pid)
    time.sleep(watch)
    cpu = cpu_seconds(pid) - cpu_before
    logged = log_count(server, ACCEPT_FAILED_LOG) - logged_before
    sel = selectors.DefaultSelector()
    for s in pending:
        sel.register(s, selectors.EVENT_READ)
    answered, began = 0, time.monotonic()
    while answered < len(pending) and time.monotonic() - began < 30:
        events = sel.select(5)
        if not events:
            break
        for key, _ in events:
            s = key.fileobj
            s.setblocking(True)
            status, _ = read_one_response(s, b"")
            if status != 200:
                raise AssertionError(f"a connection waiting for a descriptor got {status}")
            sel.unregister(s)
            s.close()  # frees a descriptor in the server for the next one waiting
            answered += 1
    sel.close()
    for s in pending:
        s.close()
    recovery = time.monotonic() - began
    return {"spare": spare, "extra": extra, "watch": watch, "cpu_seconds": cpu,
            "accept_failures_logged": logged, "answered": answered,
            "recovery_seconds": recovery, "fds_after": settled_fds(pid), "base_fds": base}
