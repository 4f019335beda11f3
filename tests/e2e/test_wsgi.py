"""PEP 3333 over a real socket, on a raw WSGI application (tests/data/wsgi/edge_app.py): the
environ as the request spells it, the root path, wsgi.input read every way, start_response
inside a generator and with exc_info before and after the head, write(), bad statuses and
headers, bodies shorter or longer than their Content-Length, streaming framing, and close()
exactly once on every path. What httpy does is docs/wsgi.md; wsgi_fixture.py says how to run
these against gunicorn instead (HTTPY_WSGI_REFERENCE=gunicorn), and which tests it fails."""

import hashlib
import json
import os
import socket
import time
import unittest
import urllib.parse
import uuid

from wsgi_fixture import (EDGE_APP, VALIDATED, WsgiCase, gunicorn_differs, parse_chunked,
                          split_response, wait_until)


def request_bytes(path, method="GET", headers=(), body=b"", version="HTTP/1.1", host=True):
    """A raw request; `headers` a list of (name, value) (str or bytes), sent as given."""
    lines = [f"{method} {path} {version}".encode()]
    if host:
        lines.append(b"Host: 127.0.0.1")
    for name, value in headers:
        name = name if isinstance(name, bytes) else name.encode("latin-1")
        value = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class EdgeCase(WsgiCase):
    target = EDGE_APP + ":application"

    def closes(self, key):
        status, _, body = self.get(f"/close-count/value?key={key}")
        self.assertEqual(status, 200, body)
        return int(body)

    def assert_closed_once(self, key, what):
        """close() of the response iterable ran exactly once (waiting for it a little: it may
        run after the last byte reached the client)."""
        wait_until(lambda: self.closes(key) >= 1, timeout=3.0)
        time.sleep(0.2)  # a second close() would come now
        self.assertEqual(self.closes(key), 1, f"close() calls of the iterable of {what}")

    def environ_of(self, raw):
        """The JSON environ for a raw request (sent with Connection: close)."""
        data = self.exchange(raw)
        status, headers, body = split_response(data)
        self.assertIn(" 200 ", status, data[:500])
        if "chunked" in headers.get("transfer-encoding", []):
            body, complete = parse_chunked(body)
            self.assertTrue(complete, data[:500])
        return json.loads(body)


class Environ(EdgeCase):
    """The environ keys, with process environment variables that must not leak into it."""

    # wsgi.multithread: gunicorn's sync worker says False (it runs one request at a time).
    reference_worker = "gthread"
    env = {"HTTP_HOST": "evil", "HTTP_X_INJECTED": "evil", "REMOTE_USER": "evil",
           "SERVER_SOFTWARE_INJECTED": "evil"}

    def test_path_info_is_the_latin1_decoding_of_the_percent_decoded_bytes(self):
        env = self.get_json("/caf%C3%A9/environ")
        self.assertEqual(env["PATH_INFO"], "/caf\u00c3\u00a9/environ",
                         "PATH_INFO must be the UTF-8 bytes of 'é' each as a latin-1 character")
        self.assertEqual(env["PATH_INFO"].encode("latin-1").decode("utf-8"), "/café/environ")
        env = self.get_json("/%FF%FEx/environ")
        self.assertEqual(env["PATH_INFO"], "/\u00ff\u00fex/environ",
                         "bytes that are not UTF-8 round-trip too")
        env = self.get_json("/a%2Fb/environ")
        self.assertEqual(env["PATH_INFO"], "/a/b/environ", "%2F is decoded like any escape")

    def test_query_string_is_as_sent_undecoded(self):
        query = "a=1&a=2&b=%20x+y&c=caf%C3%A9&d=&e"
        env = self.get_json(f"/environ?{query}")
        self.assertEqual(env["QUERY_STRING"], query)
        self.assertEqual(self.get_json("/environ")["QUERY_STRING"], "",
                         "QUERY_STRING is present and empty without a query")

    def test_method_protocol_server_and_remote_keys(self):
        port = self.server().port
        env = self.get_json("/environ")
        self.assertEqual(env["REQUEST_METHOD"], "GET")
        self.assertEqual(env["SCRIPT_NAME"], "")
        self.assertEqual(env["PATH_INFO"], "/environ")
        self.assertEqual(env["SERVER_PROTOCOL"], "HTTP/1.1")
        self.assertEqual(env["SERVER_NAME"], "127.0.0.1")
        self.assertEqual(env["SERVER_PORT"], str(port), "SERVER_PORT is a str")
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertIsInstance(env["REMOTE_PORT"], str)
        self.assertTrue(env["REMOTE_PORT"].isdigit(), env["REMOTE_PORT"])
        self.assertEqual(env["HTTP_HOST"], f"127.0.0.1:{port}")
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            got, _, body = self.server().request(method, "/environ", body=b"")
            self.assertEqual(got, 200, body)
            self.assertEqual(json.loads(body)["REQUEST_METHOD"], method)

    def test_an_http_1_0_request_says_so(self):
        env = self.environ_of(request_bytes("/environ", version="HTTP/1.0"))
        self.assertEqual(env["SERVER_PROTOCOL"], "HTTP/1.0")

    def test_the_wsgi_keys(self):
        env = self.get_json("/environ")
        self.assertEqual(env["wsgi.version"], [1, 0])
        self.assertEqual(env["_types"].get("wsgi.version"), "tuple", "wsgi.version is a tuple")
        self.assertEqual(env["wsgi.url_scheme"], "http")
        self.assertIs(env["wsgi.multiprocess"], False, "one process serves")
        self.assertIs(env["wsgi.run_once"], False)
        self.assertIs(env["wsgi.input_terminated"], True)
        for key in ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper"):
            self.assertIn(key, env["_types"], f"{key} is missing from the environ")
        self.assertNotIn(env["_types"]["wsgi.file_wrapper"], ("NoneType",))

    # gunicorn differs (sync worker only, and rightly: it runs one request at a time).
    @gunicorn_differs("the sync worker says wsgi.multithread False", "sync")
    def test_wsgi_multithread_is_true(self):
        self.assertIs(self.get_json("/environ")["wsgi.multithread"], True,
                      "several Python threads run the application at once")

    def test_content_type_and_content_length_are_not_http_keys(self):
        got, _, body = self.server().request("POST", "/environ", body=b"hello",
                                             headers={"Content-Type": "text/x-test"})
        env = json.loads(body)
        self.assertEqual((env["CONTENT_TYPE"], env["CONTENT_LENGTH"]), ("text/x-test", "5"))
        self.assertNotIn("HTTP_CONTENT_TYPE", env)
        self.assertNotIn("HTTP_CONTENT_LENGTH", env)
        env = self.get_json("/environ")
        self.assertNotIn("CONTENT_LENGTH", env, "a GET without a body has no CONTENT_LENGTH")
        self.assertNotIn("CONTENT_TYPE", env)

    def test_header_names_holding_an_underscore_are_left_out(self):
        env = self.environ_of(request_bytes("/environ", headers=[
            ("X-Forwarded-For", "10.0.0.1"), ("X_Forwarded_For", "6.6.6.6"),
            ("X_Under", "x"), ("X-Dash", "y"), ("Connection", "close")]))
        self.assertEqual(env["HTTP_X_FORWARDED_FOR"], "10.0.0.1",
                         "the _ spelling must not pass for (or join) the - one")
        self.assertEqual(env["HTTP_X_DASH"], "y")
        self.assertFalse([k for k in env if "UNDER" in k], "a header with _ reached the environ")
        self.assert_logged_by_httpy("left out of the WSGI environ")

    def test_process_environment_variables_do_not_reach_the_environ(self):
        env = self.get_json("/environ")
        self.assertEqual(env["HTTP_HOST"], f"127.0.0.1:{self.server().port}",
                         "HTTP_HOST is the client's Host, never the server process's variable")
        for key in ("HTTP_X_INJECTED", "REMOTE_USER", "SERVER_SOFTWARE_INJECTED"):
            self.assertNotIn(key, env, f"the process environment variable {key} leaked")
        env = self.environ_of(request_bytes("/environ", version="HTTP/1.0", host=False))
        self.assertNotIn("HTTP_HOST", env, "a request without Host has no HTTP_HOST")

    # gunicorn differs: repeated fields are joined with "," (no space), Cookie too.
    @gunicorn_differs("repeated request headers are joined with ',' not ', '")
    def test_repeated_headers_are_joined_with_comma_space(self):
        env = self.environ_of(request_bytes("/environ", headers=[
            ("X-Many", "1"), ("X-Many", "2"), ("x-many", "3"), ("Connection", "close")]))
        self.assertEqual(env["HTTP_X_MANY"], "1, 2, 3")

    # gunicorn differs: as above, "a=1,b=2", which no cookie parser splits.
    @gunicorn_differs("repeated Cookie headers are joined with ',' not '; '")
    def test_repeated_cookie_headers_are_joined_with_semicolon_space(self):
        env = self.environ_of(request_bytes("/environ", headers=[
            ("Cookie", "a=1"), ("Cookie", "b=2"), ("Connection", "close")]))
        self.assertEqual(env["HTTP_COOKIE"], "a=1; b=2")

    def test_a_chunked_upload_is_read_whole(self):
        data = self.exchange(request_bytes("/input?how=read", method="POST", headers=[
            ("Transfer-Encoding", "chunked"), ("Connection", "close")],
            body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
        status, _, body = split_response(data)
        self.assertIn(" 200 ", status, data)
        doc = json.loads(body)
        self.assertEqual((doc["length"], doc["sha256"]),
                         (11, hashlib.sha256(b"hello world").hexdigest()))

    # gunicorn differs: CONTENT_LENGTH is absent for a chunked request (PEP 3333 allows that,
    # but Django then reads nothing).
    @gunicorn_differs("a chunked upload has no CONTENT_LENGTH")
    def test_a_chunked_upload_has_its_real_content_length(self):
        data = self.exchange(request_bytes("/input?how=content-length", method="POST", headers=[
            ("Transfer-Encoding", "chunked"), ("Connection", "close")],
            body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
        doc = json.loads(split_response(data)[2])
        self.assertEqual(doc["content_length"], "11")
        self.assertEqual(doc["length"], 11, "reading CONTENT_LENGTH bytes gives the whole body")


class RootPath(EdgeCase):
    """`--root-path /mount` (gunicorn: the SCRIPT_NAME environment variable)."""

    options = ("--root-path", "/mount")
    still_serving = ("/mount/hello", b"Hello, World!")

    def test_the_prefix_moves_from_path_info_to_script_name(self):
        env = self.get_json("/mount/environ")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", "/environ"))
        env = self.get_json("/mount/a/b/environ?x=1")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]),
                         ("/mount", "/a/b/environ", "x=1"))
        env = self.get_json("/mount/caf%C3%A9/environ")
        self.assertEqual(env["PATH_INFO"], "/caf\u00c3\u00a9/environ")

    def test_the_prefix_alone_leaves_path_info_empty(self):
        env = self.get_json("/mount?dump=environ")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", ""))

    # gunicorn differs: it strips SCRIPT_NAME as a string prefix ('/mountain' -> 'ain').
    @gunicorn_differs("SCRIPT_NAME is stripped mid-segment: /mountain gives PATH_INFO 'ain/...'")
    def test_the_prefix_must_end_on_a_segment(self):
        env = self.get_json("/mountain/environ")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("", "/mountain/environ"))

    # gunicorn differs: a path outside SCRIPT_NAME is a ConfigurationProblem (an error page).
    @gunicorn_differs("a path outside SCRIPT_NAME is refused instead of served whole")
    def test_a_path_outside_the_prefix_is_served_whole(self):
        env = self.get_json("/elsewhere/environ")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("", "/elsewhere/environ"))

    def test_a_script_name_header_does_not_set_script_name(self):
        env = self.environ_of(request_bytes("/mount/environ", headers=[
            ("Script-Name", "/forged"), ("Connection", "close")]))
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", "/environ"))

    # gunicorn differs: a `SCRIPT_NAME:` header is one of its default forwarder_headers, taken
    # from any client in forwarded_allow_ips (127.0.0.1 by default) and overriding the setting.
    @gunicorn_differs("a SCRIPT_NAME request header from 127.0.0.1 overrides SCRIPT_NAME")
    def test_a_script_name_header_spelt_with_underscore_does_not_either(self):
        env = self.environ_of(request_bytes("/mount/environ", headers=[
            ("SCRIPT_NAME", "/forged"), ("Connection", "close")]))
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", "/environ"))


class Input(EdgeCase):
    """wsgi.input read with read(), read(n), readline(), readline(n), readlines() and iteration,
    for Content-Length and chunked uploads alike; reading past the end gives b""."""

    WAYS = ("read", "readn", "content-length", "readline", "readline-limit", "readlines", "iter")

    @staticmethod
    def body():
        lines = [b"line %d %s\r\n" % (i, hashlib.sha256(b"%d" % i).hexdigest().encode() * (i % 5))
                 for i in range(2000)]
        return b"".join(lines) + b"\x00\xff no newline at the end"

    def check(self, how, body, chunked):
        if chunked:
            framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7000]), body[i:i + 7000])
                              for i in range(0, len(body), 7000)) + b"0\r\n\r\n"
            headers = [("Transfer-Encoding", "chunked")]
        else:
            framed = body
            headers = [("Content-Length", str(len(body)))]
        data = self.exchange(request_bytes(f"/input?how={how}&n=777", method="POST",
                                           headers=headers + [("Connection", "close")],
                                           body=framed), timeout=10)
        status, _, got = split_response(data)
        self.assertIn(" 200 ", status, data[:1000])
        doc = json.loads(got)
        self.assertEqual((doc["length"], doc["sha256"]),
                         (len(body), hashlib.sha256(body).hexdigest()),
                         f"how={how} chunked={chunked}: the bytes read are not the body")
        self.assertEqual(doc["after"], 0, f"how={how}: read past the end gave bytes")
        if body and how in ("readline", "iter", "readline-limit"):
            self.assertGreaterEqual(doc["calls"], 2001, f"how={how}: one call per line")

    def test_every_way_of_reading_a_content_length_body(self):
        body = self.body()
        for how in self.WAYS:
            with self.subTest(how=how):
                self.check(how, body, chunked=False)

    def test_every_way_of_reading_a_chunked_body(self):
        body = self.body()
        for how in self.WAYS:
            if how == "content-length" and self.under_reference:
                continue  # gunicorn differs: no CONTENT_LENGTH for chunked (see Environ)
            with self.subTest(how=how):
                self.check(how, body, chunked=True)

    def test_an_empty_body(self):
        for how in self.WAYS:
            with self.subTest(how=how):
                self.check(how, b"", chunked=False)


class SpooledInput(Input):
    """The same ways of reading, with every body past 4 KiB spooled to a temporary file."""

    options = ("--spool-above", "4096")


class LargeUpload(EdgeCase):
    """A body far past the spool threshold costs the server no RAM of its size: the app reads it
    in pieces from the spool file."""

    MIB = 1024 * 1024
    options = ("--max-body", str(200 * MIB))

    def peak_rss_mib(self):
        with open(f"/proc/{self.server().proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")

    def upload(self, body, chunked):
        conn = self.server().connect(60)
        self.addCleanup(conn.close)
        if chunked:
            pieces = (body[i:i + self.MIB] for i in range(0, len(body), self.MIB))
            conn.request("POST", "/input/sha256", body=pieces, encode_chunked=True,
                         headers={"Transfer-Encoding": "chunked"})
        else:
            conn.request("POST", "/input/sha256", body=body)
        response = conn.getresponse()
        return response.status, response.read()

    @gunicorn_differs("the process measured would be gunicorn's arbiter, not its worker")
    def test_a_150_mib_upload_is_read_from_the_spool_not_memory(self):
        body = os.urandom(self.MIB) * 150
        want = {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}
        self.assertEqual(self.upload(b"warm-up", False)[0], 200)
        before = self.peak_rss_mib()
        for chunked in (False, True):
            with self.subTest(chunked=chunked):
                status, got = self.upload(body, chunked)
                self.assertEqual((status, json.loads(got)), (200, want))
        grown = self.peak_rss_mib() - before
        self.assertLess(grown, 40, f"the server's peak RSS grew by {grown:.0f} MiB for two "
                                   "150 MiB uploads: the body was held in memory")

    @gunicorn_differs("gunicorn sets no body limit")
    def test_a_body_past_max_body_is_still_413(self):
        data = self.exchange(request_bytes("/input/sha256", method="POST", headers=[
            ("Content-Length", str(201 * self.MIB))]))
        self.assertIn(" 413 ", split_response(data)[0], data[:300])


class Responses(EdgeCase):
    """start_response, write(), exc_info before the head, invalid statuses and headers,
    latin-1 header values, wsgi.errors and wsgi.file_wrapper."""

    def test_write_sends_its_bytes(self):
        status, _, body = self.get("/write")
        self.assertEqual((status, body), (200, b"written by write()"))
        status, _, body = self.get("/write-then-iterable")
        self.assertEqual((status, body), (200, b"written, returned"),
                         "write()'s bytes come before the iterable's")

    def test_start_response_on_the_first_next_sets_the_status(self):
        key = uuid.uuid4().hex
        status, headers, body = self.get(f"/late-start?key={key}")
        self.assertEqual((status, headers["X-Late"], body), (201, "yes", b"started late"))
        self.assert_closed_once(key, "/late-start")

    def test_exc_info_before_the_head_replaces_the_status(self):
        status, headers, body = self.get("/exc-before")
        self.assertEqual(status, 500)
        self.assertEqual(headers["X-Replaced"], "yes")
        self.assertEqual(body, b"replaced by exc_info")
        self.assert_still_serving()

    # gunicorn differs: it appends the second call's headers to the first call's, where PEP
    # 3333 says they replace them.
    @gunicorn_differs("start_response with exc_info keeps the first call's headers")
    def test_exc_info_before_the_head_replaces_the_headers(self):
        status, headers, _ = self.get("/exc-before")
        self.assertEqual(status, 500)
        self.assertIsNone(headers["X-First"], "the first call's headers must be gone")
        self.assertEqual(headers.get_all("Content-Type"), ["text/plain"])

    def test_a_status_below_200_is_500(self):
        status, _, body = self.get("/bad-status")
        self.assertEqual(status, 500)
        self.assertNotIn(b"never sent", body)
        self.assert_logged_by_httpy('"99 Too Low"')
        self.assert_still_serving()

    def test_a_status_that_is_not_a_str_or_not_three_digits_is_500(self):
        for status in ("bytes", "abc Bad", "2000 OK", "-20 Negative"):
            with self.subTest(status=status):
                got, _, body = self.get("/bad-status?" + urllib.parse.urlencode(
                    {"status": status}))
                self.assertEqual(got, 500, f"start_response({status!r}) -> {got} {body!r}")
                self.assertNotIn(b"never sent", body)
        self.assert_still_serving()

    # gunicorn differs: it sends any three-digit status the application gives.
    @gunicorn_differs("a status of 600 or of 1xx from the application is sent as it is")
    def test_a_status_above_599_or_informational_is_500(self):
        for status in ("600 Too High", "999 Way Too High", "100 Continue", "101 Switching"):
            with self.subTest(status=status):
                data = self.exchange(request_bytes(
                    "/bad-status?" + urllib.parse.urlencode({"status": status}),
                    headers=[("Connection", "close")]))
                line = split_response(data)[0]
                self.assertIn(" 500 ", line, f"start_response({status!r}) -> {data[:300]!r}")
        self.assert_still_serving()

    def test_a_header_value_with_a_newline_is_500_and_not_sent(self):
        data = self.exchange(request_bytes("/bad-header", headers=[("Connection", "close")]))
        status, headers, body = split_response(data)
        self.assertIn(" 500 ", status, data[:500])
        self.assertNotIn(b"Injected", data, "a header was injected through the newline")
        self.assertNotIn(b"never sent", body)
        self.assert_still_serving()

    def test_latin1_header_values_round_trip(self):
        data = self.exchange(request_bytes("/latin1", headers=[("X-Latin", b"caf\xe9"),
                                                               ("Connection", "close")]))
        self.assertIn(b"\r\nX-Latin: caf\xe9\r\n", data, "a latin-1 str goes out as its bytes")
        doc = json.loads(split_response(data)[2])
        self.assertEqual(doc["x_latin"], "café")
        self.assertEqual(doc["code_points"], [99, 97, 102, 0xE9])
        data = self.exchange(request_bytes("/latin1", headers=[("X-Latin", "café".encode()),
                                                               ("Connection", "close")]))
        doc = json.loads(split_response(data)[2])
        self.assertEqual(doc["x_latin"], "caf\u00c3\u00a9",
                         "UTF-8 bytes in a header arrive as their latin-1 decoding")

    def test_wsgi_errors_lines_reach_the_log_whole(self):
        tag = uuid.uuid4().hex[:12]
        start = self.server().line_count()
        status, _, body = self.get(f"/errors?tag={tag}")
        self.assertEqual((status, body), (200, b"written"))
        self.server().wait_for_log(f"errors-{tag} first line, its end", start=start)
        self.server().wait_for_log(f"errors-{tag} second line", start=start)
        mine = [line for line in self.log_lines_since(start) if tag in line]
        self.assertEqual(len(mine), 2, f"two lines written in three write() calls: {mine}")

    def test_file_wrapper_over_a_file(self):
        for offset in (0, 1000):
            with self.subTest(offset=offset):
                want = json.loads(self.get(f"/filewrapper/sha256?offset={offset}")[2])
                status, _, body = self.get(f"/filewrapper?offset={offset}")
                self.assertEqual(status, 200)
                self.assertEqual(len(body), want["length"],
                                 "the file is sent from its current position to its end")
                self.assertEqual(hashlib.sha256(body).hexdigest(), want["sha256"])

    # gunicorn differs: its sendfile path frames a file without Content-Length as one chunk.
    @gunicorn_differs("a file_wrapper body goes out chunked, without Content-Length")
    def test_file_wrapper_over_a_file_has_its_length(self):
        status, headers, body = self.get("/filewrapper?offset=1000")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Length"], str(len(body)))
        self.assertIsNone(headers["Transfer-Encoding"])

    def test_file_wrapper_over_bytesio(self):
        want = json.loads(self.get("/filewrapper-bytesio/sha256")[2])
        status, _, body = self.get("/filewrapper-bytesio")
        self.assertEqual(status, 200)
        self.assertEqual((len(body), hashlib.sha256(body).hexdigest()),
                         (want["length"], want["sha256"]))

    def test_close_of_a_non_generator_iterable_runs_once(self):
        key = uuid.uuid4().hex
        status, _, body = self.get(f"/close-count?key={key}")
        self.assertEqual((status, body), (200, b"counted body"))
        self.assert_closed_once(key, "/close-count")

    def test_head_keeps_the_content_length_the_get_would_have(self):
        # RFC 9110 8.6: a Content-Length in a HEAD response must be the GET's. Werkzeug (so
        # Flask) answers HEAD like this route: its header, an empty body.
        status, headers, body = self.get("/head")
        self.assertEqual((status, headers["Content-Length"], body), (200, "13", b"thirteen char"))
        data = self.exchange(request_bytes("/head", method="HEAD",
                                           headers=[("Connection", "close")]))
        line, headers, body = split_response(data)
        self.assertIn(" 200 ", line)
        self.assertEqual(headers.get("content-length"), ["13"],
                         f"HEAD must not announce another length than GET's: {data!r}")
        self.assertEqual(body, b"", "a HEAD response has no body")

    def test_an_unknown_path_is_the_apps_404(self):
        status, _, body = self.get("/no/such/route")
        self.assertEqual((status, body), (404, b"no route for '/no/such/route'"))


class Streaming(EdgeCase):
    """Streamed bodies: chunked for HTTP/1.1, close-delimited for HTTP/1.0, each chunk sent as
    it is yielded; cut (never faked complete) when the generator raises, when start_response
    gets exc_info after the head, or when the body is shorter than its Content-Length; and
    close() exactly once on every path, the client leaving mid-stream included."""

    def stream(self, path, version="HTTP/1.1"):
        data = self.exchange(request_bytes(path, version=version,
                                           headers=[("Connection", "close")]))
        return split_response(data)

    def test_an_http_1_1_stream_is_chunked(self):
        key = uuid.uuid4().hex
        status, headers, body = self.stream(f"/slow-stream?n=4&delay=0&key={key}")
        self.assertIn(" 200 ", status)
        self.assertEqual(headers.get("transfer-encoding"), ["chunked"], headers)
        self.assertNotIn("content-length", headers)
        payload, complete = parse_chunked(body)
        self.assertTrue(complete, f"the chunked body did not end properly: {body!r}")
        self.assertEqual(payload, b"".join(b"data: %d\n\n" % i for i in range(4)))
        self.assert_closed_once(key, "a stream read to its end")

    def test_an_http_1_0_stream_is_delimited_by_closing(self):
        key = uuid.uuid4().hex
        status, headers, body = self.stream(f"/slow-stream?n=3&delay=0&key={key}", "HTTP/1.0")
        self.assertTrue(status.startswith("HTTP/1."), status)
        self.assertIn(" 200 ", status)
        self.assertNotIn("transfer-encoding", headers, "no chunked coding for HTTP/1.0")
        self.assertNotIn("content-length", headers)
        self.assertEqual(body, b"data: 0\n\ndata: 1\n\ndata: 2\n\n")
        self.assert_closed_once(key, "an HTTP/1.0 stream")

    # gunicorn differs (sync worker only): it closes the connection after every response.
    @gunicorn_differs("the sync worker closes every connection after one response", "sync")
    def test_the_connection_is_reused_after_a_chunked_stream(self):
        from serve_fixture import read_response
        with self.server().raw(5) as sock, sock.makefile("rb") as reader:
            sock.sendall(request_bytes("/slow-stream?n=3&delay=0") + request_bytes("/hello"))
            first = read_response(reader)
            second = read_response(reader)
        self.assertEqual(first.body, b"data: 0\n\ndata: 1\n\ndata: 2\n\n")
        self.assertEqual((second.status, second.body), (200, b"Hello, World!"))

    def test_server_sent_events_arrive_one_by_one(self):
        with self.server().raw(5) as sock:
            start = time.monotonic()
            sock.sendall(request_bytes("/slow-stream?n=4&delay=0.4"))
            data, seen = b"", {}
            while len(seen) < 4:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, f"the stream ended early: {data!r}")
                data += chunk
                for i in range(4):
                    if i not in seen and b"data: %d\n\n" % i in data:
                        seen[i] = time.monotonic() - start
        self.assertLess(seen[0], 0.35, f"the first event waited for later ones: {seen}")
        for i in range(1, 4):
            self.assertGreater(seen[i] - seen[i - 1], 0.25,
                               f"event {i} did not arrive on its own: {seen}")

    def test_a_generator_raising_mid_stream_cuts_the_chunked_body_and_closes(self):
        key = uuid.uuid4().hex
        status, headers, body = self.stream(f"/raise-mid?key={key}")
        self.assertIn(" 200 ", status)
        self.assertEqual(headers.get("transfer-encoding"), ["chunked"], headers)
        payload, complete = parse_chunked(body)
        self.assertFalse(complete, "a failed body must not end with the terminating 0-chunk")
        self.assertIn(b"one ", payload)
        self.server().wait_for_log("the body failed mid-stream")
        self.assert_closed_once(key, "a generator that raised")

    def test_exc_info_after_the_head_reraises_cuts_the_body_and_closes(self):
        key = uuid.uuid4().hex
        status, headers, body = self.stream(f"/exc-after?key={key}")
        self.assertIn(" 200 ", status, "the status already sent stays")
        payload, complete = parse_chunked(body)
        self.assertFalse(complete, "the body must be cut, not ended")
        self.assertEqual(payload, b"head sent. ")
        self.assertNotIn(b"never sent", body)
        self.server().wait_for_log("too late to change the status")
        self.assert_closed_once(key, "exc_info after the head")

    # gunicorn differs (gthread worker): it leaves that connection open until its keep-alive
    # timeout (2 s) ends it; the client waits for the 5 bytes that never come.
    @gunicorn_differs("the gthread worker keeps a connection whose body fell short open "
                      "until its keep-alive timeout", "gthread")
    def test_a_body_short_of_its_content_length_closes_the_connection(self):
        key = uuid.uuid4().hex
        # Closed at once: 1 s is plenty, and shorter than gunicorn's 2 s keep-alive timeout.
        data = self.exchange(request_bytes(f"/content-length-short?key={key}"), timeout=1.0)
        status, headers, body = split_response(data)
        self.assertIn(" 200 ", status)
        self.assertEqual(headers.get("content-length"), ["10"])
        self.assertEqual(body, b"12345", "the 5 bytes given, then the connection closes")
        self.assert_logged_by_httpy("ended after 5 of its Content-Length of 10")
        self.assert_closed_once(key, "a body short of its Content-Length")

    def test_a_body_longer_than_its_content_length_is_cut_there(self):
        key = uuid.uuid4().hex
        status, headers, body = self.stream(f"/content-length-long?key={key}")
        self.assertIn(" 200 ", status)
        self.assertEqual(headers.get("content-length"), ["5"])
        self.assertEqual(body, b"12345", "nothing past the announced length")
        self.assert_closed_once(key, "a body longer than its Content-Length")

    def test_close_runs_once_when_the_client_leaves_mid_stream(self):
        key = uuid.uuid4().hex
        with self.server().raw(5) as sock:
            sock.sendall(request_bytes(f"/slow-stream?n=200&delay=0.03&key={key}"))
            data = b""
            while b"data: 2\n" not in data:
                chunk = sock.recv(4096)
                self.assertTrue(chunk, f"the stream ended early: {data!r}")
                data += chunk
        # 200 events 30 ms apart take 6 s: a close() within 3 s means the server noticed.
        self.assert_closed_once(key, "a stream whose client went away")
        self.assert_still_serving()


class Backpressure(EdgeCase):
    """A client that stops reading stops the application: the server asks for the next chunk
    only once the last one is written, so the app gets no further ahead than the socket
    buffers hold, and no thread waits on the socket holding the GIL."""

    def yielded(self, key):
        status, _, body = self.get(f"/endless/yielded?key={key}")
        self.assertEqual(status, 200, body)
        return int(body)

    def test_an_endless_generator_waits_for_a_client_that_stopped_reading(self):
        key = uuid.uuid4().hex
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.server().port))
        with sock:
            sock.sendall(request_bytes(f"/endless?key={key}"))
            self.assertTrue(sock.recv(65536).startswith(b"HTTP/1.1 200 "))
            time.sleep(1.5)  # not reading: the buffers fill, then the app must wait
            stalled = self.yielded(key)
            time.sleep(1.0)
            self.assertEqual(self.yielded(key), stalled, "the app kept producing for a client "
                                                         "that reads nothing")
            # What the kernel's buffers hold on loopback (a few MiB), not more.
            self.assertLess(stalled * 65536, 32 * 1024 * 1024, f"{stalled} chunks went out")
            self.assert_still_serving()  # and the server answers others meanwhile
            received = 0
            while received < 4 * 1024 * 1024:  # reading again lets it go on
                received += len(sock.recv(1 << 20))
        self.assertGreater(self.yielded(key), stalled)
        self.assert_closed_once(key, "an endless stream whose client left")


class StalledStream(EdgeCase):
    """After the head, each chunk must come within --handler-timeout: a generator that stalls is
    closed, and so is the connection, both logged."""

    options = ("--handler-timeout", "1")

    @gunicorn_differs("gunicorn's sync worker has no per-chunk timeout (its --timeout kills the "
                      "whole worker)")
    def test_a_stalled_generator_is_closed_and_the_connection_cut(self):
        key = uuid.uuid4().hex
        start = self.server().line_count()
        began = time.monotonic()
        status, headers, body = split_response(self.exchange(
            request_bytes(f"/stall?key={key}", headers=[("Connection", "close")]), timeout=10))
        waited = time.monotonic() - began
        self.assertIn(" 200 ", status)
        payload, complete = parse_chunked(body)
        self.assertEqual(payload, b"data: first\n\n")
        self.assertFalse(complete, "a stalled stream must not end like a finished one")
        self.assertLess(waited, 8, "the connection stayed open long after the handler timeout")
        self.assert_closed_once(key, "a stalled stream")
        self.server().wait_for_log("TimeoutError", start=start)
        self.assert_still_serving()


class Validated(EdgeCase):
    """edge_app inside wsgiref.validate: the routes that are valid WSGI pass every one of the
    validator's checks of the server's side."""

    target = VALIDATED + ":edge_app"

    def test_valid_routes_pass_wsgiref_validate(self):
        key = uuid.uuid4().hex
        body = b"line one\nline two\nend"
        cases = [
            ("GET", "/hello", None, 200, b"Hello, World!"),
            ("HEAD", "/hello", None, 200, b""),
            ("GET", "/environ?a=1", None, 200, None),
            ("POST", "/environ", b"abc", 200, None),
            ("GET", "/write", None, 200, b"written by write()"),
            ("GET", "/write-then-iterable", None, 200, b"written, returned"),
            ("GET", f"/late-start?key={key}", None, 201, b"started late"),
            ("GET", "/exc-before", None, 500, b"replaced by exc_info"),
            ("GET", f"/close-count?key={key}", None, 200, b"counted body"),
            ("GET", f"/slow-stream?n=3&delay=0&key={key}", None, 200,
             b"data: 0\n\ndata: 1\n\ndata: 2\n\n"),
            ("GET", "/latin1", None, 200, None),
            ("POST", "/input?how=readn&n=5", body, 200, None),
            ("POST", "/input?how=readline", body, 200, None),
            ("POST", "/input?how=readline-limit&n=4", body, 200, None),
            ("POST", "/input?how=readlines", body, 200, None),
            ("POST", "/input?how=iter", body, 200, None),
            ("GET", "/errors?tag=validated", None, 200, b"written"),
            ("GET", "/filewrapper", None, 200, None),
            ("GET", "/filewrapper-bytesio", None, 200, None),
            ("GET", f"/content-length-long?key={key}", None, 200, b"12345"),
            ("GET", "/nowhere", None, 404, None),
        ]
        for method, path, data, status, want in cases:
            with self.subTest(method=method, path=path):
                got, _, got_body = self.server().request(method, path, body=data)
                self.assertEqual(got, status, f"{method} {path}: {got_body[:300]!r}")
                if want is not None:
                    self.assertEqual(got_body, want)
        wait_until(lambda: self.closes(key) >= 4, timeout=3.0)
        self.assertEqual(self.closes(key), 4, "close() of each of the four counted iterables")
        time.sleep(0.3)  # the validator's complaints about an unclosed iterator come at GC
        log = self.server().log()
        for word in ("AssertionError", "WSGIWarning", "garbage collected without being closed"):
            self.assertNotIn(word, log, f"wsgiref.validate complained:\n{log}")


if __name__ == "__main__":
    unittest.main()
