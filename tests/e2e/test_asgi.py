"""ASGI 3 over real sockets: tests/data/asgi/edge_app.py (a raw ASGI app) served by
`httpy serve --interface asgi` from the test venv, talked to with http.client and raw
sockets. The spec's corners: every scope key, the body in several http.request events, receive()
after the body waiting for http.disconnect, send() after the client left, more_body both ways,
pathsend, the lifespan modes, timeouts and cancellation, backpressure."""

import concurrent.futures
import hashlib
import json
import os
import socket
import time
import unittest

import asgi_fixture
import serve_fixture
from asgi_fixture import (AsgiCase, DATA, EDGE_APP, ROOT_PATH_PREPENDED, parse_chunked, split_response,
                          uvicorn_differs)
from wsgi_fixture import wait_until

# How uvicorn 0.55 (the reference, HTTPY_ASGI_REFERENCE=uvicorn) departs from the ASGI spec,
# the RFCs or docs/asgi.md, for the tests that it skips.
CHUNKED_TO_HTTP_1_0 = ("uvicorn 0.55 answers HTTP/1.0 with chunked transfer coding, which "
                       "RFC 9112 (6.1) forbids in a response to a 1.0 request")
HEAD_BEFORE_BODY = ("uvicorn 0.55 sends the head at http.response.start, before any body (the "
                    "spec says not before the first), so the client gets a cut response, not 500")
SEND_AFTER_LEAVING_RETURNS = ("uvicorn 0.55's send() after the client has gone returns without "
                              "raising (the spec: OSError)")
ENDLESS_SENDER_SPINS = ("uvicorn 0.55's send() returns at once after the client has gone, so "
                        "this endless sender never yields and the loop stops serving")
CLOSES_WITHOUT_ANSWER = "uvicorn 0.55 closes the connection without an answer (no 500)"


class Scope(AsgiCase):
    def test_every_key_has_the_spec_type_and_value(self):
        scope = self.get_json("/scope/caf%C3%A9%2Fx?a=1&b=%20+",
                              headers={"X-Repeat": "1", "Accept": "*/*"})
        self.assertEqual(scope["type"], "http")
        self.assertEqual(scope["asgi"]["version"], "3.0")
        self.assertEqual(scope["http_version"], "1.1")
        self.assertEqual(scope["method"], "GET")
        self.assertEqual(scope["scheme"], "http")
        self.assertEqual(scope["path"], "/scope/café/x")  # decoded, UTF-8
        self.assertEqual(scope["raw_path"], "/scope/caf%C3%A9%2Fx")  # as sent
        self.assertEqual(scope["query_string"], "a=1&b=%20+")  # undecoded
        self.assertEqual(scope["root_path"], "")
        self.assertEqual(scope["client"][0], "127.0.0.1")
        self.assertEqual(scope["client_port_type"], "int")
        self.assertEqual(scope["server"], ["127.0.0.1", self.server().port])
        self.assertEqual(scope["server_port_type"], "int")
        self.assertEqual(scope["headers_type"], ["list", "bytes"])
        names = [name for name, _ in scope["headers"]]
        self.assertEqual(names, [n.lower() for n in names])  # lower-cased
        self.assertIn(["x-repeat", "1"], scope["headers"])
        self.assertIn(["accept", "*/*"], scope["headers"])

    def test_repeated_headers_keep_every_value_in_order(self):
        with self.server().raw() as sock:
            sock.sendall(b"GET /repeats HTTP/1.1\r\nHost: x\r\nX-Repeat: one\r\n"
                         b"X-Repeat: two\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        status, headers, body = split_response(data)
        self.assertIn(" 200 ", status)
        self.assertEqual(headers["x-seen"], ["one,two"])
        self.assertEqual(headers["set-cookie"], ["a=1", "b=2"])  # two header lines

    @uvicorn_differs(CHUNKED_TO_HTTP_1_0)
    def test_http_1_0(self):
        data = self.exchange(b"GET /scope HTTP/1.0\r\n\r\n")
        _, _, body = split_response(data)
        self.assertEqual(json.loads(body)["http_version"], "1.0")

    @uvicorn_differs("uvicorn 0.55 gives no state key unless the lifespan set one")
    def test_lifespan_state_is_a_copy_per_request(self):
        first = self.get_json("/scope")
        second = self.get_json("/scope")
        self.assertEqual(first["state"], {"started": True})
        self.assertEqual(second["state"], {"started": True})  # the first's change is not seen

    @uvicorn_differs("uvicorn advertises no http.response.pathsend extension")
    def test_pathsend_is_advertised(self):
        self.assertIn("http.response.pathsend", self.get_json("/scope")["extensions"])

    def test_nothing_comes_from_os_environ(self):
        scope = self.get_json("/scope")
        self.assertNotIn("EDGE_SECRET", json.dumps(scope))

    env = {"EDGE_SECRET": "leaked-if-seen"}


class RootPath(AsgiCase):
    options = ("--root-path", "/prefix")

    @uvicorn_differs(ROOT_PATH_PREPENDED)
    def test_path_keeps_the_prefix_and_root_path_names_it(self):
        scope = self.get_json("/prefix/scope")
        self.assertEqual(scope["root_path"], "/prefix")
        self.assertEqual(scope["path"], "/prefix/scope")  # the spec's current text


class RequestBody(AsgiCase):
    options = ("--max-body", str(16 * 1024 * 1024))
    def test_small_body_is_one_event(self):
        body = bytes(range(256)) * 10
        status, _, got = self.server().request("POST", "/body", body=body)
        self.assertEqual(status, 200)
        result = json.loads(got)
        self.assertEqual(result["events"], 1)
        self.assertEqual(result["more_body"], [False])
        self.assertEqual(result["sha256"], hashlib.sha256(body).hexdigest())

    def test_chunked_upload_arrives_whole(self):
        def parts():
            for i in range(20):
                yield bytes([i]) * 1000

        conn = self.server().connect()
        try:
            conn.request("POST", "/body", body=parts(), encode_chunked=True)
            result = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        expected = b"".join(bytes([i]) * 1000 for i in range(20))
        self.assertEqual(result["length"], len(expected))
        self.assertEqual(result["sha256"], hashlib.sha256(expected).hexdigest())

    def test_large_body_comes_in_several_events_from_its_spool(self):
        body = os.urandom(3 * 1024 * 1024 + 17)
        status, _, got = self.server().request("POST", "/body", body=body, timeout=30)
        self.assertEqual(status, 200)
        result = json.loads(got)
        self.assertEqual(result["length"], len(body))
        self.assertEqual(result["sha256"], hashlib.sha256(body).hexdigest())
        if not self.under_reference:  # spooled past 1 MiB, read back 64 KiB at a time
            self.assertGreater(result["events"], 40)
            self.assertEqual(result["more_body"][-1], False)
            self.assertTrue(all(result["more_body"][:-1]))


class MaxBody(AsgiCase):
    options = ("--max-body", "1000")

    @uvicorn_differs("uvicorn has no request body limit")
    def test_body_past_the_limit_is_413(self):
        status, _, _ = self.server().request("POST", "/body", body=b"z" * 1001)
        self.assertEqual(status, 413)


class Responses(AsgiCase):
    def test_streamed_body_is_chunked(self):
        data = self.exchange(b"GET /stream?n=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        _, headers, body = split_response(data)
        self.assertEqual(headers["transfer-encoding"], ["chunked"])
        payload, complete = parse_chunked(body)
        self.assertTrue(complete)
        self.assertEqual(payload, b"chunk0chunk1chunk2chunk3chunk4")

    def test_streamed_body_with_content_length_is_not_chunked(self):
        data = self.exchange(b"GET /stream?n=4&length=1 HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n")
        _, headers, body = split_response(data)
        self.assertNotIn("transfer-encoding", headers)
        self.assertEqual(headers["content-length"], ["24"])
        self.assertEqual(body, b"chunk0chunk1chunk2chunk3")

    @uvicorn_differs(CHUNKED_TO_HTTP_1_0)
    def test_streamed_body_to_http_1_0_is_close_delimited(self):
        data = self.exchange(b"GET /stream?n=3 HTTP/1.0\r\n\r\n")
        _, headers, body = split_response(data)
        self.assertNotIn("transfer-encoding", headers)
        self.assertEqual(body, b"chunk0chunk1chunk2")

    @uvicorn_differs("uvicorn has no http.response.pathsend")
    def test_pathsend_sends_the_file(self):
        status, headers, body = self.get("/pathsend")
        self.assertEqual(status, 200)
        with open(os.path.join(DATA, "edge_app.py"), "rb") as f:
            expected = f.read()
        self.assertEqual(body, expected)
        self.assertEqual(headers["Content-Length"], str(len(expected)))

    def test_head_sends_no_body(self):
        status, headers, body = self.server().request("HEAD", "/hello")
        self.assertEqual((status, body), (200, b""))

    def test_background_work_runs_after_the_response(self):
        # The app keeps running after its response until /release: the answer arriving at all
        # shows it was not held until the task ended, with no clock to race.
        status, _, body = self.get("/background")
        self.assertEqual((status, body), (200, b"answered"))
        self.assertNotIn("background", self.get_json("/recorded"))
        self.assertEqual(self.get("/release")[2], b"released")
        self.assertTrue(wait_until(lambda: "background" in self.get_json("/recorded")))

    def test_a_message_after_the_end_raises_runtime_error(self):
        self.assertEqual(self.get("/twice")[2], b"first")
        recorded = wait_until(lambda: self.get_json("/recorded").get("twice"))  # RuntimeError
        if not self.under_reference:  # uvicorn words it its own way
            self.assertIn("after the response was complete", recorded)

    def test_concurrent_waiting_requests_overlap(self):
        self.server()  # started once, here, not by each thread of the pool
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda _: self.get("/sleep")[2], range(20)))
        self.assertEqual(results, [b"slept"] * 20)
        self.assertLess(time.monotonic() - started, 5.0)  # 20 x 0.5 s run side by side


class Failures(AsgiCase):
    def expect_500(self, path, logged):
        status, _, body = self.get(path)
        self.assertEqual(status, 500, body)
        self.assert_logged_by_httpy(logged)
        self.assert_still_serving()

    def test_returning_without_a_response_is_500(self):
        self.expect_500("/nothing", "returned without sending 'http.response.start'")

    @uvicorn_differs(HEAD_BEFORE_BODY)
    def test_start_without_body_is_500(self):
        self.expect_500("/start-only", "without sending 'http.response.body'")

    def test_body_before_start_is_500(self):
        self.expect_500("/body-first", "expected 'http.response.start', got 'http.response.body'")

    def test_exception_before_responding_is_500_with_its_traceback_logged(self):
        self.expect_500("/raise", "edge_app /raise fails before responding")

    @uvicorn_differs(CLOSES_WITHOUT_ANSWER)
    def test_header_injection_is_refused(self):
        self.expect_500("/bad-header", "containing CR, LF or NUL")

    @uvicorn_differs(CLOSES_WITHOUT_ANSWER)
    def test_status_that_is_not_an_int_is_500(self):
        self.expect_500("/bad-status", "status of type str; expected int")

    @uvicorn_differs(HEAD_BEFORE_BODY)
    def test_str_body_is_500(self):
        self.expect_500("/str-body", "body of type str; expected bytes")

    def test_exception_after_start_cuts_the_response(self):
        data = self.exchange(b"GET /raise-after-start HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = split_response(data)
        self.assertIn(" 200 ", status)
        payload, complete = parse_chunked(body)
        self.assertEqual(payload, b"partial")
        self.assertFalse(complete)  # no terminating chunk: the client sees it was cut
        self.assert_logged_by_httpy("edge_app /raise-after-start fails half-way")
        self.assert_still_serving()


class Disconnect(AsgiCase):
    def test_receive_after_the_body_waits_for_the_response_to_end(self):
        status, _, body = self.get("/wait-disconnect")
        self.assertEqual(body, b"part 0\npart 1\npart 2\nend\n")
        after = wait_until(lambda: self.get_json("/recorded").get("after_body"))
        self.assertEqual(after[0], "http.disconnect")
        self.assertGreaterEqual(after[1], 0.5)  # it waited for the whole response

    def test_receive_returns_http_disconnect_when_the_client_closes_before_the_response(self):
        with self.server().raw() as sock:
            sock.sendall(b"GET /long-poll HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.5)
        left = wait_until(lambda: self.get_json("/recorded").get("long_poll"), timeout=10)
        self.assertEqual(left[0], "http.disconnect")
        self.assertGreaterEqual(left[1], 0.4)  # it waited for the client, not less
        self.assertLess(left[1], 5)  # and not for a timeout
        self.assert_still_serving()

    def test_a_client_that_closes_at_once_is_seen_too(self):
        with self.server().raw() as sock:
            sock.sendall(b"GET /long-poll?at_once HTTP/1.1\r\nHost: x\r\n\r\n")
        left = wait_until(lambda: self.get_json("/recorded").get("at_once"), timeout=10)
        self.assertEqual(left[0], "http.disconnect")
        self.assertLess(left[1], 5)

    @uvicorn_differs(SEND_AFTER_LEAVING_RETURNS)
    def test_send_after_the_client_left_raises_os_error(self):
        with self.server().raw() as sock:
            sock.sendall(b"GET /until-gone HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200", sock.recv(4096))
            time.sleep(0.1)
        recorded = wait_until(lambda: self.get_json("/recorded").get("until_gone"), timeout=10)
        self.assertEqual(recorded[0], "OSError")
        self.assert_still_serving()

    @uvicorn_differs(ENDLESS_SENDER_SPINS)
    def test_backpressure_holds_a_slow_reader_to_a_bounded_amount(self):
        with self.server().raw() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1024)
            time.sleep(1.0)
            first = self.get_json("/recorded")["flood"]
            time.sleep(1.0)
            second = self.get_json("/recorded")["flood"]
            # send() stopped completing: the kernel's buffers and the window, nothing more.
            self.assertEqual(first, second)
            self.assertLess(second, 16 * 1024 * 1024)
            received = 0
            sock.settimeout(5)
            while received < 4 * 1024 * 1024:  # reading lets it go on
                received += len(sock.recv(1 << 20))
        self.assertGreater(self.get_json("/recorded")["flood"], second)


class Timeouts(AsgiCase):
    options = ("--handler-timeout", "1")

    @uvicorn_differs("uvicorn has no handler timeout")
    def test_no_response_start_in_time_is_504_and_the_task_is_cancelled(self):
        started = time.monotonic()
        status, _, _ = self.get("/slow-start")
        self.assertEqual(status, 504)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(wait_until(lambda: self.get_json("/recorded").get("slow_start")),
                         "cancelled")

    @uvicorn_differs("uvicorn has no handler timeout")
    def test_a_stalled_stream_closes_the_connection(self):
        data = self.exchange(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10)
        _, _, body = split_response(data)
        payload, complete = parse_chunked(body)
        self.assertEqual(payload, b"first")
        self.assertFalse(complete)
        self.assertEqual(wait_until(lambda: self.get_json("/recorded").get("stall"), timeout=5),
                         "cancelled")


def refused_start(test, env, *options):
    """The exit code and log of `httpy serve EDGE_APP OPTIONS...` with `env`, a server that must
    not start; skips `test` under the reference server."""
    if asgi_fixture.REFERENCE:
        test.skipTest("httpy's exit code and words")
    proc = serve_fixture.subprocess.run(
        [serve_fixture.HTTPY, "serve", EDGE_APP, "--interface", "asgi", "--venv",
         asgi_fixture.VENV, "--bind", "127.0.0.1:0", *options],
        env={**os.environ, **env}, capture_output=True, timeout=60)
    return proc.returncode, proc.stderr.decode()


class Lifespan(unittest.TestCase):
    def serve(self, how, *options):
        return asgi_fixture.start(EDGE_APP, *options, env={"EDGE_LIFESPAN": how})

    def refused(self, how, *options):
        return refused_start(self, {"EDGE_LIFESPAN": how}, *options)

    def test_complete_runs_startup_before_serving_and_shutdown_after(self):
        server = self.serve("complete")
        try:
            status, _, body = server.request("GET", "/scope")
            self.assertEqual(json.loads(body)["state"], {"started": True})
        finally:
            server.stop()
        self.assertIn("edge_app: lifespan shutdown ran", server.log())

    def test_an_app_that_raises_on_lifespan_is_served_without_it(self):
        server = self.serve("raise")
        try:
            status, _, body = server.request("GET", "/hello")
            self.assertEqual((status, body), (200, b"Hello, World!"))
            if not asgi_fixture.REFERENCE:
                self.assertIn("no lifespan support", server.log())
        finally:
            server.stop()

    def test_an_app_that_returns_without_answering_is_served_without_it(self):
        server = self.serve("return")
        try:
            self.assertEqual(server.request("GET", "/hello")[0], 200)
        finally:
            server.stop()

    def test_lifespan_on_refuses_an_app_without_lifespan_support(self):
        code, log = self.refused("raise", "--lifespan", "on")
        self.assertEqual(code, 2, log)
        self.assertIn("does not support the ASGI lifespan protocol", log)
        self.assertIn("edge_app does not do lifespan", log)

    def test_startup_failed_stops_start_up_with_its_message(self):
        code, log = self.refused("failed")
        self.assertEqual(code, 2, log)
        self.assertIn("lifespan.startup.failed: edge_app refuses to start", log)

    def test_a_startup_that_never_answers_stops_start_up_at_the_timeout(self):
        started = time.monotonic()
        code, log = self.refused("hang", "--startup-timeout", "1")
        self.assertEqual(code, 2, log)
        self.assertIn("no answer to lifespan.startup within 1 s", log)
        self.assertLess(time.monotonic() - started, 20)

    def test_lifespan_off_never_sends_it(self):
        server = self.serve("failed", "--lifespan", "off")  # would refuse to start otherwise
        try:
            status, _, body = server.request("GET", "/scope")
            self.assertEqual(status, 200)
            if not asgi_fixture.REFERENCE:
                self.assertIsNone(json.loads(body)["state"])
        finally:
            server.stop()


class DoubleCallable(AsgiCase):
    target = os.path.join(DATA, "asgi2_app.py") + ":App"
    still_serving = ("/x", b"asgi2 /x")
    options = ()

    def test_a_double_callable_is_wrapped(self):
        self.assertEqual(self.get("/hi")[2], b"asgi2 /hi")


class AutoInterface(AsgiCase):
    """Without --interface: a coroutine function with (scope, receive, send) is ASGI."""

    def test_auto_tells_asgi(self):
        if asgi_fixture.REFERENCE:
            self.skipTest("httpy's interface choice")
        server = serve_fixture.Server(EDGE_APP, "--venv", asgi_fixture.VENV)
        try:
            self.assertEqual(server.request("GET", "/hello")[2], b"Hello, World!")
            self.assertIn("(asgi app", server.log())
        finally:
            server.stop()


class UvloopChoice(AsgiCase):
    options = ("--loop", "uvloop")

    def test_serves_on_uvloop(self):
        self.assertEqual(self.get("/loop")[2], b"uvloop")
        self.assertEqual(self.get("/sleep")[2], b"slept")


class AsyncioChoice(AsgiCase):
    options = ("--loop", "asyncio")

    def test_serves_on_asyncio(self):
        self.assertEqual(self.get("/loop")[2], b"asyncio")
        self.assertEqual(self.get("/sleep")[2], b"slept")


class AutoLoopChoice(AsgiCase):
    """Without --loop: uvloop, installed in the test venv."""

    def test_auto_is_uvloop_where_it_is_installed(self):
        self.assertEqual(self.get("/loop")[2], b"uvloop")


class AutoLoopWithoutUvloop(AsgiCase):
    env = {"EDGE_HIDE_UVLOOP": "1"}

    def test_auto_is_asyncio_where_uvloop_cannot_be_imported(self):
        if self.under_reference:
            self.skipTest("uvicorn makes its loop before it imports the app")
        self.assertEqual(self.get("/loop")[2], b"asyncio")
        self.assertEqual(self.get("/sleep")[2], b"slept")

    def test_uvloop_asked_for_and_missing_stops_start_up(self):
        code, log = refused_start(self, {"EDGE_HIDE_UVLOOP": "1"}, "--loop", "uvloop")
        self.assertEqual(code, 2)
        self.assertIn("the event loop could not be made (--loop)", log)
        self.assertIn("uvloop", log)


if __name__ == "__main__":
    unittest.main()
