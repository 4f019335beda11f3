"""PEP 3333 corners over a real socket, on a raw WSGI application (tests/data/wsgi/edge_app.py):
the environ as sent, start_response inside a generator and with exc_info after the head,
write(), bodies longer or shorter than their Content-Length, close() on every path."""

import json
import os
import re
import socket
import time
import unittest

import serve_fixture

EDGE_APP = os.path.join(serve_fixture.SOURCE, "tests", "data", "wsgi", "edge_app.py")


def exchange(server, raw):
    """Sends `raw` on a new connection and reads until the server closes it."""
    with server.raw(timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


class WsgiCorners(serve_fixture.ServerCase):
    handler = EDGE_APP
    options = ("--root-path", "/mount")
    env = {"HTTP_HOST": "evil", "HTTP_X_INJECTED": "evil"}
    still_serving = ("/closed", None)

    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = serve_fixture.Server(cls.handler, *cls.options, env=cls.env)
        return cls._server

    def assert_still_serving(self, server=None):
        status, _, _ = self.server().request("GET", "/closed")
        self.assertEqual(status, 200)

    def closed(self):
        return int(self.server().request("GET", "/closed")[2])

    def wait_closed(self, count):
        deadline = time.monotonic() + 10
        while self.closed() < count and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.closed(), count)

    def environ(self, path, headers=None):
        status, _, body = self.server().request("GET", path, headers=headers)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_the_environ_is_the_request_as_pep_3333_spells_it(self):
        env = self.environ("/caf%C3%A9/environ?a=1&b=%20", {"X-Many": "1", "X_Under": "x"})
        self.assertEqual(env["PATH_INFO"], "/caf\u00c3\u00a9/environ")  # latin-1 of the UTF-8
        self.assertEqual(env["SCRIPT_NAME"], "")
        self.assertEqual(env["QUERY_STRING"], "a=1&b=%20")
        self.assertEqual(env["SERVER_PROTOCOL"], "HTTP/1.1")
        self.assertEqual(env["SERVER_PORT"], str(self.server().port))
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["wsgi.version"], [1, 0])
        self.assertIs(env["wsgi.multithread"], True)
        self.assertIs(env["wsgi.run_once"], False)
        self.assertIs(env["wsgi.input_terminated"], True)
        self.assertNotIn("HTTP_X_UNDER", env)
        self.assertFalse([k for k in env if "UNDER" in k])
        self.server().wait_for_log("left out of the WSGI environ")

    def test_process_environment_variables_never_reach_the_environ(self):
        env = self.environ("/environ")
        self.assertEqual(env["HTTP_HOST"], f"127.0.0.1:{self.server().port}")
        self.assertNotIn("HTTP_X_INJECTED", env)

    def test_the_root_path_moves_to_script_name_only_on_a_whole_segment(self):
        env = self.environ("/mount/environ")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", "/environ"))
        env = self.environ("/mountain/environ")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("", "/mountain/environ"))
        env = self.environ("/environ", {"Script-Name": "/forged"})
        self.assertEqual(env["SCRIPT_NAME"], "")

    def test_a_chunked_upload_has_its_real_content_length(self):
        data = exchange(self.server(), b"POST /input HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        self.assertIn(b"X-Length: 11", data)
        self.assertTrue(data.endswith(b"hello world"), data)

    def test_start_response_inside_the_generator_sets_the_status(self):
        status, headers, body = self.server().request("GET", "/late-start")
        self.assertEqual((status, headers["X-Late"], body), (201, "yes", b"started late"))

    def test_write_sends_its_bytes_before_the_iterable(self):
        self.assertEqual(self.server().request("GET", "/write")[2], b"written, returned")

    def test_exc_info_after_the_head_cuts_the_body_and_closes(self):
        data = exchange(self.server(), b"GET /exc-after HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", data)
        self.assertIn(b"head sent", data)
        self.assertNotIn(b"never", data)
        self.assertFalse(data.endswith(b"0\r\n\r\n"))
        self.server().wait_for_log("too late to change the status")

    def test_a_generator_raising_mid_stream_is_truncated_and_closed_once(self):
        before = self.closed()
        data = exchange(self.server(), b"GET /raise-mid HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"one ", data)
        self.assertFalse(data.endswith(b"0\r\n\r\n"), "a failed body must not end like a whole one")
        self.wait_closed(before + 1)

    def test_close_runs_once_when_the_client_leaves_mid_stream(self):
        before = self.closed()
        with self.server().raw(timeout=10) as s:
            s.sendall(b"GET /slow?n=100&delay=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"chunk 1" not in data:
                data += s.recv(4096)
        self.wait_closed(before + 1)
        time.sleep(0.3)
        self.assertEqual(self.closed(), before + 1)

    def test_a_body_short_of_its_content_length_closes_the_connection(self):
        data = exchange(self.server(), b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(data.endswith(b"\r\n\r\n12345"), data)
        self.server().wait_for_log("ended after 5 of its Content-Length of 10")

    def test_a_body_longer_than_its_content_length_is_cut_there(self):
        status, headers, body = self.server().request("GET", "/long")
        self.assertEqual((status, headers["Content-Length"], body), (200, "5", b"12345"))

    def test_an_http_1_0_stream_is_delimited_by_closing(self):
        data = exchange(self.server(), b"GET /slow?n=3&delay=0 HTTP/1.0\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertEqual(body, b"chunk 0\nchunk 1\nchunk 2\n")

    def test_latin1_header_values_round_trip(self):
        data = exchange(self.server(), b"GET /latin1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        b"X-Latin: caf\xe9\r\n\r\n")
        self.assertIn(b"X-Latin: caf\xe9\r\n", data)
        self.assertIn(b"X-Echo: caf\xe9\r\n", data)

    def test_a_bad_status_is_500_naming_it(self):
        self.assertEqual(self.server().request("GET", "/bad-status")[0], 500)
        self.server().wait_for_log('"99 Too Low"')
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
