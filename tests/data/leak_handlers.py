"""Handlers for tests/runtime/leak_test.cpp: every path a request can take through httpy.

The path picks the variant, so one handler covers a family of outcomes. Nothing here keeps
a reference to a request's objects between calls (except timeout_spin.interrupted, an int).
"""

import asyncio
import time

from hour_wait import counted_hour_wait
import timeout_spin


def echo(method, path, params, query, headers, body):
    """Answers the body and every params/query/headers value as response headers."""
    out = {"X-Method": method, "X-Path": path}
    for prefix, values in (("X-Param-", params), ("X-Query-", query), ("X-Header-", headers)):
        for name, items in values.items():
            out[prefix + name] = items
    return 200, body, out


async def async_echo(method, path, params, query, headers, body):
    await asyncio.sleep(0)
    return echo(method, path, params, query, headers, body)


async def async_stream(method, path, params, query, headers, body):
    """The body as an async generator: a str chunk, an empty one (skipped), then the body."""

    async def chunks():
        yield "one"
        await asyncio.sleep(0)
        yield b""
        yield body

    return 200, chunks(), {"X-Path": path}


class _StrRaises(Exception):
    def __str__(self):
        raise RuntimeError("str() of the exception failed too")


def raises(method, path, params, query, headers, body):
    if path == "/chained":
        try:
            {}["missing"]
        except KeyError as e:
            raise ValueError("failed while handling " + body) from e
    if path == "/unprintable":
        raise _StrRaises()
    if path == "/recursion":
        return raises(method, path, params, query, headers, body)
    if path == "/memory":
        bytearray(1 << 60)  # MemoryError: the allocation fails
    if path == "/exit":
        raise SystemExit(3)
    if path == "/interrupt":
        raise KeyboardInterrupt
    raise ValueError("handler failed on purpose: " + body)


async def async_raises(method, path, params, query, headers, body):
    await asyncio.sleep(0)
    raise RuntimeError("coroutine failed on purpose")


class _BadSequence:
    """A 3-item sequence whose items cannot be read."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        raise IndexError(f"item {i} is not there")


class _BadLength:
    def __len__(self):
        raise OverflowError("no length today")

    def __getitem__(self, i):
        return 200


def _wrong_shapes():
    return {
        "/int-header": lambda: (200, "body", {"X-Test": [1]}),
        "/crlf-header": lambda: (200, "body", {"X-Test": ["a\r\nInjected: 1"]}),
        "/nul-header": lambda: (200, "body", {"X-Test": "a\0b"}),
        "/surrogate-header": lambda: (200, "body", {"X-Test": "\ud800"}),
        "/bad-name": lambda: (200, "body", {"Bad Name\r\n": "x"}),
        "/int-name": lambda: (200, "body", {1: "x"}),
        "/header-dict": lambda: (200, "body", {"X-Test": {"a": "b"}}),
        "/headers-list": lambda: (200, "body", [("X-Test", "b")]),
        "/generator": lambda: (item for item in (200, "body", None)),
        "/short-tuple": lambda: (200, "body"),
        "/bool-status": lambda: (True, "body", None),
        "/huge-status": lambda: (10**30, "body", None),
        "/body-type": lambda: (200, 12345, None),
        "/surrogate-body": lambda: (200, "\ud800", None),
        "/bad-sequence": lambda: _BadSequence(),
        "/bad-length": lambda: _BadLength(),
        "/none": lambda: None,
        # Over the test's response limit (2048 bytes): as bytes, and as a str of 1,500
        # characters whose UTF-8 is 3,000 bytes (refused after encoding).
        "/over-limit-bytes": lambda: (200, b"x" * 4096, None),
        "/over-limit-str": lambda: (200, "\u00e9" * 1500, None),
    }


WRONG_SHAPES = _wrong_shapes()


def wrong_shape(method, path, params, query, headers, body):
    """Returns the wrong result named by the path, e.g. `/generator`."""
    return WRONG_SHAPES[path]()


def binary_body(method, path, params, query, headers, body):
    """Answers the body as bytes, bytearray or (strided) memoryview, per the path."""
    data = body.encode("utf-8", "surrogateescape")
    if path == "/bytes":
        return 200, data, None
    if path == "/bytearray":
        return 200, bytearray(data), {}
    if path == "/memoryview":
        return 200, memoryview(data), {"X-Kind": "memoryview"}
    if path == "/strided":
        return 200, memoryview(data)[::2], {"X-Kind": ["strided"]}
    return 404, b"", None


def spin(method, path, params, query, headers, body):
    """`/count` answers how often TimeoutError stopped a spin; any other path spins for up to
    a second."""
    if path == "/count":
        return 200, str(timeout_spin.interrupted), None
    timeout_spin.spin(at_most=1.0)
    return 200, "not interrupted", None


# `/active` answers how many calls are still waiting; any other path waits an hour.
async_forever = counted_hour_wait()


def sleepy(method, path, params, query, headers, body):
    time.sleep(float(query["seconds"][0]))
    return 200, "slept", None
