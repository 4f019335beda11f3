"""HTTPS (`--certfile`, `--keyfile`, `--ca-certs`) against a real `httpy serve`: a CA and its
certificates are made per run with the `openssl` command in a temporary folder (no key is kept
in the repository); clients are curl and Python's ssl. Covers the protocol policy (TLS 1.2 and
1.3 in, 1.1 out, ALPN http/1.1), the https scheme WSGI and ASGI apps see, keep-alive and
pipelining, the hostile framing cases over TLS, plain-HTTP clients and silent ones on the TLS
port, client certificates, the SIGHUP reload and the start-up checks of the files."""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import asgi_fixture
import serve_fixture
import test_hostile
import wsgi_fixture
from serve_fixture import APP, HTTPY, Server, closed_within, read_response

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
CURL = shutil.which("curl") or "/usr/bin/curl"


class Pki:
    """A CA, and server and client certificates it signs, as PEM files in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="httpy-tls-")
        self.serial = 1
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca-key.pem")
        self.openssl("req", "-x509", *self.new_key(self.ca_key), "-out", self.ca,
                     "-days", "2", "-subj", "/CN=httpy test CA")

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        subprocess.run([OPENSSL, *args], check=True, capture_output=True, cwd=self.dir)

    @staticmethod
    def new_key(key):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key]

    def issue(self, name, usage, ca=None, ca_key=None):
        """(certificate, key) named `name`, for `usage` (serverAuth or clientAuth)."""
        cert, key, csr, ext = (self.path(f"{name}{suffix}")
                               for suffix in (".pem", "-key.pem", ".csr", ".ext"))
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n")
        self.openssl("req", *self.new_key(key), "-out", csr, "-subj", f"/CN=localhost/O={name}")
        self.serial += 1
        self.openssl("x509", "-req", "-in", csr, "-CA", ca or self.ca, "-CAkey",
                     ca_key or self.ca_key, "-set_serial", str(self.serial), "-days", "2",
                     "-out", cert, "-extfile", ext)
        return cert, key

    def server(self, name):
        return self.issue(name, "serverAuth")

    def client(self, name):
        return self.issue(name, "clientAuth")

    def der(self, cert):
        """The certificate in DER, as getpeercert(binary_form=True) gives it."""
        with open(cert) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def context(self, cert=None, key=None):
        """A client context that trusts the CA (and presents `cert` when given)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


PKI = None


def pki():
    global PKI
    if PKI is None:
        PKI = Pki()
    return PKI


def tearDownModule():
    if HOSTILE_SERVER[0] is not None:
        HOSTILE_SERVER[0].stop()
    if PKI is not None:
        PKI.cleanup()


def tls_options(name="server"):
    cert, key = pki().server(name)
    return ("--certfile", cert, "--keyfile", key)


def https(port, path="/", context=None, headers=None, conn=None):
    """(status, body, connection) of GET `path` over HTTPS (on `conn` when given: kept alive)."""
    conn = conn or http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                               context=context or pki().context())
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read(), conn


def tls_socket(port, context=None, timeout=10.0):
    """A TLS socket to `port`, its handshake done (raises what the handshake raised)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return (context or pki().context()).wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


class TlsCase(serve_fixture.ServerCase):
    """serve_app.py over HTTPS (and a short handshake timeout)."""

    options = ()

    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = Server(cls.handler, *tls_options(), "--tls-handshake-timeout", "1",
                                 *cls.options)
        return cls._server

    def assert_still_serving(self, server=None):
        status, body, conn = https((server or self.server()).port, "/still/alive")
        conn.close()
        self.assertEqual((status, body), (200, b"/still/alive"), "the server stopped serving")


class Protocol(TlsCase):
    def test_the_log_line_says_https(self):
        self.assertTrue(self.server().wait_for_log("httpy listening on https://127.0.0.1:"))

    def test_curl_trusting_the_ca_gets_the_answer_over_http_1_1(self):
        port = self.server().port
        out = subprocess.run([CURL, "-sS", "--cacert", pki().ca, "-w", " %{http_version}",
                              f"https://localhost:{port}/curl", "--resolve",
                              f"localhost:{port}:127.0.0.1"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual((out.returncode, out.stdout), (0, "/curl 1.1"), out.stderr)

    def test_curl_without_the_ca_refuses_the_certificate(self):
        out = subprocess.run([CURL, "-sS", f"https://127.0.0.1:{self.server().port}/"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 60, out.stderr)  # peer certificate not verified

    def test_tls_1_2_and_1_3_are_accepted(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version.name):
                ctx = pki().context()
                ctx.minimum_version = ctx.maximum_version = version
                status, body, conn = https(self.server().port, "/v", ctx)
                self.assertEqual((status, body), (200, b"/v"))
                self.assertEqual(conn.sock.version(), version.name.replace("v1_", "v1."))
                conn.close()

    def test_tls_1_1_is_refused_by_the_server(self):
        ctx = pki().context()
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client offers TLS 1.1 at all
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        with self.assertRaises(ssl.SSLError) as caught:
            tls_socket(self.server().port, ctx).close()
        self.assertEqual(caught.exception.reason, "TLSV1_ALERT_PROTOCOL_VERSION")
        self.assert_still_serving()

    def test_alpn_selects_http_1_1_and_refuses_a_client_without_it(self):
        ctx = pki().context()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with tls_socket(self.server().port, ctx) as sock:
            self.assertEqual(sock.selected_alpn_protocol(), "http/1.1")
        ctx = pki().context()
        ctx.set_alpn_protocols(["h2"])
        with self.assertRaises(ssl.SSLError) as caught:
            tls_socket(self.server().port, ctx).close()
        self.assertIn("alert no application protocol", str(caught.exception))

    def test_keep_alive_and_pipelining_over_tls(self):
        with tls_socket(self.server().port) as sock:
            reader = sock.makefile("rb")
            sock.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(3)))
            bodies = [read_response(reader).body for _ in range(3)]
            self.assertEqual(bodies, [b"/p0", b"/p1", b"/p2"])
            sock.sendall(b"GET /again HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertEqual(read_response(reader).body, b"/again")
            self.assertTrue(closed_within(sock, reader, 5))

    def test_a_plain_http_client_is_closed_and_the_server_serves_on(self):
        with self.server().raw(timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            received = b""
            try:
                while chunk := sock.recv(4096):
                    received += chunk
            except ConnectionResetError:
                pass
            self.assertNotIn(b"HTTP/", received)
        self.assert_still_serving()

    def test_a_client_that_never_handshakes_is_closed_at_the_handshake_timeout(self):
        with self.server().raw(timeout=5) as sock:
            start = time.monotonic()
            sock.settimeout(5)
            self.assertEqual(sock.recv(1), b"")
            self.assertGreater(time.monotonic() - start, 0.9)
        self.assert_still_serving()


class Scheme(unittest.TestCase):
    """The scheme a WSGI and an ASGI app see over TLS; a trusted proxy still has its say."""

    def serve(self, target, interface, venv):
        return Server(target, "--interface", interface, "--venv", venv, *tls_options())

    def test_wsgi_url_scheme_is_https(self):
        with self.serve(wsgi_fixture.EDGE_APP + ":application", "wsgi", wsgi_fixture.VENV) as srv:
            status, body, conn = https(srv.port, "/environ")
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["wsgi.url_scheme"], "https")
            status, body, _ = https(srv.port, "/environ", conn=conn,
                                    headers={"X-Forwarded-Proto": "http"})  # loopback: trusted
            self.assertEqual(json.loads(body)["wsgi.url_scheme"], "http")
            conn.close()

    def test_asgi_scope_scheme_is_https(self):
        with self.serve(asgi_fixture.EDGE_APP, "asgi", asgi_fixture.VENV) as srv:
            status, body, conn = https(srv.port, "/scope")
            conn.close()
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["scheme"], "https")


HOSTILE_SERVER = [None]


class HostileOverTls(test_hostile.HostileRunner, unittest.TestCase):
    """The framing and chunked cases of hostile_requests.json, through TLS."""

    send_aside = False

    def server(self):
        if HOSTILE_SERVER[0] is None:
            HOSTILE_SERVER[0] = Server(APP, *test_hostile.SERVER_OPTIONS, *tls_options())
        return HOSTILE_SERVER[0]

    def connect(self):
        return tls_socket(self.server().port, timeout=test_hostile.READ_TIMEOUT)

    def still_alive(self):
        status, body, conn = https(self.server().port, "/still/alive")
        conn.close()
        return status, body

    def test_framing(self):
        self.run_category("framing")

    def test_chunked(self):
        self.run_category("chunked")


class ClientCertificates(TlsCase):
    @classmethod
    def server(cls):
        if cls._server is None:
            cls._server = Server(APP, *tls_options(), "--ca-certs", pki().ca)
        return cls._server

    def refused(self, context):
        """The error of a request with `context`; fails when it is answered."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.server().port, timeout=10,
                                           context=context)
        try:
            status, body, _ = https(self.server().port, "/secret", conn=conn)
        except (ssl.SSLError, ConnectionError) as e:
            return e
        finally:
            conn.close()
        self.fail(f"answered {status} {body!r} without a valid client certificate")

    def test_a_client_without_a_certificate_is_refused(self):
        error = self.refused(pki().context())
        self.assertIn("CERTIFICATE_REQUIRED", str(error))
        self.assert_still_serving_with_a_client_certificate()

    def test_a_certificate_from_another_ca_is_refused(self):
        other = Pki()
        try:
            self.refused(pki().context(*other.client("stranger")))
        finally:
            other.cleanup()

    def test_a_certificate_from_the_ca_is_served(self):
        self.assert_still_serving_with_a_client_certificate()

    def assert_still_serving_with_a_client_certificate(self):
        status, body, conn = https(self.server().port, "/secret",
                                   pki().context(*pki().client("client")))
        conn.close()
        self.assertEqual((status, body), (200, b"/secret"))


class Signals(unittest.TestCase):
    def test_sighup_gives_new_connections_the_new_certificate_and_open_ones_keep_theirs(self):
        first, second = pki().server("first"), pki().server("second")
        cert, key = pki().path("live.pem"), pki().path("live-key.pem")
        shutil.copy(first[0], cert)
        shutil.copy(first[1], key)
        with Server(APP, "--certfile", cert, "--keyfile", key) as srv:
            status, body, a = https(srv.port, "/a")
            self.assertEqual((status, body), (200, b"/a"))
            self.assertEqual(a.sock.getpeercert(binary_form=True), pki().der(first[0]))
            shutil.copy(second[0], cert)
            shutil.copy(second[1], key)
            mark = srv.line_count()
            srv.signal(signal.SIGHUP)
            srv.wait_for_log("TLS certificate reloaded", start=mark)
            status, body, b = https(srv.port, "/b")
            self.assertEqual((status, body), (200, b"/b"))
            self.assertEqual(b.sock.getpeercert(binary_form=True), pki().der(second[0]))
            status, body, _ = https(srv.port, "/a-again", conn=a)  # the same connection
            self.assertEqual((status, body), (200, b"/a-again"))
            self.assertEqual(a.sock.getpeercert(binary_form=True), pki().der(first[0]))
            a.close()
            b.close()

            with open(cert, "w") as f:
                f.write("not a certificate\n")
            mark = srv.line_count()
            srv.signal(signal.SIGHUP)
            line = srv.wait_for_log("the certificate in use stays", start=mark)
            self.assertIn(cert, line)
            status, body, c = https(srv.port, "/c")
            self.assertEqual((status, body), (200, b"/c"))
            self.assertEqual(c.sock.getpeercert(binary_form=True), pki().der(second[0]))
            c.close()

    def test_sighup_without_tls_has_nothing_to_reload_and_serving_goes_on(self):
        with Server(APP) as srv:
            srv.signal(signal.SIGHUP)
            srv.wait_for_log("nothing to reload")
            self.assertEqual(srv.request("GET", "/after")[::2], (200, b"/after"))
            self.assertIsNone(srv.proc.poll())

    def test_sigterm_closes_idle_tls_connections_and_lets_a_running_request_finish(self):
        srv = Server(APP, *tls_options())
        try:
            idle = tls_socket(srv.port)
            busy = tls_socket(srv.port)
            busy.sendall(b"GET /sleep?seconds=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            srv.wait_for_log("serve_app: sleep")
            srv.signal(signal.SIGTERM)
            self.assertTrue(closed_within(idle, None, 5), "the idle connection stayed open")
            resp = read_response(busy.makefile("rb"))
            self.assertEqual((resp.status, resp.header("Connection")), (200, "close"))
            self.assertEqual(srv.wait_exit(), 0, srv.log())
        finally:
            srv.kill()
            idle.close()
            busy.close()

    def test_with_workers_sighup_starts_workers_that_read_the_files_afresh(self):
        first, second = pki().server("w1"), pki().server("w2")
        cert, key = pki().path("workers.pem"), pki().path("workers-key.pem")
        shutil.copy(first[0], cert)
        shutil.copy(first[1], key)
        with Server(APP, "--certfile", cert, "--keyfile", key, "--workers", "1") as srv:
            self.assertEqual(self.peer_der(srv, "/w1"), pki().der(first[0]))
            shutil.copy(second[0], cert)
            shutil.copy(second[1], key)
            mark = srv.line_count()
            srv.signal(signal.SIGHUP)
            # The old worker's listener takes connections until it has stopped.
            srv.wait_for_log("exited with code 0", timeout=30, start=mark)
            self.assertEqual(self.peer_der(srv, "/w2"), pki().der(second[0]))
            with open(key, "w") as f:
                f.write("not a key\n")
            mark = srv.line_count()
            srv.signal(signal.SIGHUP)
            srv.wait_for_log("keeps serving", timeout=30, start=mark)
            self.assertIn(key, srv.log())
            self.assertEqual(self.peer_der(srv, "/w3"), pki().der(second[0]))

    def peer_der(self, srv, path):
        """The certificate `srv` sends, in DER, once GET `path` got its 200 over it."""
        status, body, conn = https(srv.port, path)
        der = conn.sock.getpeercert(binary_form=True)
        conn.close()
        self.assertEqual((status, body), (200, path.encode()))
        return der


class StartUp(unittest.TestCase):
    """Bad TLS files stop `httpy serve` with exit code 2 and the file's name, before the app is
    imported."""

    def start(self, *options):
        app = pki().path("loud_app.py")
        with open(app, "w") as f:
            f.write("import sys\nprint('loud_app imported', file=sys.stderr)\n"
                    "def go_request(*args):\n    return 200, 'hi', None\n")
        out = subprocess.run([HTTPY, "serve", app, "--bind", "127.0.0.1:0", *options],
                             capture_output=True, text=True, timeout=60)
        self.assertNotIn("loud_app imported", out.stderr)
        return out

    def test_a_mismatched_key_exits_2_naming_the_key_file(self):
        cert, _ = pki().server("mine")
        _, other_key = pki().server("theirs")
        out = self.start("--certfile", cert, "--keyfile", other_key)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(other_key, out.stderr)
        self.assertIn("does not match", out.stderr)

    def test_an_unreadable_or_non_pem_certificate_exits_2_naming_it(self):
        _, key = pki().server("keyed")
        missing = pki().path("missing.pem")
        out = self.start("--certfile", missing, "--keyfile", key)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(missing, out.stderr)
        self.assertIn("No such file or directory", out.stderr)
        out = self.start("--certfile", key, "--keyfile", key)  # a key is no certificate
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(f'"{key}": holds no PEM certificate', out.stderr)

    def test_a_key_without_a_certificate_exits_2(self):
        _, key = pki().server("lonely")
        out = self.start("--keyfile", key)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("without a certificate file", out.stderr)


if __name__ == "__main__":
    unittest.main()
