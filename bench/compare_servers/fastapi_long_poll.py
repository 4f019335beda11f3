"""A FastAPI long-poll for bench/long_poll: `/wait?seconds=S` answers after `await
asyncio.sleep(S)`, as a request that waits for news does."""

import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.get("/wait")
async def wait(seconds: float = 0.0):
    await asyncio.sleep(seconds)
    return {"waited": seconds}
