"""A small FastAPI application served by httpy's ASGI interface:

    httpy serve examples/fastapi_app.py:app --venv venvs/test

`app` is told apart from a go_request handler or a WSGI app by its type (and its async
`__call__`). Its lifespan runs before the port serves and after the drain.
"""

import asyncio
import contextlib

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"started": "by the lifespan"}


app = FastAPI(lifespan=lifespan)


class Note(BaseModel):
    text: str
    tags: list[str] = []


@app.get("/")
async def index():
    return {"message": "Hello from FastAPI on httpy!"}


@app.get("/hello/{name}")
async def hello(name: str, polite: bool = False):
    return {"greeting": f"{'Dear ' if polite else 'Hello, '}{name}!"}


@app.post("/notes")
async def create(note: Note):
    return {"saved": note.model_dump()}


@app.get("/ticks")
async def ticks(count: int = 3):
    async def generate():
        for i in range(count):
            yield f"tick {i}\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(generate(), media_type="text/plain")
