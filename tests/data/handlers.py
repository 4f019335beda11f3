"""Handlers the C++ tests call through the executor: one behaviour per function."""

import asyncio
import ctypes
import threading
import time

from hour_wait import counted_hour_wait
import timeout_spin

calls = 0


def echo(method, path, params, query, headers, body):
    global calls
    calls += 1
    return 200, body, {"X-Method": method, "X-Path": path}


def sleepy(method, path, params, query, headers, body):
    time.sleep(float(query["seconds"][0]))
    return 200, "slept", None


async def async_sleepy(method, path, params, query, headers, body):
    await asyncio.sleep(float(query["seconds"][0]))
    return 200, "awaited", {}


def raises(method, path, params, query, headers, body):
    raise ValueError("handler failed on purpose")


def system_exit(method, path, params, query, headers, body):
    raise SystemExit(3)


def keyboard_interrupt(method, path, params, query, headers, body):
    raise KeyboardInterrupt


def wrong_shape(method, path, params, query, headers, body):
    return 200, "body", {"X-Test": [1]}


def spin(method, path, params, query, headers, body):
    while True:
        pass


def spin_or_count(method, path, params, query, headers, body):
    """`/count` answers how often TimeoutError interrupted a spin; any other path spins."""
    if path == "/count":
        return 200, str(timeout_spin.interrupted), None
    timeout_spin.spin()


async def async_raises(method, path, params, query, headers, body):
    await asyncio.sleep(0)
    raise RuntimeError("coroutine failed on purpose")


async def async_forever(method, path, params, query, headers, body):
    await asyncio.sleep(3600)


# A module-level thread that must keep running between requests (the GIL is free while idle).
ticks = 0


def _tick():
    global ticks
    while True:
        ticks += 1
        time.sleep(0.01)


threading.Thread(target=_tick, daemon=True).start()


def read_ticks(method, path, params, query, headers, body):
    return 200, str(ticks), None


def init_routes():
    return {"/": ["GET"], "/hello/:target": ["GET", "POST"]}


def init_inverted():
    return {"GET": ["/", "/ping"], "POST": ["/hello/:target"]}


def init_bad_value():
    return {"/": "GET"}


def init_bad_method():
    return {"/": ["FETCH"]}


def init_raises():
    raise RuntimeError("init failed on purpose")


def reflect(method, path, params, query, headers, body):
    """Answers with every argument as JSON and the body bytes in X-Body-Hex."""
    import json

    raw = body.encode("utf-8", "surrogateescape")
    doc = {"method": method, "path": path, "params": params, "query": query, "headers": headers}
    return 200, json.dumps(doc, sort_keys=True), {"X-Body-Hex": raw.hex()}


def raw_body(method, path, params, query, headers, body):
    """Answers with the request body unchanged."""
    return 200, body, None


class _Ready:
    """An awaitable that is not a coroutine."""

    def __await__(self):
        if False:
            yield
        return 200, "awaited object", None


def returns_awaitable(method, path, params, query, headers, body):
    return _Ready()


async def async_own_timeout(method, path, params, query, headers, body):
    raise TimeoutError("an upstream call timed out")


def thread_ident(method, path, params, query, headers, body):
    """Answers the ident of the thread the handler ran on; sleeps first when asked."""
    time.sleep(float(query.get("seconds", ["0"])[0]))
    return 200, str(threading.get_ident()), None


def body_type(method, path, params, query, headers, body):
    return 200, type(body).__name__, None


def wrong_length(method, path, params, query, headers, body):
    return 200, "four", {"Content-Length": ["999"]}


counted_calls = 0


def counted(method, path, params, query, headers, body):
    """`/count` answers how many other calls ran; `/sleep` sleeps first; any other path counts."""
    global counted_calls
    if path == "/count":
        return 200, str(counted_calls), None
    if path == "/sleep":
        time.sleep(float(query["seconds"][0]))
        return 200, "slept", None
    counted_calls += 1
    return 200, "counted", None


async def async_blocks_loop(method, path, params, query, headers, body):
    """A coroutine that blocks its event loop: time.sleep instead of asyncio.sleep."""
    time.sleep(float(query["seconds"][0]))
    return 200, "slept in a coroutine", None


ignored_cancellations = 0


async def async_ignores_cancel(method, path, params, query, headers, body):
    """Swallows every CancelledError and keeps awaiting: cancelling it never ends it."""
    global ignored_cancellations
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ignored_cancellations += 1


# Loaded with the module, so that a call goes straight into C with the GIL held (a first call
# importing ctypes would run bytecode, and let other threads take the GIL, first).
_libc_holding_the_gil = ctypes.PyDLL(None)  # PyDLL: calls do not release the GIL


def hold_gil(method, path, params, query, headers, body):
    """A C call that holds the GIL throughout: usleep through ctypes.PyDLL."""
    _libc_holding_the_gil.usleep(int(float(query["seconds"][0]) * 1_000_000))
    return 200, "held", None


# Awaits for an hour; `/active` answers how many such calls are still awaiting.
async_waits = counted_hour_wait()


async def async_by_path(method, path, params, query, headers, body):
    """`/block` blocks the event loop (time.sleep); any other path is `async_waits`."""
    if path == "/block":
        time.sleep(float(query["seconds"][0]))
        return 200, "blocked", None
    return await async_waits(method, path, params, query, headers, body)
