"""The app of tests/e2e/test_drain.py: handlers that are still running at a drain deadline in
each way a handler can keep running (a sync sleep, a coroutine that swallows its cancellation, a
C call holding the GIL), and a way to make the worker ignore SIGTERM. Each handler prints a line
when it starts, so a test knows the request is in its handler before it sends a signal. The path
picks the behaviour; `seconds` says how long, `tag` names the line."""

import asyncio
import ctypes
import os
import sys
import time

# Loaded with the module, so that /hold-gil goes straight into C with the GIL held.
_libc_holding_the_gil = ctypes.PyDLL(None)  # PyDLL: calls do not release the GIL
_libc = ctypes.CDLL(None)


def _started(tag):
    print(f"drain_app: {tag} started", file=sys.stderr, flush=True)


async def _ignore_cancellation(tag):
    _started(tag)
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass


def go_request(method, path, params, query, headers, body):
    seconds = float(query.get("seconds", ["0"])[0])
    tag = query.get("tag", [path.strip("/")])[0]
    if path == "/sleep":
        _started(tag)
        time.sleep(seconds)
        return 200, f"slept {seconds}", None
    if path == "/hold-gil":
        _started(tag)
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:  # again when a signal cut usleep short
            _libc_holding_the_gil.usleep(int(left * 1_000_000))
        return 200, "held the GIL", None
    if path == "/async-ignore-cancel":
        return _ignore_cancellation(tag)  # a coroutine: awaited on the event loop
    if path == "/ignore-sigterm":
        _libc.signal(15, ctypes.c_void_p(1))  # SIG_IGN, from a handler thread
        return 200, f"{os.getpid()} ignores SIGTERM", None
    return 200, f"{os.getpid()}", None
