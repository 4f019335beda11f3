"""End-to-end tests of `httpy serve`: the real binary on 127.0.0.1:0, real CPython, real clients
(http.client, raw sockets for malformed input, curl). Each test names the behaviour it checks;
The contract's "HTTP behaviour" (docs/python-contract.md) is what these check."""

import email.utils
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import serve_fixture
from serve_fixture import (APP, ASYNC_WORKER, HTTPY, WORKER, Server, closed_within,
                           read_response, run_parallel)

HELLO = b"GET /still/alive HTTP/1.1\r\nHost: t\r\n\r\n"


class ServerCase(serve_fixture.ServerCase):
    """The server of serve_app.py per class, plus helpers shared by every test."""

    def exchange(self, data, server=None, timeout=5.0, head=False):
        """Sends `data` on a new raw connection; returns (response, sock, reader)."""
        sock = (server or self.server()).raw(timeout)
        self.addCleanup(sock.close)
        sock.sendall(data)
        reader = sock.makefile("rb")
        self.addCleanup(reader.close)
        return read_response(reader, head=head), sock, reader

    def assert_400_and_close(self, data):
        self.assert_status_and_close(data, 400)

    def assert_status_and_close(self, data, status, timeout=5.0):
        resp, sock, reader = self.exchange(data, timeout=timeout)
        self.assertIsNotNone(resp, f"no response to {data[:200]!r}")
        self.assertEqual(resp.status, status, f"{data[:200]!r} -> {resp!r}")
        self.assertTrue(closed_within(sock, reader, 3.0),
                        f"the connection stayed open after {status} for {data[:200]!r}")
        self.assert_still_serving()


class HttpTable(ServerCase):
    """The contract's HTTP table on one server with the default limits (plus routes for 404/405)."""

    options = ("--init", f"{APP}:routes", "--handler-timeout", "0.5")

    def test_no_route_matching_the_path_is_404(self):
        status, _, _ = self.server().request("GET", "/no/such/route")
        self.assertEqual(status, 404)
        status, _, _ = self.server().request("GET", "/hello/bob")
        self.assertEqual(status, 200)

    def test_a_path_without_the_method_is_405_with_allow_listing_the_route_methods(self):
        status, headers, _ = self.server().request("DELETE", "/hello/bob")
        self.assertEqual(status, 405)
        allow = {m.strip() for m in (headers.get("Allow") or "").split(",") if m.strip()}
        self.assertTrue({"GET", "POST"} <= allow, f"Allow: {headers.get('Allow')!r}")
        self.assertNotIn("DELETE", allow)
        status, headers, _ = self.server().request("POST", "/only-get")
        self.assertEqual(status, 405)
        self.assertIn("GET", headers.get("Allow") or "")

    def test_a_malformed_request_line_is_400_and_closes(self):
        self.assert_400_and_close(b"GET / HTTZ/1.1\r\nHost: t\r\n\r\n")

    def test_a_bad_header_line_is_400_and_closes(self):
        self.assert_400_and_close(b"GET /hello/x HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n")

    def test_a_bad_chunk_size_is_400_and_closes(self):
        self.assert_400_and_close(b"POST /hello/x HTTP/1.1\r\nHost: t\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")

    def test_a_bad_percent_escape_in_the_path_is_400_and_closes(self):
        self.assert_400_and_close(b"GET /hello/a%zzb HTTP/1.1\r\nHost: t\r\n\r\n")

    def test_a_bad_percent_escape_in_the_query_is_400_and_closes(self):
        self.assert_400_and_close(b"GET /hello/a?x=%zz HTTP/1.1\r\nHost: t\r\n\r\n")

    def test_content_length_with_transfer_encoding_is_400_and_closes(self):
        self.assert_400_and_close(b"POST /hello/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")

    def test_two_different_content_lengths_are_400_and_close(self):
        self.assert_400_and_close(b"POST /hello/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                  b"Content-Length: 6\r\n\r\nhello!")

    def test_a_control_character_in_the_target_is_400_and_closes(self):
        self.assert_400_and_close(b"GET /hello/a\x01b HTTP/1.1\r\nHost: t\r\n\r\n")

    def test_connect_is_501_and_closes(self):
        self.assert_status_and_close(b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", 501)
        self.assert_status_and_close(b"CONNECT /hello/x HTTP/1.1\r\nHost: t\r\n\r\n", 501)

    def test_a_method_longer_than_any_known_is_501_and_closes(self):
        self.assert_status_and_close(b"A" * 5000 + b" /hello/x HTTP/1.1\r\nHost: t\r\n\r\n", 501)
        self.assert_status_and_close(b"UPDATEREDIRECTREFS /hello/x HTTP/1.1\r\nHost: t\r\n\r\n",
                                     501)
        resp, _, _ = self.exchange(b"PROPFIND /hello/x HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.status, 405, "a short unknown method is routed")

    def test_a_transfer_coding_before_a_final_chunked_is_501_and_chunked_not_last_is_400(self):
        body = b"5\r\nhello\r\n0\r\n\r\n"
        for coding, status in [(b"deflate, chunked", 501), (b"gzip, chunked", 501),
                               (b"chunked, gzip", 400), (b"gzip", 400)]:
            with self.subTest(coding=coding):
                self.assert_status_and_close(b"POST /hello/x HTTP/1.1\r\nHost: t\r\n"
                                             b"Transfer-Encoding: %s\r\n\r\n%s" % (coding, body),
                                             status)

    def test_a_bare_cr_in_the_head_is_400_at_once_not_after_the_header_timeout(self):
        # The server's header timeout is 10 s; the client neither finishes the head nor closes.
        start = time.monotonic()
        self.assert_status_and_close(b"GET /hello/x HTTP/1.1\r\nHost: t\r\nX-A: a\rb", 400,
                                     timeout=3.0)
        self.assertLess(time.monotonic() - start, 2.5)

    def test_101_header_fields_are_431_and_100_pass(self):
        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(100))
        resp, _, _ = self.exchange(b"GET /hello/x HTTP/1.1\r\nHost: t\r\n" + fields[:-len(b"X-F99: v\r\n")]
                                   + b"\r\n")
        self.assertEqual(resp.status, 200)
        self.assert_status_and_close(b"GET /hello/x HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n", 431)

    def test_1001_query_parameters_are_400_and_1000_pass(self):
        query = b"&".join(b"k%d=v" % i for i in range(1000))
        resp, _, _ = self.exchange(b"GET /hello/x?%s HTTP/1.1\r\nHost: t\r\n\r\n" % query)
        self.assertEqual(resp.status, 200)
        self.assertEqual(len(json.loads(resp.body)["query"]), 1000)
        self.assert_status_and_close(b"GET /hello/x?%s&one=more HTTP/1.1\r\nHost: t\r\n\r\n"
                                     % query, 400)

    def test_headers_over_the_default_16_kib_are_431_and_under_it_pass(self):
        ok = b"GET /hello/x HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 12000 + b"\r\n\r\n"
        resp, _, _ = self.exchange(ok)
        self.assertEqual(resp.status, 200)
        big = b"GET /hello/x HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        resp, _, _ = self.exchange(big)
        self.assertEqual(resp.status, 431)
        self.assert_still_serving()

    def test_a_body_over_the_default_1_mib_is_413_and_1_mib_passes(self):
        status, _, body = self.server().request("POST", "/len", body=b"a" * (1 << 20))
        self.assertEqual((status, body), (200, b"%d" % (1 << 20)))
        resp, _, _ = self.exchange(b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                                   % ((1 << 20) + 1) + b"a" * ((1 << 20) + 1))
        self.assertEqual(resp.status, 413)
        self.assert_still_serving()

    def test_a_handler_running_past_the_timeout_is_504_and_gets_timeout_error(self):
        start = time.monotonic()
        status, _, _ = self.server().request("GET", "/spin", timeout=10)
        self.assertEqual(status, 504)
        self.assertLess(time.monotonic() - start, 3.0)
        # The TimeoutError may land in the handler just after the 504 went out.
        deadline = time.monotonic() + 3
        while True:
            status, _, body = self.server().request("GET", "/spin-count")
            if body == b"1" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual((status, body), (200, b"1"), "TimeoutError was not raised in the handler")
        self.assert_still_serving()


class Limits(ServerCase):
    """Limits and timeouts set on the command line."""

    def test_headers_over_max_header_are_431(self):
        with Server(APP, "--max-header", "1024") as server:
            sock = server.raw(5)
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
            with sock, sock.makefile("rb") as reader:
                resp = read_response(reader)
            self.assertIsNotNone(resp)
            self.assertEqual(resp.status, 431)
            status, _, _ = server.request("GET", "/x", headers={"X-Small": "a" * 500})
            self.assertEqual(status, 200)
            self.assert_still_serving(server)

    def test_a_content_length_body_over_max_body_is_413(self):
        with Server(APP, "--max-body", "1000") as server:
            status, _, _ = server.request("POST", "/len", body=b"a" * 5000)
            self.assertEqual(status, 413)
            status, _, body = server.request("POST", "/len", body=b"a" * 1000)
            self.assertEqual((status, body), (200, b"1000"))
            self.assert_still_serving(server)

    def test_a_spooled_body_reaches_go_request_whole(self):
        data = os.urandom(300_000)
        with Server(APP, "--max-body", "1000000", "--spool-above", "1000") as server:
            status, _, body = server.request("POST", "/body", body=data)
            self.assertEqual((status, body == data), (200, True), "the body read from the spool")
            chunked = (data[i:i + 65536] for i in range(0, len(data), 65536))
            conn = server.connect(10)
            conn.request("POST", "/len", body=chunked, encode_chunked=True)
            response = conn.getresponse()
            self.assertEqual((response.status, response.read()), (200, b"300000"))
            conn.close()

    def test_a_chunked_body_over_max_body_is_413(self):
        with Server(APP, "--max-body", "1000") as server:
            chunk = b"258\r\n" + b"c" * 0x258 + b"\r\n"  # 600 bytes a chunk
            data = (b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + chunk * 3 + b"0\r\n\r\n")
            sock = server.raw(5)
            sock.sendall(data)
            with sock, sock.makefile("rb") as reader:
                resp = read_response(reader)
            self.assertIsNotNone(resp)
            self.assertEqual(resp.status, 413)
            self.assert_still_serving(server)

    def test_max_header_count_and_max_query_params_set_the_limits(self):
        with Server(APP, "--max-header-count", "3",
                    env={"HTTPY_MAX_QUERY_PARAMS": "2"}) as server:
            status, _, _ = server.request("GET", "/x?a=1&b=2", headers={"X-A": "1"})
            self.assertEqual(status, 200)  # Host, Accept-Encoding (http.client's own), X-A
            status, _, _ = server.request("GET", "/x", headers={"X-A": "1", "X-B": "2"})
            self.assertEqual(status, 431)
            status, _, _ = server.request("GET", "/x?a=1&b=2&c=3")
            self.assertEqual(status, 400)
            self.assert_still_serving(server)

    def test_a_client_sending_a_body_over_max_body_without_reading_gets_413_not_a_reset(self):
        # The client sends a body over the 1 MiB limit in one go, and only then reads: the server
        # answers 413 after the head, so the body is still arriving when it would close. 2 MiB
        # often fit in loopback's socket buffers (the send then completes even if the server
        # reads nothing); 8 MiB do not: without lingering, the client's send fails with EPIPE or
        # ECONNRESET before it reads the answer.
        with Server(APP) as server:
            outcomes = {}
            for size in (2 << 20, 8 << 20):
                body = b"a" * size
                head = b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size
                outcomes[size] = [self.send_then_read(server, head + body) for _ in range(5)]
            self.assertEqual(outcomes, {2 << 20: [413] * 5, 8 << 20: [413] * 5})
            self.assert_still_serving(server)

    @staticmethod
    def send_then_read(server, data):
        """Sends all of `data`, then reads one response: its status, "close", or the error."""
        sock = server.raw(10)
        try:
            sock.sendall(data)
            with sock.makefile("rb") as reader:
                resp = read_response(reader)
            return resp.status if resp else "close"
        except (ConnectionResetError, BrokenPipeError) as e:
            return type(e).__name__
        finally:
            sock.close()

    def test_an_environment_variable_sets_an_option(self):
        with Server(APP, env={"HTTPY_MAX_BODY": "100"}) as server:
            status, _, _ = server.request("POST", "/len", body=b"a" * 200)
            self.assertEqual(status, 413)
            status, _, body = server.request("POST", "/len", body=b"a" * 100)
            self.assertEqual((status, body), (200, b"100"))

    def test_connections_over_max_connections_get_503(self):
        with Server(APP, "--max-connections", "2") as server:
            held = [server.raw(5), server.raw(5)]
            try:
                time.sleep(0.3)
                sock = server.raw(5)
                with sock, sock.makefile("rb") as reader:
                    sock.sendall(HELLO)
                    resp = read_response(reader)
                self.assertIsNotNone(resp, "the connection over the limit got no answer")
                self.assertEqual(resp.status, 503)
            finally:
                for s in held:
                    s.close()
            time.sleep(0.3)
            self.assert_still_serving(server)

    def test_the_access_log_is_off_by_default(self):
        with Server(APP) as server:
            sock = server.raw(5)
            with sock, sock.makefile("rb") as reader:
                sock.sendall(b"GET /unlogged/path HTTP/1.1\r\nHost: t\r\n\r\n")
                resp = read_response(reader)
                self.assertEqual((resp.status, resp.body), (200, b"/unlogged/path"))
                # On the same connection, after the first request is done (and would have been
                # logged): a malformed request, whose 400 is always logged. Once its line is in,
                # the log is known to be captured up to it.
                sock.sendall(b"GET /second HTTZ/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(read_response(reader).status, 400)
            server.wait_for_log("answering 400 and closing")
            self.assertNotIn("/unlogged/path", server.log())


class SlowClients(ServerCase):
    def assert_408_then_close(self, sock, reader, payload, what):
        """Sends `payload` and stalls: asserts a 408, then the close; returns the seconds until
        the 408 arrived. The contract owes a 408 whenever it can still be sent, and here it can:
        the client is reading."""
        sock.sendall(payload)
        start = time.monotonic()
        sock.settimeout(4)
        try:
            resp = read_response(reader)
        except socket.timeout:
            self.fail(f"no 408 within 4 s of {what}")
        except ConnectionResetError:
            self.fail(f"the connection was reset without a 408 after {what}")
        elapsed = time.monotonic() - start
        self.assertIsNotNone(resp, f"the connection closed without a 408 after {what}")
        self.assertEqual(resp.status, 408, f"{what} -> {resp!r}")
        self.assertEqual((resp.header("Connection") or "").lower(), "close")
        self.assertTrue(closed_within(sock, reader, 2.0),
                        f"the connection stayed open after the 408 for {what}")
        return elapsed

    def test_a_client_too_slow_with_its_headers_gets_408_and_then_the_close(self):
        with Server(APP, "--header-timeout", "1") as server:
            sock = server.raw(5)
            with sock, sock.makefile("rb") as reader:
                elapsed = self.assert_408_then_close(
                    sock, reader, b"GET /x HTTP/1.1\r\nHost: t\r\n", "stalled headers")
            self.assertGreater(elapsed, 0.7)
            self.assertLess(elapsed, 3.0)
            self.assert_still_serving(server)

    def test_a_client_too_slow_with_its_body_gets_408_and_then_the_close(self):
        with Server(APP, "--body-timeout", "1") as server:
            sock = server.raw(5)
            with sock, sock.makefile("rb") as reader:
                elapsed = self.assert_408_then_close(
                    sock, reader,
                    b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789",
                    "a stalled body")
            self.assertGreater(elapsed, 0.7)
            self.assertLess(elapsed, 3.0)
            self.assert_still_serving(server)

    def test_a_client_sending_one_header_line_a_second_gets_408_at_the_header_timeout(self):
        # The client keeps sending: the header timeout runs from the request's start, not from
        # the last byte. A line sent after the server closed draws a reset, but Linux hands over
        # what was received before it, so the whole 408 must be there, then EOF or the reset.
        with Server(APP, "--header-timeout", "2") as server:
            sock = server.raw(5)
            with sock:
                start = time.monotonic()
                sock.sendall(b"GET /x HTTP/1.1\r\n")
                received, answered_at = b"", None
                for i in range(8):
                    time.sleep(1)
                    try:
                        sock.sendall(b"X-Line-%d: a\r\n" % i)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the server has closed; what it sent is still to be read
                    sock.settimeout(0.05)
                    try:
                        received = sock.recv(65536)
                    except socket.timeout:
                        continue
                    except ConnectionResetError:
                        self.fail(f"reset without a 408 after {time.monotonic() - start:.2f} s")
                    self.assertNotEqual(received, b"", "closed without a 408")
                    answered_at = time.monotonic() - start
                    break
                self.assertIsNotNone(answered_at, "a trickling client held the connection for 8 s")
                sock.settimeout(3)
                ending = None
                while ending is None:
                    try:
                        more = sock.recv(65536)
                        received += more
                        ending = None if more else "eof"
                    except socket.timeout:
                        ending = "still open"
                    except ConnectionResetError:
                        ending = "reset"
            self.assertTrue(received.startswith(b"HTTP/1.1 408 "), f"not a 408: {received!r}")
            head, blank, body = received.partition(b"\r\n\r\n")
            self.assertEqual(blank, b"\r\n\r\n", f"the 408 was cut short: {received!r}")
            length = re.search(rb"(?im)^content-length: *(\d+)\r?$", head)
            self.assertIsNotNone(length, received)
            self.assertEqual(len(body), int(length.group(1)), f"the 408 was cut short: {received!r}")
            self.assertIn(ending, ("eof", "reset"), "the connection stayed open after the 408")
            self.assertLess(answered_at, 4.5)
            self.assert_still_serving(server)

    def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(self):
        with Server(APP, "--idle-timeout", "1") as server:
            sock = server.raw(5)
            with sock, sock.makefile("rb") as reader:
                sock.sendall(HELLO)
                resp = read_response(reader)
                self.assertEqual(resp.status, 200)
                start = time.monotonic()
                self.assertFalse(closed_within(sock, reader, 0.6), "closed before the idle timeout")
                self.assertTrue(closed_within(sock, reader, 3.0), "idle connection kept open")
                self.assertLess(time.monotonic() - start, 3.0)
            self.assert_still_serving(server)


class Overload(ServerCase):
    def test_a_full_python_queue_answers_503_with_retry_after(self):
        with Server(APP, "--python-threads", "1", "--queue-limit", "1") as server:
            results = run_parallel(
                6, lambda i: server.request("GET", "/sleep?seconds=1", timeout=15), timeout=30)
            errors = [r for r in results if isinstance(r, BaseException)]
            self.assertEqual(errors, [])
            statuses = sorted(r[0] for r in results)
            self.assertTrue(set(statuses) <= {200, 503}, statuses)
            self.assertIn(503, statuses)
            self.assertIn(200, statuses)
            for status, headers, _ in results:
                if status == 503:
                    self.assertIsNotNone(headers.get("Retry-After"), "503 without Retry-After")
            self.assert_still_serving(server)


class KeepAlive(ServerCase):
    def test_several_requests_share_one_keep_alive_connection(self):
        conn = self.server().connect(5)
        self.addCleanup(conn.close)
        first_sock = None
        for i in range(5):
            conn.request("GET", f"/k/{i}")
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, f"/k/{i}".encode()))
            if first_sock is None:
                first_sock = conn.sock
            self.assertIsNotNone(conn.sock, "the server closed a keep-alive connection")
            self.assertIs(conn.sock, first_sock, "a new connection was opened")

    def test_http_1_0_without_keep_alive_closes_after_the_response(self):
        resp, sock, reader = self.exchange(b"GET /ten HTTP/1.0\r\n\r\n")
        self.assertEqual((resp.status, resp.body), (200, b"/ten"))
        self.assertTrue(closed_within(sock, reader, 3.0))

    def test_http_1_0_with_keep_alive_stays_open(self):
        resp, sock, reader = self.exchange(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual((resp.status, resp.body), (200, b"/a"))
        self.assertEqual((resp.header("Connection") or "").lower(), "keep-alive")
        sock.sendall(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        resp = read_response(reader)
        self.assertIsNotNone(resp, "the connection closed despite Connection: keep-alive")
        self.assertEqual((resp.status, resp.body), (200, b"/b"))

    def test_ten_pipelined_requests_are_answered_in_order(self):
        data = b"".join(b"GET /pipe/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(10))
        sock = self.server().raw(10)
        self.addCleanup(sock.close)
        sock.sendall(data)
        with sock.makefile("rb") as reader:
            bodies = []
            for i in range(10):
                resp = read_response(reader)
                self.assertIsNotNone(resp, f"EOF after {i} responses")
                self.assertEqual(resp.status, 200)
                bodies.append(resp.body)
        self.assertEqual(bodies, [b"/pipe/%d" % i for i in range(10)])

    def test_head_has_the_get_headers_and_no_body(self):
        status, get_headers, body = self.server().request("GET", "/head/me")
        self.assertEqual((status, body), (200, b"/head/me"))
        # HEAD then GET pipelined: any body bytes after HEAD would corrupt the GET's status line.
        sock = self.server().raw(5)
        self.addCleanup(sock.close)
        sock.sendall(b"HEAD /head/me HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        with sock.makefile("rb") as reader:
            head = read_response(reader, head=True)
            self.assertEqual(head.status, 200)
            self.assertEqual(head.header("Content-Length"), str(len(b"/head/me")))
            self.assertEqual(head.header("X-Path"), "/head/me")
            after = read_response(reader)
        self.assertEqual((after.status, after.body), (200, b"/after"))

    def test_date_and_server_headers_are_set(self):
        _, headers, _ = self.server().request("GET", "/dated")
        self.assertIsNotNone(headers.get("Server"))
        date = email.utils.parsedate_to_datetime(headers.get("Date"))
        self.assertLess(abs(date.timestamp() - time.time()), 5)
        self.assertRegex(headers.get("Date"), r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$")

    def test_a_server_header_set_by_the_handler_wins(self):
        resp, _, _ = self.exchange(b"GET /server HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.all("Server"), ["custom/1"])

    def test_content_length_is_computed_by_the_server(self):
        resp, _, reader = self.exchange(b"GET /wrong-length HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.all("Content-Length"), ["4"])
        self.assertEqual(resp.body, b"four")

    def test_expect_100_continue_gets_100_before_the_body_is_sent(self):
        sock = self.server().raw(5)
        self.addCleanup(sock.close)
        sock.sendall(b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        with sock.makefile("rb") as reader:
            interim = read_response(reader)
            self.assertIsNotNone(interim)
            self.assertEqual(interim.status, 100)
            sock.sendall(b"hello")
            final = read_response(reader)
        self.assertEqual((final.status, final.body), (200, b"hello"))

    def test_curl_with_expect_100_continue_gets_100_then_the_response(self):
        port = self.server().port
        done = subprocess.run(
            ["curl", "-sv", "--max-time", "10", "--expect100-timeout", "5",
             "-H", "Expect: 100-continue", "--data-binary", "x" * 100,
             f"http://127.0.0.1:{port}/body"], capture_output=True, timeout=20)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(b"< HTTP/1.1 100 Continue", done.stderr)
        self.assertIn(b"< HTTP/1.1 200", done.stderr)
        self.assertEqual(done.stdout, b"x" * 100)

    def test_a_chunked_request_body_reaches_python_exactly(self):
        data = bytes(range(256)) * 40 + b"\x00end"
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        self.addCleanup(os.unlink, f.name)
        port = self.server().port
        done = subprocess.run(
            ["curl", "-s", "--max-time", "10", "-H", "Transfer-Encoding: chunked",
             "--data-binary", f"@{f.name}", f"http://127.0.0.1:{port}/reflect"],
            capture_output=True, timeout=20)
        self.assertEqual(done.returncode, 0, done.stderr)
        doc = json.loads(done.stdout)
        self.assertEqual(bytes.fromhex(doc["body_hex"]), data)
        # Several chunks, a chunk extension and a trailer over a raw socket.
        resp, _, _ = self.exchange(
            b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nab\x00\r\n1;ext=1\r\n\xff\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n")
        self.assertEqual((resp.status, resp.body), (200, b"ab\x00\xff0123456789"))


class PythonContract(ServerCase):
    options = ("--init", f"{APP}:routes")

    def reflect(self, target, headers=b"", body=b""):
        data = (b"POST %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %d\r\n\r\n"
                % (target, headers, len(body)) + body)
        resp, _, _ = self.exchange(data)
        self.assertEqual(resp.status, 200, resp)
        return json.loads(resp.body)

    def test_params_come_from_the_matched_route(self):
        self.assertEqual(self.reflect(b"/hello/bob")["params"], {"target": ["bob"]})
        self.assertEqual(self.reflect(b"/hello/a%20b")["params"], {"target": ["a b"]})

    def test_the_path_is_percent_decoded_without_the_query(self):
        self.assertEqual(self.reflect(b"/files/p%20q%2Fr?x=1")["path"], "/files/p q/r")

    def test_the_query_is_parsed_the_go_way(self):
        doc = self.reflect(b"/hello/q?a=1&a=2&b=x+y&c&d=%C3%A9&e=%2B&f=")
        self.assertEqual(doc["query"], {"a": ["1", "2"], "b": ["x y"], "c": [""], "d": ["\u00e9"],
                                        "e": ["+"], "f": [""]})

    def test_header_names_are_canonical_and_repeated_headers_keep_their_order(self):
        doc = self.reflect(b"/hello/h", b"x-sleep: 0\r\nACCEPT: a\r\naccept: b\r\nAccept: c\r\n"
                                        b"x-custom-thing: 1\r\ncontent-type: text/plain\r\n")
        h = doc["headers"]
        self.assertEqual(h["X-Sleep"], ["0"])
        self.assertEqual(h["Accept"], ["a", "b", "c"])
        self.assertEqual(h["X-Custom-Thing"], ["1"])
        self.assertEqual(h["Content-Type"], ["text/plain"])
        self.assertEqual(h["Host"], ["t"])
        self.assertNotIn("accept", h)

    def test_a_binary_body_round_trips_exactly(self):
        data = bytes(range(256)) + b"\x00\xff\xfe\x80 end"
        self.assertEqual(bytes.fromhex(self.reflect(b"/hello/bin", body=data)["body_hex"]), data)
        status, _, body = self.server().request("POST", "/body", body=data)
        self.assertEqual((status, body), (200, data))

    def test_a_wrong_return_shape_is_500_with_the_precise_message_in_the_log(self):
        start = self.server().line_count()
        status, headers, body = self.server().request("GET", "/wrong")
        self.assertEqual(status, 500)
        self.assertIsNone(headers.get("X-Test"))
        self.assertNotIn(b"body", body)
        self.server().wait_for_log(
            'go_request returned headers["X-Test"][0] of type int; expected str', start=start)
        self.assert_still_serving()

    def test_an_exception_is_500_with_the_traceback_in_the_log_only(self):
        start = self.server().line_count()
        status, _, body = self.server().request("GET", "/raise")
        self.assertEqual(status, 500)
        self.server().wait_for_log("Traceback", start=start)
        self.server().wait_for_log("ValueError: handler failed on purpose", start=start)
        self.assertNotIn(b"Traceback", body)
        self.assertNotIn(b"failed on purpose", body)
        self.assert_still_serving()

    def test_a_1xx_status_from_the_handler_is_500_with_the_reason_in_the_log(self):
        for code in (100, 101, 199):
            with self.subTest(code=code):
                start = self.server().line_count()
                resp, _, _ = self.exchange(b"GET /status?code=%d HTTP/1.1\r\nHost: t\r\n\r\n" % code)
                self.assertEqual(resp.status, 500)
                self.server().wait_for_log(
                    f"go_request returned status {code}; expected an int in 200..599 "
                    "(a 1xx status is not a final response)", start=start)
        self.assert_still_serving()

    def test_a_response_header_with_crlf_is_refused_with_500(self):
        resp, _, _ = self.exchange(b"GET /inject HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(resp.status, 500)
        self.assertEqual(resp.all("Injected"), [])
        self.assert_still_serving()


class Concurrency(unittest.TestCase):
    def test_eight_sleeping_requests_with_eight_python_threads_overlap(self):
        with Server(WORKER, "--python-threads", "8") as server:
            server.request("GET", "/ping")  # warm up
            start = time.monotonic()
            results = run_parallel(
                8, lambda i: server.request("GET", "/ping", headers={"X-Sleep": "1"}))
            elapsed = time.monotonic() - start
            self.assertEqual([r if isinstance(r, BaseException) else r[0] for r in results],
                             [200] * 8)
            self.assertLess(elapsed, 1.8)

    def test_a_hundred_async_requests_wait_concurrently(self):
        with Server(ASYNC_WORKER) as server:
            server.request("GET", "/wait?seconds=0")
            start = time.monotonic()
            results = run_parallel(
                100, lambda i: server.request("GET", "/wait?seconds=1", timeout=20), timeout=40)
            elapsed = time.monotonic() - start
            statuses = [r if isinstance(r, BaseException) else r[0] for r in results]
            self.assertEqual(statuses, [200] * 100)
            self.assertLess(elapsed, 3.0)

    def test_a_blocking_handler_does_not_delay_another_request(self):
        with Server(WORKER) as server:
            server.request("GET", "/ping")
            blocked = []
            t = threading.Thread(target=lambda: blocked.append(
                server.request("GET", "/ping", headers={"X-Sleep": "2"})), daemon=True)
            t.start()
            time.sleep(0.3)
            start = time.monotonic()
            status, _, _ = server.request("GET", "/ping", timeout=5)
            elapsed = time.monotonic() - start
            self.assertEqual(status, 200)
            self.assertLess(elapsed, 0.5)
            t.join(10)
            self.assertEqual(blocked[0][0], 200)


class GracefulStop(unittest.TestCase):
    def start_sleeper(self, server, seconds, tag):
        """A request to /sleep in a thread; returns (thread, result list) once Python is in it."""
        out = []

        def run():
            sock = server.raw(15)
            with sock, sock.makefile("rb") as reader:
                sock.sendall(b"GET /sleep?seconds=%s&tag=%s HTTP/1.1\r\nHost: t\r\n\r\n"
                             % (str(seconds).encode(), tag.encode()))
                try:
                    out.append(read_response(reader))
                except OSError as e:
                    out.append(e)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        server.wait_for_log(f"serve_app: sleep {tag} started", timeout=5)
        return t, out

    def test_an_in_flight_request_finishes_after_sigterm(self):
        server = Server(APP)
        try:
            t, out = self.start_sleeper(server, 1, "inflight")
            server.signal(signal.SIGTERM)
            t.join(10)
            code = server.wait_exit()
        finally:
            server.kill()
        self.assertEqual(len(out), 1)
        resp = out[0]
        self.assertNotIsInstance(resp, BaseException)
        self.assertIsNotNone(resp, "the in-flight request got no response")
        self.assertEqual((resp.status, resp.body), (200, b"slept 1.0"))
        self.assertEqual((resp.header("Connection") or "").lower(), "close")
        self.assertEqual(code, 0)

    def test_new_connections_are_refused_while_stopping(self):
        server = Server(APP)
        try:
            t, out = self.start_sleeper(server, 1.5, "refuse")
            server.signal(signal.SIGTERM)
            server.wait_for_log("stopping", timeout=5)
            time.sleep(0.2)
            self.assertIsNone(server.proc.poll(), "exited before the in-flight request finished")
            with self.assertRaises(ConnectionRefusedError):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=3)
                s.close()
            t.join(10)
            code = server.wait_exit()
        finally:
            server.kill()
        self.assertEqual(out[0].status, 200)
        self.assertEqual(code, 0)

    def test_idle_keep_alive_connections_close_at_once_on_sigterm(self):
        server = Server(APP)
        try:
            idle = server.raw(5)
            reader = idle.makefile("rb")
            idle.sendall(HELLO)
            self.assertEqual(read_response(reader).status, 200)
            t, out = self.start_sleeper(server, 2, "idle")
            server.signal(signal.SIGTERM)
            start = time.monotonic()
            self.assertTrue(closed_within(idle, reader, 1.0),
                            "an idle keep-alive connection stayed open after SIGTERM")
            self.assertLess(time.monotonic() - start, 1.0)
            self.assertIsNone(server.proc.poll(), "exited before the in-flight request finished")
            reader.close()
            idle.close()
            t.join(10)
            code = server.wait_exit()
        finally:
            server.kill()
        self.assertEqual(out[0].status, 200)
        self.assertEqual(code, 0)

    def test_a_stop_under_load_loses_no_accepted_request_and_exits_0(self):
        server = Server(WORKER, "--python-threads", "8")
        port = server.port
        records = []
        lock = threading.Lock()
        stop = {"at": None}
        request = (b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Sleep: 0.05\r\n"
                   b"Connection: close\r\n\r\n")

        def client():
            while True:
                rec = {}
                with lock:
                    if stop["at"] is not None and time.monotonic() > stop["at"] + 15:
                        return
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
                except OSError as e:
                    rec["refused"] = repr(e)
                    with lock:
                        records.append(rec)
                    return
                try:
                    with sock, sock.makefile("rb") as reader:
                        rec["connected"] = time.monotonic()
                        sock.sendall(request)
                        rec["written"] = time.monotonic()
                        resp = read_response(reader)
                        if resp is None:
                            rec["error"] = "EOF before a response"
                        else:
                            rec["response"] = resp
                except (OSError, ValueError, EOFError) as e:
                    rec["error"] = repr(e)
                with lock:
                    records.append(rec)
                    if "error" in rec and stop["at"] is not None:
                        return

        threads = [threading.Thread(target=client, daemon=True) for _ in range(50)]
        try:
            for t in threads:
                t.start()
            time.sleep(1.5)
            with lock:
                stop["at"] = time.monotonic()
            server.signal(signal.SIGTERM)
            for t in threads:
                t.join(20)
            alive = sum(t.is_alive() for t in threads)
            code = server.wait_exit()
        finally:
            server.kill()
        self.assertEqual(alive, 0, "client threads still waiting for responses")
        t_stop = stop["at"]
        answered = [r for r in records if "response" in r]
        bad = [r["response"] for r in answered
               if r["response"].status != 200 or not re.fullmatch(rb"request #\d+", r["response"].body)]
        lost = [r for r in records if "error" in r and r.get("written", t_stop + 1) < t_stop]
        late = [r for r in records if "refused" in r or ("error" in r and
                                                         r.get("written", t_stop + 1) >= t_stop)]
        after_stop = [r for r in answered if r["written"] >= t_stop]
        summary = (f"{len(answered)} answered ({len(after_stop)} written after SIGTERM), "
                   f"{len(lost)} lost, {len(late)} refused or cut after the stop; lost "
                   f"(written s before SIGTERM, error): "
                   f"{sorted((round(t_stop - r['written'], 3), r['error']) for r in lost)[:8]}")
        self.assertGreater(len(answered), 50, summary)
        self.assertEqual(bad, [], summary)
        self.assertEqual(len(lost), 0, summary)
        self.assertEqual(code, 0, summary)


class StartUp(unittest.TestCase):
    def start_fails(self, *args):
        """Runs `httpy serve ARGS` with a listener of ours on the port it is told to bind: a
        server that bound before checking its handler would report the busy port instead."""
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        try:
            argv = [HTTPY, "serve", *args]
            if "--bind" not in args:
                argv += ["--bind", f"127.0.0.1:{port}"]
            done = subprocess.run(argv, capture_output=True, timeout=30)
        finally:
            holder.close()
        err = done.stderr.decode()
        self.assertEqual(done.returncode, 2, err)
        self.assertNotIn("listening on", err)
        return err

    def test_a_missing_handler_file_exits_2_before_binding(self):
        err = self.start_fails("/no/such/handler.py")
        self.assertIn("/no/such/handler.py", err)
        self.assertNotIn("cannot listen", err)

    def test_a_missing_function_exits_2_before_binding(self):
        err = self.start_fails(f"{APP}:no_such_function")
        self.assertIn("no_such_function", err)
        self.assertNotIn("cannot listen", err)

    def test_a_bad_init_result_exits_2_before_binding(self):
        err = self.start_fails(APP, "--init", f"{APP}:bad_routes")
        self.assertIn("bad_routes", err)
        self.assertIn('"/"', err)
        self.assertNotIn("cannot listen", err)

    def test_a_bad_bind_exits_2(self):
        for bind in ["127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", ":8080"]:
            with self.subTest(bind=bind):
                err = self.start_fails(APP, "--bind", bind)
                self.assertIn(bind, err)

    def test_a_busy_port_exits_2_with_a_clear_message(self):
        err = self.start_fails(APP)
        self.assertIn("cannot listen", err)

    def test_a_duration_that_would_overflow_is_refused_naming_the_option(self):
        for option, value in [("--idle-timeout", "1e10"), ("--idle-timeout", "-1"),
                              ("--handler-timeout", "nan"), ("--write-timeout", "inf"),
                              ("--drain-timeout", "1e300"), ("--header-timeout", "-inf")]:
            with self.subTest(option=option, value=value):
                err = self.start_fails(APP, option, value)
                self.assertIn(option, err)
                self.assertIn(value, err)
        done = subprocess.run([HTTPY, "serve", APP, "--bind", "127.0.0.1:0"], capture_output=True,
                              timeout=30, env={**os.environ, "HTTPY_BODY_TIMEOUT": "1e12"})
        self.assertEqual(done.returncode, 2, done.stderr.decode())
        self.assertIn("--body-timeout", done.stderr.decode())

    def test_help_lists_every_option_with_its_default(self):
        done = subprocess.run([HTTPY, "serve", "--help"], capture_output=True, timeout=30)
        self.assertEqual(done.returncode, 0)
        text = done.stdout.decode()
        defaults = {"--bind": "127.0.0.1:8080", "--threads": "1", "--python-threads": None,
                    "--queue-limit": None, "--handler-timeout": "30", "--max-body": "1048576",
                    "--max-header": "16384", "--header-timeout": "10", "--body-timeout": "10",
                    "--idle-timeout": None, "--write-timeout": None, "--max-connections": None,
                    "--drain-timeout": "10", "--workers": "0", "--max-requests": "0",
                    "--max-worker-memory": "0", "--max-header-count": "100",
                    "--max-query-params": "1000", "--spool-above": "1048576"}
        for option, default in defaults.items():
            with self.subTest(option=option):
                m = re.search(re.escape(option) + r"\s+\S+=(\S+)", text)
                self.assertIsNotNone(m, f"{option} with a default not in --help:\n{text}")
                if default is not None:
                    self.assertEqual(m.group(1), default)
        for option in ["--init", "--access-log", "--body-bytes"]:
            with self.subTest(option=option):
                self.assertIn(option, text)
        self.assertRegex(text, r"--init[^\n]*\n[^\n]*default")


if __name__ == "__main__":
    unittest.main()
