"""The go contract's streamed bodies over a real socket: a generator's chunks go out chunked
(HTTP/1.1) or close-delimited (HTTP/1.0) as they come, a failing one cuts the body, and the
generator is closed on every path, a client that leaves mid-stream included. The same for an
`async def` handler's async generator."""

import http.client
import os
import socket
import time
import unittest

import serve_fixture


def receive_until(sock, marker):
    """What `sock` receives up to and including the first `marker` (or until it closes)."""
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class GoStreaming(serve_fixture.ServerCase):
    def closed_count(self):
        status, _, body = self.server().request("GET", "/generator-count")
        self.assertEqual(status, 200)
        return int(body)

    def test_a_generator_body_is_sent_chunked_as_it_comes(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server().port, timeout=10)
        conn.request("GET", "/generator?n=4")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(response.getheader("Content-Length"))
        self.assertEqual(response.read(), b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n")
        conn.request("GET", "/still/alive")  # the connection is reused after the last chunk
        self.assertEqual(conn.getresponse().read(), b"/still/alive")
        conn.close()

    def test_the_first_chunk_arrives_before_the_generator_ends(self):
        with socket.create_connection(("127.0.0.1", self.server().port), timeout=10) as s:
            start = time.monotonic()
            s.sendall(b"GET /generator?n=3&delay=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
            first = receive_until(s, b"chunk 0")
            elapsed = time.monotonic() - start
            self.assertIn(b"chunk 0", first)
            self.assertLess(elapsed, 0.9, "the first chunk waited for the whole body")

    def test_http_1_0_gets_a_close_delimited_body(self):
        with socket.create_connection(("127.0.0.1", self.server().port), timeout=10) as s:
            s.sendall(b"GET /generator?n=2 HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertNotIn(b"Content-Length", head)
        self.assertEqual(body, b"chunk 0\nchunk 1\n")

    def test_a_generator_that_raises_cuts_the_body_and_closes_the_connection(self):
        before = self.closed_count()
        with socket.create_connection(("127.0.0.1", self.server().port), timeout=10) as s:
            s.sendall(b"GET /generator-raise HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        self.assertIn(b"200 OK", data)
        self.assertIn(b"chunk 1", data)
        self.assertFalse(data.endswith(b"0\r\n\r\n"), "a failed body must not end like a whole one")
        self.server().wait_for_log("the body generator failed")
        self.assertEqual(self.closed_count(), before + 1)
        self.assert_still_serving()

    def test_a_client_leaving_mid_stream_closes_the_generator(self):
        before = self.closed_count()
        with socket.create_connection(("127.0.0.1", self.server().port), timeout=10) as s:
            s.sendall(b"GET /generator?n=50&delay=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"chunk 0", receive_until(s, b"chunk 0"))
        deadline = time.monotonic() + 10
        while self.closed_count() != before + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.closed_count(), before + 1)
        self.assert_still_serving()


class AsyncGoStreaming(GoStreaming):
    handler = os.path.join(serve_fixture.SOURCE, "tests", "data", "async_stream_app.py")


if __name__ == "__main__":
    unittest.main()
