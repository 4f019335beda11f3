"""bench/compare_asgi's handlers as a FastAPI app, written as a FastAPI user would: the same two
routes and answers as asgi_app.py. `hello` counts and answers `request #N` with `X-Test: 1`;
`echo` returns the parsed query (a dict of lists) and the `X-Name` header as JSON."""

import itertools

from fastapi import FastAPI, Header, Request
from fastapi.responses import PlainTextResponse

_requests = itertools.count(1)

app = FastAPI()


@app.get("/hello", response_class=PlainTextResponse)
async def hello():
    return PlainTextResponse(f"request #{next(_requests)}", headers={"X-Test": "1"})


@app.get("/echo")
async def echo(request: Request, x_name: str | None = Header(default=None)):
    query = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    return {"query": query, "name": x_name}
