"""An `async def` handler that awaits for an hour, for the tests of timeouts, cancellation and
shutdown (tests/data/handlers.py and leak_handlers.py each make their own)."""

import asyncio


def counted_hour_wait():
    """A new handler that awaits for an hour; on `/active` it answers how many of its calls are
    still awaiting (a call cancelled by its timeout or its caller no longer counts)."""
    waiting = 0

    async def waits_an_hour(method, path, params, query, headers, body):
        nonlocal waiting
        if path == "/active":
            return 200, str(waiting), None
        waiting += 1
        try:
            await asyncio.sleep(3600)
        finally:
            waiting -= 1

    return waits_an_hour
