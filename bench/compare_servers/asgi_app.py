"""bench/compare's handlers as a raw ASGI app (no framework), for uvicorn: the same work as
httpy_app.py, plus parsing the query and finding the header, which ASGI leaves to the app."""

import itertools
import json
from urllib.parse import parse_qs

_requests = itertools.count(1)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/hello":
        body = f"request #{next(_requests)}".encode()
        headers = [(b"x-test", b"1"), (b"content-length", str(len(body)).encode())]
    elif path == "/echo":
        name = None
        for key, value in scope["headers"]:
            if key == b"x-name":
                name = value.decode("latin-1")
                break
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        body = json.dumps({"query": query, "name": name}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
    else:
        body, headers = b"", [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
