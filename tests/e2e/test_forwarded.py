"""Proxy headers (`--forwarded-allow-ips`) over a real socket: from a trusted peer, X-Forwarded-For,
-Proto, -Host and RFC 7239 Forwarded name the client, scheme and host that WSGI's environ and
ASGI's scope carry; from an untrusted peer (and in spoofing attempts) they change nothing and
reach the app as plain headers."""

import subprocess
import unittest

import asgi_fixture
import serve_fixture
import wsgi_fixture
from wsgi_fixture import EDGE_APP, WsgiCase

SPOOF = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https",
         "X-Forwarded-Host": "evil.example", "Forwarded": "for=6.6.6.6;proto=https"}


class TrustedWsgiProxy(WsgiCase):
    target = EDGE_APP + ":application"
    options = ("--forwarded-allow-ips", "127.0.0.1")

    def environ(self, headers):
        return self.get_json("/environ", headers=headers)

    def test_the_client_is_the_rightmost_untrusted_hop(self):
        env = self.environ({"X-Forwarded-For": "6.6.6.6, 198.51.100.7",
                            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"})
        self.assertEqual(env["REMOTE_ADDR"], "198.51.100.7")
        self.assertEqual(env["REMOTE_PORT"], "0")
        self.assertEqual(env["wsgi.url_scheme"], "https")
        self.assertEqual(env["HTTP_HOST"], "shop.example")
        # the proxy headers are still there for the app that wants them
        self.assertEqual(env["HTTP_X_FORWARDED_FOR"], "6.6.6.6, 198.51.100.7")

    def test_rfc_7239_forwarded_with_a_port_and_ipv6(self):
        env = self.environ({"Forwarded": 'for="[2001:db8::17]:4711";proto=https;host=a.example'})
        self.assertEqual((env["REMOTE_ADDR"], env["REMOTE_PORT"]), ("2001:db8::17", "4711"))
        self.assertEqual(env["wsgi.url_scheme"], "https")
        self.assertEqual(env["HTTP_HOST"], "a.example")

    def test_a_hop_that_is_not_an_address_is_not_believed(self):
        env = self.environ({"X-Forwarded-For": "<script>alert(1)</script>"})
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertNotEqual(env["REMOTE_PORT"], "0")

    def test_without_proxy_headers_the_peer_is_the_client(self):
        env = self.environ({})
        self.assertEqual((env["REMOTE_ADDR"], env["wsgi.url_scheme"]), ("127.0.0.1", "http"))


class UntrustedWsgiPeer(WsgiCase):
    """The default list names loopback; here it names another address, so this test's own
    loopback connection is an untrusted client trying to spoof."""

    target = EDGE_APP + ":application"
    options = ("--forwarded-allow-ips", "192.0.2.1,10.0.0.0/8")

    def test_spoofed_proxy_headers_change_nothing(self):
        env = self.get_json("/environ", headers=SPOOF)
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertNotEqual(env["REMOTE_PORT"], "0")
        self.assertEqual(env["wsgi.url_scheme"], "http")
        self.assertNotEqual(env["HTTP_HOST"], "evil.example")
        self.assertEqual(env["HTTP_X_FORWARDED_FOR"], "6.6.6.6")
        self.assertEqual(env["HTTP_FORWARDED"], "for=6.6.6.6;proto=https")


class TrustedAsgiProxy(asgi_fixture.AsgiCase):
    options = ("--forwarded-allow-ips", "127.0.0.1")

    def test_client_and_scheme_come_from_the_proxy(self):
        scope = self.get_json("/scope", headers={"X-Forwarded-For": "203.0.113.50",
                                                 "X-Forwarded-Proto": "https"})
        self.assertEqual(scope["client"], ["203.0.113.50", 0])
        self.assertEqual(scope["scheme"], "https")


class UntrustedAsgiPeer(asgi_fixture.AsgiCase):
    options = ("--forwarded-allow-ips", "")

    def test_spoofed_proxy_headers_change_nothing(self):
        scope = self.get_json("/scope", headers=SPOOF)
        self.assertEqual(scope["client"][0], "127.0.0.1")
        self.assertNotEqual(scope["client"][1], 0)
        self.assertEqual(scope["scheme"], "http")


class BadList(unittest.TestCase):
    def test_a_bad_entry_stops_start_up_with_its_text(self):
        run = subprocess.run([serve_fixture.HTTPY, "serve", serve_fixture.APP, "--bind",
                              "127.0.0.1:0", "--forwarded-allow-ips", "127.0.0.1,proxy.local"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(run.returncode, 2)
        self.assertIn('"proxy.local" is not an address', run.stderr)


if __name__ == "__main__":
    unittest.main()
