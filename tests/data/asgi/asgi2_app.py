"""An ASGI 2 application (a double callable: a class made with the scope, then awaited with
receive and send), which httpy wraps as uvicorn does."""


class App:
    def __init__(self, scope):
        assert scope["type"] in ("http", "lifespan")
        self.scope = scope

    async def __call__(self, receive, send):
        if self.scope["type"] == "lifespan":
            raise ValueError("no lifespan here")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"asgi2 " + self.scope["path"].encode()})
