"""The ASGI apps' own cost, with no server: each app of bench/compare_servers called in-process
on one asyncio loop with the hello request's scope, receive() giving the empty body and send()
taking the messages, every call awaited in its own asyncio Task as a server does. Prints one
JSON object, {module: CPU µs per request}: what bench/compare_asgi subtracts from each server's
CPU per request to give the server's own overhead.

Run with the interpreter that serves the apps (the benchmark venv's):
  venvs/bench/bin/python bench/asgi_app_cost.py [--requests N] MODULE...
"""

import argparse
import asyncio
import importlib
import json
import os
import sys
import time

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_servers")


def hello_scope():
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": "/hello", "raw_path": b"/hello",
        "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk")],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}


async def one(app, sent):
    async def send(message):
        sent.append(message)

    await app(hello_scope(), receive, send)


async def measure(app, requests):
    loop = asyncio.get_running_loop()
    sent = []
    for _ in range(200):  # warm-up: imports, caches
        await loop.create_task(one(app, sent))
    if not sent or sent[0].get("status") != 200:
        raise SystemExit(f"the app did not answer 200: {sent[:1]!r}")
    start = time.process_time()
    for _ in range(requests):
        sent.clear()
        await loop.create_task(one(app, sent))
    return (time.process_time() - start) / requests * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("modules", nargs="+")
    args = parser.parse_args()
    sys.path.insert(0, APPS)
    costs = {}
    for module in args.modules:
        app = importlib.import_module(module).app
        costs[module] = round(asyncio.run(measure(app, args.requests)), 2)
    print(json.dumps(costs))


if __name__ == "__main__":
    main()
