"""A FastAPI application for tests/e2e/test_fastapi.py: pydantic validation (422), dependencies,
an async def and a plain def endpoint (the latter in FastAPI's thread pool), and a long poll."""

import asyncio
import threading

from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


def token(x_token: str = Header(...)):
    return x_token.upper()


@app.get("/hello")
async def hello():
    return {"message": "Hello, World!"}


@app.post("/items")
async def create(item: Item, who: str = Depends(token)):
    return {"item": item.model_dump(), "by": who}


@app.get("/items/{item_id}")
async def read(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.get("/sync")
def sync_endpoint():
    return {"thread": threading.current_thread().name,
            "main": threading.current_thread() is threading.main_thread()}


@app.get("/poll")
async def poll(seconds: float = 1.0):
    await asyncio.sleep(seconds)
    return {"waited": seconds}
