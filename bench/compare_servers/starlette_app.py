"""bench/compare_asgi's handlers as a Starlette app, written as a Starlette user would: the same
two routes and answers as asgi_app.py. `hello` counts and answers `request #N` with
`X-Test: 1`; `echo` returns the parsed query (a dict of lists) and the `X-Name` header as JSON."""

import itertools

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

_requests = itertools.count(1)


async def hello(request):
    return PlainTextResponse(f"request #{next(_requests)}", headers={"X-Test": "1"})


async def echo(request):
    query = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    return JSONResponse({"query": query, "name": request.headers.get("x-name")})


app = Starlette(routes=[Route("/hello", hello), Route("/echo", echo)])
