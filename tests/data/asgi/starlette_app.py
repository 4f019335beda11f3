"""A Starlette application for tests/e2e/test_starlette.py: routing with path parameters,
lifespan with state, JSON, forms and multipart uploads, request.stream(), server-sent events,
FileResponse (through http.response.pathsend), a background task, exception handlers and
middleware."""

import asyncio
import contextlib
import hashlib
import os
import sys

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

HERE = os.path.dirname(os.path.abspath(__file__))
done = {}


@contextlib.asynccontextmanager
async def lifespan(app):
    print("starlette_app: startup", file=sys.stderr, flush=True)
    yield {"greeting": "hello from the lifespan"}
    print("starlette_app: shutdown", file=sys.stderr, flush=True)


async def hello(request):
    return PlainTextResponse("Hello, World!")


async def user(request):
    return JSONResponse({"id": request.path_params["user_id"], "q": dict(request.query_params),
                         "greeting": request.state.greeting})


async def echo_json(request):
    return JSONResponse({"got": await request.json()})


async def form(request):
    async with request.form() as data:
        fields = {}
        for key, value in data.multi_items():
            if hasattr(value, "read"):
                content = await value.read()
                fields[key] = {"filename": value.filename, "size": len(content),
                               "sha256": hashlib.sha256(content).hexdigest()}
            else:
                fields[key] = value
    return JSONResponse(fields)


async def stream_upload(request):
    parts, size, digest = 0, 0, hashlib.sha256()
    async for chunk in request.stream():
        if chunk:
            parts += 1
            size += len(chunk)
            digest.update(chunk)
    return JSONResponse({"parts": parts, "size": size, "sha256": digest.hexdigest()})


async def events(request):
    count = int(request.query_params.get("n", "3"))
    interval = float(request.query_params.get("every", "1"))

    async def generate():
        for i in range(count):
            yield f"data: event {i}\n\n"
            await asyncio.sleep(interval)

    return StreamingResponse(generate(), media_type="text/event-stream")


async def file(request):
    return FileResponse(os.path.join(HERE, "starlette_app.py"))


async def background(request):
    async def later():
        await asyncio.sleep(0.2)
        done["background"] = True

    return PlainTextResponse("queued", background=BackgroundTask(later))


async def status(request):
    return JSONResponse(done)


async def teapot(request):
    raise HTTPException(status_code=418, detail="I'm a teapot")


async def crash(request):
    raise ZeroDivisionError("starlette_app /crash")


async def handle_teapot(request, exc):
    return JSONResponse({"handled": exc.detail}, status_code=exc.status_code)


class Stamp(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers["X-Stamp"] = "middleware"
        return response


app = Starlette(
    routes=[
        Route("/hello", hello),
        Route("/users/{user_id:int}", user),
        Route("/json", echo_json, methods=["POST"]),
        Route("/form", form, methods=["POST"]),
        Route("/upload", stream_upload, methods=["POST"]),
        Route("/events", events),
        Route("/file", file),
        Route("/background", background),
        Route("/status", status),
        Route("/teapot", teapot),
        Route("/crash", crash),
        Mount("/sub", routes=[Route("/hello", hello)]),
    ],
    lifespan=lifespan,
    middleware=[Middleware(Stamp)],
    exception_handlers={418: handle_teapot},
)
