"""An `async def go_request` whose bodies are async generators, for tests/e2e/test_go_streaming.py:
the same paths and chunks as serve_app.py's generator routes, produced with `await` between
them."""

import asyncio

_closed = 0


async def go_request(method, path, params, query, headers, body):
    if path == "/generator":
        return 200, _chunks(int(query["n"][0]), float(query.get("delay", ["0"])[0])), None
    if path == "/generator-raise":
        return 200, _chunks(2, 0, then_raise=True), None
    if path == "/generator-count":
        return 200, str(_closed), None
    return 200, path, None


async def _chunks(n, delay, then_raise=False):
    """str and bytes chunks alternating, an empty one between (skipped); counts its closing."""
    global _closed
    try:
        for i in range(n):
            yield f"chunk {i}\n" if i % 2 == 0 else f"chunk {i}\n".encode()
            yield b""
            await asyncio.sleep(delay)
        if then_raise:
            raise RuntimeError("the body generator failed")
    finally:
        _closed += 1
