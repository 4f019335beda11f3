"""Example: an `async def` handler. Many requests can wait at once on httpy's event loop.

Serve it with `httpy serve examples/async_worker.py`; try
`curl -i 'localhost:8080/wait?seconds=0.5'` from several shells at once.
"""

import asyncio


def go_init():
    return {"/wait": ["GET"], "/hello/:target": ["GET"]}


async def go_request(method, path, params, query, headers, body):
    """Waits without holding a thread, then answers."""
    if path == "/wait":
        seconds = float(query.get("seconds", ["0.1"])[0])
        await asyncio.sleep(seconds)
        return 200, f"waited {seconds} s", {"Content-Type": "text/plain"}
    target = params["target"][0]
    return 200, f"hello, {target}", {"Content-Type": "text/plain"}
