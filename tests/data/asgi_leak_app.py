"""An ASGI application with one path per way a response can go (tests/runtime/leak_test.cpp)."""

import asyncio
import os

THIS_FILE = os.path.abspath(__file__)


async def read_body(receive):
    body = b""
    while True:
        message = await receive()
        body += message["body"]
        if not message.get("more_body"):
            return body


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        scope["state"]["ready"] = True
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    body = await read_body(receive)
    start = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"application/octet-stream"),
                         (b"x-path", path.encode())]}
    if path == "/whole":
        await send(start)
        await send({"type": "http.response.body", "body": body})
    elif path == "/stream" or path == "/dropped":
        await send(start)
        for part in (b"one", b"two", body):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/raise-before":
        raise RuntimeError("fails before responding")
    elif path == "/raise-after":
        await send(start)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("fails half-way")
    elif path == "/nothing":
        return
    elif path == "/bad-header":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-bad", b"a\r\nb")]})
    elif path == "/pathsend":
        await send(start)
        await send({"type": "http.response.pathsend", "path": THIS_FILE})
    elif path == "/disconnect":
        await send(start)
        await send({"type": "http.response.body", "body": body})
        message = await receive()  # returns at once: the response is complete
        assert message["type"] == "http.disconnect"
    elif path == "/client-left":  # before responding: receive() returns once it is told
        message = await receive()
        await send(start)
        await send({"type": "http.response.body", "body": message["type"].encode()})
    elif path == "/task":
        async def later():
            await asyncio.sleep(0)
        await asyncio.ensure_future(later())
        await send(start)
        await send({"type": "http.response.body", "body": body + str(scope["state"]).encode()})
