"""Coroutines that misbehave, for tests/e2e/test_faults.py: one blocks the event loop with
time.sleep, one swallows every cancellation. Each must still get its 504 at the handler timeout
and the server must still stop within its drain deadline. The path picks the fault."""

import asyncio
import time


async def go_request(method, path, params, query, headers, body):
    if path == "/block":
        time.sleep(float(query["seconds"][0]))
        return 200, "slept in a coroutine", None
    if path == "/ignore-cancel":
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass
    await asyncio.sleep(0)
    return 200, "alive", None
