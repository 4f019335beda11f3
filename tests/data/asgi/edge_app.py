"""A raw ASGI 3 application (no framework) for the spec's corners, served by
tests/e2e/test_asgi.py. What a test cannot see over the wire (what receive() returned after the
body, what send() raised after the client left) is recorded and read back from /recorded.

EDGE_LIFESPAN picks how it answers the lifespan scope: complete (the default; puts
{"started": True} into the state), failed, raise, return, hang. EDGE_HIDE_UVLOOP=1 makes
`import uvloop` fail from here on, as if it were not installed."""

import asyncio
import hashlib
import json
import os
import sys
import time

if os.environ.get("EDGE_HIDE_UVLOOP"):
    sys.modules["uvloop"] = None  # an import of it now raises ImportError

recorded = {}
background_release = asyncio.Event()  # binds to the serving loop on first use
HERE = os.path.dirname(os.path.abspath(__file__))


async def lifespan(scope, receive, send):
    how = os.environ.get("EDGE_LIFESPAN", "complete")
    if how == "raise":
        raise ValueError("edge_app does not do lifespan")
    if how == "return":
        return
    message = await receive()
    assert message["type"] == "lifespan.startup"
    if how == "hang":
        await asyncio.sleep(3600)
    if how == "failed":
        await send({"type": "lifespan.startup.failed", "message": "edge_app refuses to start"})
        return
    scope["state"]["started"] = True
    await send({"type": "lifespan.startup.complete"})
    message = await receive()
    assert message["type"] == "lifespan.shutdown"
    print("edge_app: lifespan shutdown ran", file=sys.stderr, flush=True)
    await send({"type": "lifespan.shutdown.complete"})


def text(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {k: text(v) for k, v in value.items()}
    return value


async def respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), *headers]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    events, flags, data = 0, [], hashlib.sha256()
    length = 0
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        events += 1
        flags.append(message.get("more_body", False))
        data.update(message["body"])
        length += len(message["body"])
        if not message.get("more_body", False):
            return {"events": events, "more_body": flags, "length": length,
                    "sha256": data.hexdigest()}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    assert scope["type"] == "http"
    path = scope["path"]
    root = scope["root_path"]
    if root and path.startswith(root):
        path = path[len(root):]

    if path == "/hello":
        return await respond(send, 200, b"Hello, World!")

    if path.startswith("/scope"):
        described = {k: text(v) for k, v in scope.items() if k not in ("state", "extensions")}
        described["client_port_type"] = type(scope["client"][1]).__name__
        described["server_port_type"] = type(scope["server"][1]).__name__
        described["state"] = dict(scope["state"]) if "state" in scope else None
        described["extensions"] = sorted(scope.get("extensions", {}))
        described["headers_type"] = [type(scope["headers"]).__name__] + [
            type(name).__name__ for name, _ in scope["headers"][:1]]
        if "state" in scope:
            scope["state"]["touched"] = True  # a copy: the next request must not see it
        return await respond(send, 200, json.dumps(described).encode())

    if path == "/body":
        return await respond(send, 200, json.dumps(await read_body(receive)).encode())

    if path == "/wait-disconnect":
        await read_body(receive)
        started = time.monotonic()

        async def listen():
            message = await receive()
            recorded["after_body"] = [message["type"], time.monotonic() - started]

        listener = asyncio.ensure_future(listen())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await asyncio.sleep(0.2)
            await send({"type": "http.response.body", "body": b"part %d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b"end\n"})
        await listener
        return

    if path == "/long-poll":
        # Waits for the client to leave before answering (a long-poll that listens).
        await read_body(receive)
        started = time.monotonic()
        message = await receive()
        left = [message["type"], time.monotonic() - started]
        try:
            await respond(send, 200, b"too late")
            left.append("sent")
        except OSError as e:
            left.append(type(e).__name__)
        recorded[scope["query_string"].decode() or "long_poll"] = left
        return

    if path == "/until-gone":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        sent = 0
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
                sent += 1
                await asyncio.sleep(0.01)
        except BaseException as e:
            recorded["until_gone"] = [type(e).__name__, sent]
            raise

    if path == "/flood":
        # As fast as send() lets it: backpressure is all that holds it back.
        await send({"type": "http.response.start", "status": 200, "headers": []})
        recorded["flood"] = 0
        chunk = b"y" * 65536
        while True:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            recorded["flood"] += len(chunk)

    if path == "/stream":
        query = dict(p.split(b"=") for p in scope["query_string"].split(b"&") if b"=" in p)
        parts = int(query.get(b"n", b"3"))
        headers = []
        if b"length" in query:
            headers.append((b"content-length", str(parts * 6).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i in range(parts):
            await send({"type": "http.response.body", "body": b"chunk%d" % (i % 10),
                        "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return

    if path == "/repeats":
        cookies = [v for k, v in scope["headers"] if k == b"x-repeat"]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"),
                                (b"x-seen", b",".join(cookies))]})
        await send({"type": "http.response.body", "body": b"ok"})
        return

    if path == "/pathsend":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/x-python")]})
        await send({"type": "http.response.pathsend", "path": os.path.join(HERE, "edge_app.py")})
        return

    if path == "/nothing":
        return
    if path == "/start-only":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        return
    if path == "/body-first":
        await send({"type": "http.response.body", "body": b"too soon"})
        return
    if path == "/raise":
        raise RuntimeError("edge_app /raise fails before responding")
    if path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("edge_app /raise-after-start fails half-way")
    if path == "/bad-header":
        return await respond(send, 200, b"no", [(b"x-evil", b"a\r\nx-injected: 1")])
    if path == "/bad-status":
        await send({"type": "http.response.start", "status": "200", "headers": []})
        await send({"type": "http.response.body", "body": b"no"})
        return
    if path == "/str-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": "a str"})
        return
    if path == "/twice":
        await respond(send, 200, b"first")
        try:
            await send({"type": "http.response.body", "body": b"again"})
        except RuntimeError as e:
            recorded["twice"] = str(e)
        return

    if path == "/sleep":
        await asyncio.sleep(0.5)
        return await respond(send, 200, b"slept")

    if path == "/slow-start":
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            recorded["slow_start"] = "cancelled"
            raise

    if path == "/stall":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            recorded["stall"] = "cancelled"
            raise

    if path == "/background":  # answers, then goes on until /release lets it finish
        await respond(send, 200, b"answered")
        await background_release.wait()
        recorded["background"] = "ran after the response"
        return

    if path == "/release":
        background_release.set()
        return await respond(send, 200, b"released")

    if path == "/loop":  # whose event loop runs this: "uvloop" or "asyncio"
        module = type(asyncio.get_running_loop()).__module__
        return await respond(send, 200, module.partition(".")[0].encode())

    if path == "/recorded":
        return await respond(send, 200, json.dumps(recorded).encode())

    return await respond(send, 404, b"not found")
