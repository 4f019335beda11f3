#include "runtime/asgi_support.hpp"

#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace httpy::detail {

namespace {

// One request's receive and send, and the lifespan protocol. Everything here runs on the
// executor's event loop, except Exchange.close (the server dropped the response: any thread),
// which hands itself to the loop.
constexpr const char* asgi_source = R"(
import asyncio
import inspect
import traceback

# A streamed response holds at most this much for a slow client before send() waits.
WINDOW = 64 * 1024
# A spooled request body reaches the application in parts of this size.
READ = 64 * 1024


def _wake(future):
    if future is not None and not future.done():
        future.set_result(None)


class Exchange:
    __slots__ = ("_respond", "_body", "_spool", "_loop", "_cancel_after", "_log", "_status",
                 "_headers", "_responded", "_done", "_closed", "_error", "_chunks", "_buffered",
                 "_more", "_drained", "_gone", "_left", "_task", "_method", "_path")

    def __init__(self, respond, body, spool, loop, cancel_after, log):
        self._respond = respond
        self._body = body
        self._spool = spool
        self._loop = loop
        self._cancel_after = cancel_after
        self._log = log
        self._status = None
        self._headers = None
        self._responded = False  # the call is answered: the head (and a first body) went out
        self._done = False       # the last body message came
        self._closed = False     # the response can no longer be delivered
        self._left = False       # the client closed the connection (or its sending side)
        self._error = None       # why a streamed body stops short
        self._chunks = []
        self._buffered = 0
        self._more = None        # next_chunk waits on it
        self._drained = None     # send waits on it while WINDOW is full
        self._gone = None        # receive waits on it once the body is read
        self._task = None

    async def receive(self):
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        if self._spool is not None:
            body = self._spool.read(READ)
            more = len(body) == READ
            if not more:
                self._spool.close()
                self._spool = None
            return {"type": "http.request", "body": body, "more_body": more}
        while not (self._done or self._closed or self._left):
            if self._gone is None or self._gone.done():
                self._gone = self._loop.create_future()
            await self._gone
        return {"type": "http.disconnect"}

    async def send(self, message):
        if self._closed:
            raise OSError("the client has gone: the response can no longer be delivered")
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise RuntimeError(f"ASGI send: a message without a 'type': {message!r:.200}") from None
        if self._status is None:
            if kind != "http.response.start":
                raise RuntimeError(f"ASGI send: expected 'http.response.start', got {kind!r}")
            self._status = message.get("status")
            self._headers = message.get("headers")
            return
        if self._done:
            raise RuntimeError(f"ASGI send: {kind!r} after the response was complete")
        if kind == "http.response.body":
            body = message.get("body", b"")
            more = bool(message.get("more_body", False))
            if not self._responded:
                self._respond(self, self._status, self._headers, body, more, None)
                self._responded = True
                if not more:
                    self._complete()
                return
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise TypeError(f"ASGI send: http.response.body body of type "
                                f"{type(body).__name__}; expected bytes")
            if body:
                self._chunks.append(bytes(body))
                self._buffered += len(body)
                _wake(self._more)
            if not more:
                self._complete()
                return
            while self._buffered > WINDOW and not self._closed:
                self._drained = self._loop.create_future()
                await self._drained
            if self._closed:
                raise OSError("the client has gone: the response can no longer be delivered")
        elif kind == "http.response.pathsend":
            if self._responded:
                raise RuntimeError("ASGI send: 'http.response.pathsend' after the body started")
            self._respond(self, self._status, self._headers, b"", False, message.get("path"))
            self._responded = True
            self._complete()
        else:
            raise RuntimeError(f"ASGI send: unexpected {kind!r} after 'http.response.start'")

    def _complete(self):
        self._done = True
        _wake(self._more)
        _wake(self._gone)

    async def next_chunk(self):
        while not (self._chunks or self._done or self._closed or self._error):
            self._more = self._loop.create_future()
            await self._more
        if self._chunks:
            chunks = self._chunks
            self._chunks = []
            self._buffered = 0
            _wake(self._drained)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self._error:
            raise RuntimeError(self._error)
        return None

    def close(self):
        try:
            self._loop.call_soon_threadsafe(self._close)
        except RuntimeError:  # the loop is closed: nothing runs on it any more
            pass

    def client_left(self):
        """On the loop: the client closed the connection while the call ran. receive() returns
        http.disconnect; send() goes on (a client that closed only its sending side still reads
        the answer; for one that has gone, the write fails and the response is closed)."""
        self._left = True
        _wake(self._gone)

    def _close(self):
        if self._closed:
            return
        self._closed = True
        for future in (self._more, self._drained, self._gone):
            _wake(future)
        task = self._task
        if task is not None and not task.done() and not self._done and self._cancel_after > 0:
            self._loop.call_later(self._cancel_after, task.cancel)

    def _stop_short(self, why):
        if not self._done:
            self._error = why
            _wake(self._more)

    async def run(self, app, scope):
        self._task = asyncio.current_task()
        self._method = scope["method"]
        self._path = scope["path"]
        try:
            await app(scope, self.receive, self.send)
        except BaseException as e:
            if not self._responded:
                raise
            self._stop_short("the application raised after the response started")
            if not (self._closed and isinstance(e, (OSError, asyncio.CancelledError))):
                self._log(self._method, self._path,
                          "raised after the response started (the response is cut short):\n" +
                          "".join(traceback.format_exception(e)).rstrip())
            return
        finally:
            if self._spool is not None:
                self._spool.close()
                self._spool = None
        if not self._responded:
            if self._status is None:
                raise RuntimeError("the ASGI application returned without sending "
                                   "'http.response.start'")
            raise RuntimeError("the ASGI application returned after 'http.response.start' "
                               "without sending 'http.response.body'")
        if not self._done:
            self._stop_short("the application returned before the end of its body")
            if not self._closed:
                self._log(self._method, self._path, "returned while its streamed body still had "
                          "more_body set; the response is cut short")


class Lifespan:
    def __init__(self, app, loop):
        self._app = app
        self._loop = loop
        self._task = None
        self._startup_sent = False
        self.state = {}

    async def startup(self, timeout):
        self._answer = self._loop.create_future()
        self._shutdown_asked = self._loop.create_future()
        self._shutdown_answer = self._loop.create_future()
        self._task = self._loop.create_task(self._main())
        try:
            outcome, message = await asyncio.wait_for(asyncio.shield(self._answer), timeout)
        except asyncio.TimeoutError:
            return ("timeout", f"no answer to lifespan.startup within {timeout:g} s", None)
        return (outcome, message, self.state)

    async def shutdown(self, timeout):
        if self._task is None:
            return ("complete", "")
        _wake(self._shutdown_asked)
        try:
            return await asyncio.wait_for(asyncio.shield(self._shutdown_answer), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
            return ("timeout", f"no answer to lifespan.shutdown within {timeout:g} s")

    async def _main(self):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        try:
            await self._app(scope, self._receive, self._send)
        except BaseException as e:
            why = "".join(traceback.format_exception(e)).rstrip()
            if not self._answer.done():
                self._answer.set_result(("unsupported", why))
            elif not self._shutdown_answer.done():
                self._shutdown_answer.set_result(("failed", why))
            return
        if not self._answer.done():
            self._answer.set_result(("unsupported", "it returned without answering lifespan.startup"))
        if not self._shutdown_answer.done():
            self._shutdown_answer.set_result(("complete", ""))

    async def _receive(self):
        if not self._startup_sent:
            self._startup_sent = True
            return {"type": "lifespan.startup"}
        await self._shutdown_asked
        return {"type": "lifespan.shutdown"}

    async def _send(self, message):
        kind = message.get("type")
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            answer = self._answer
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            answer = self._shutdown_answer
        else:
            raise RuntimeError(f"ASGI lifespan send: unexpected message type {kind!r}")
        if answer.done():
            raise RuntimeError(f"ASGI lifespan send: {kind!r} out of turn")
        answer.set_result(("failed" if kind.endswith("failed") else "complete",
                           str(message.get("message", ""))))


def as_asgi3(app):
    if inspect.isclass(app):
        asgi3 = hasattr(app, "__await__")
    elif inspect.isfunction(app) or inspect.ismethod(app):
        asgi3 = inspect.iscoroutinefunction(app)
    else:
        asgi3 = inspect.iscoroutinefunction(getattr(app, "__call__", None))
    if asgi3:
        return app

    async def asgi2(scope, receive, send):
        await app(scope)(receive, send)

    asgi2.__wrapped__ = app
    return asgi2
)";

} // namespace

asgi_support make_asgi_support() {
    py::dict scope;
    scope["__builtins__"] = py::module_::import("builtins");
    scope["__name__"] = "httpy.asgi";
    // Compiled under a name of its own, so that tracebacks through it say where they pass.
    py::object code = scope["__builtins__"].attr("compile")(asgi_source, "<httpy.asgi>", "exec");
    scope["__builtins__"].attr("exec")(code, scope);
    return {scope["Exchange"], scope["Lifespan"], scope["as_asgi3"]};
}

} // namespace httpy::detail
