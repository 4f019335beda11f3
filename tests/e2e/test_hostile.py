"""Hostile HTTP (issue 5): every malformed or hostile request of hostile_requests.json, sent to a
real `httpy serve` over a raw socket, must get its expected answer (a status, or a close with no
response), and after every case the server must still answer a normal request.

The expected answers come from the contract (docs/python-contract.md) and RFC 9110/9112, not from the server. A case marked
`known_failure` in the table is one the server gets wrong today: it is recorded, printed and
listed in docs/hostile-requests.md instead of failing the run, and it fails the run as soon as the
server answers it correctly (remove the mark then). The server never gets a pass on staying
alive: a case after which it stops serving fails whether or not it is marked.

One test method per category, one subTest per case; one server for the module. `HostileRunner`
runs them; a subclass may give it another server and connections (test_tls sends the same cases
over TLS).
"""

import importlib.util
import os
import socket
import sys
import threading
import time
import unittest

from serve_fixture import APP, Server, read_response

HERE = os.path.dirname(os.path.abspath(__file__))
DOC_SCRIPT = os.path.join(HERE, "..", "..", "scripts", "hostile_cases_doc.py")
_spec = importlib.util.spec_from_file_location("hostile_cases_doc", DOC_SCRIPT)
cases_doc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases_doc)

DATA_FILE = os.path.join(HERE, "hostile_requests.json")
DATA = cases_doc.load(DATA_FILE)
READ_TIMEOUT = 5.0   # the slowest expected answer is a 408 after the 2 s header/body timeout
CLOSE_TIMEOUT = 3.0
SERVER_OPTIONS = ("--init", f"{APP}:routes", "--header-timeout", "2", "--body-timeout", "2")

_server = None
KNOWN = []   # (category, id, expected, observed, reason) of every known failure seen this run


def server():
    global _server
    if _server is None:
        _server = Server(APP, *SERVER_OPTIONS)
    return _server


def tearDownModule():
    global _server
    if KNOWN:
        print(f"\n{len(KNOWN)} known failure(s) (see docs/hostile-requests.md):", file=sys.stderr)
        for category, case_id, expected, observed, reason in KNOWN:
            print(f"  {category}/{case_id}: expected {expected}, got {observed} ({reason})",
                  file=sys.stderr)
    if _server is not None:
        srv, _server = _server, None
        srv.stop()


def _describe(resp):
    text = str(resp.status)
    if resp.body and resp.status == 200:
        text += f" body {resp.body[:60]!r}"
    return text


def _closed_after(sock, reader):
    """'close' when the server closes within CLOSE_TIMEOUT with nothing more, 'open' when it
    does not, else the unexpected bytes."""
    sock.settimeout(CLOSE_TIMEOUT)
    try:
        extra = reader.read1(65536)
    except socket.timeout:
        return "open"
    except (ConnectionResetError, BrokenPipeError):
        return "close"
    return "close" if not extra else extra


def _one_answer(reader):
    """(response or None for a close, or an error string)."""
    try:
        return read_response(reader), None
    except socket.timeout:
        return None, f"no answer within {READ_TIMEOUT} s"
    except (ConnectionResetError, BrokenPipeError):
        return None, None  # a reset before any byte is a close
    except (ValueError, EOFError) as e:
        return None, f"unreadable answer ({e})"


def _check_answer(resp, err, allowed, body, sock, reader):
    """(ok, observed text) for one answer against the allowed answers."""
    if err:
        return False, err
    if resp is None:
        return "close" in allowed, "close"
    observed = _describe(resp)
    if resp.version not in ("HTTP/1.1", "HTTP/1.0"):
        return False, f"{observed} with status line version {resp.version}"
    if resp.status not in allowed:
        return False, observed
    if resp.status == 200 and body is not None and resp.body != body.encode("latin-1"):
        return False, observed
    if resp.status in cases_doc.CLOSING:
        after = _closed_after(sock, reader)
        if after == "open":
            return False, f"{observed}, then the connection stayed open"
        if after != "close":
            return False, f"{observed}, then more bytes {after[:80]!r}"
        observed += ", then close"
    return True, observed


def plain_connection():
    return socket.create_connection(("127.0.0.1", server().port), timeout=READ_TIMEOUT)


def run_case(case, connect=plain_connection, send_aside=True):
    """Sends one case on a new connection from connect(); (ok, observed) where observed
    describes the answers. `send_aside`: send from a thread (not for a TLS socket, which must not
    be written and read by two threads at once; the server reads what it refuses on anyway)."""
    data = cases_doc.request_bytes(case)
    allowed = cases_doc.expected_answers(case)
    sock = connect()
    reader = sock.makefile("rb")

    def send():
        # A thread, so a server that answers before reading everything (431 for a 1 MB header)
        # is heard while the rest is still being sent.
        try:
            if data:
                sock.sendall(data)
            if case.get("half_close", True):
                # The socket's own shutdown: an SSLSocket's would drop its TLS state.
                socket.socket.shutdown(sock, socket.SHUT_WR)
        except OSError:
            pass  # the server closed first; its answer is what counts

    sender = threading.Thread(target=send, daemon=True) if send_aside else None
    if sender:
        sender.start()
    else:
        send()
    try:
        resp, err = _one_answer(reader)
        then = case.get("then") or []
        closes_first = resp is not None and resp.status in cases_doc.CLOSING
        ok, observed = _check_answer(resp, err, allowed, case.get("body"), sock,
                                     reader if not then or closes_first else None)
        if ok and then and resp is not None and not closes_first:
            for expected in then:
                nxt, err = _one_answer(reader)
                ok_next, seen = _check_answer(nxt, err, [expected], None, sock, reader)
                observed += f"; then {seen}"
                if not ok_next:
                    ok = False
                    break
        return ok, observed
    finally:
        if sender:
            sender.join(READ_TIMEOUT)
        reader.close()
        sock.close()


class HostileRunner:
    """Runs the cases of a category against `server()` on connections from `connect()` (sent
    aside when `send_aside`), the server checked after each; mixed into a TestCase."""

    maxDiff = None
    send_aside = True

    def server(self):
        return server()

    def connect(self):
        return plain_connection()

    def still_alive(self):
        """(status, body) of GET /still/alive on a new connection."""
        status, _, body = self.server().request("GET", "/still/alive", timeout=5)
        return status, body

    def assert_still_serving(self, case_id):
        srv = self.server()
        self.assertIsNone(srv.proc.poll(),
                          f"httpy serve exited after case {case_id}; log:\n{srv.log()[-3000:]}")
        try:
            status, body = self.still_alive()
        except OSError as e:
            self.fail(f"the server stopped serving after case {case_id}: {e!r}")
        self.assertEqual((status, body), (200, b"/still/alive"),
                         f"the server stopped serving after case {case_id}")

    def run_category(self, category):
        cases = [c for c in DATA["cases"] if c["category"] == category]
        self.assertTrue(cases, f"no cases for category {category}")
        known_here = []
        for case in cases:
            with self.subTest(case=case["id"]):
                expected = cases_doc.show_expect(case["expect"])
                ok, observed = run_case(case, self.connect, self.send_aside)
                reason = case.get("known_failure")
                try:
                    if reason and ok:
                        self.fail(f"{case['id']} is marked known_failure ({reason}) but now "
                                  f"answers {observed} as expected: remove the mark from "
                                  f"hostile_requests.json and regenerate the docs")
                    elif reason:
                        known_here.append((category, case["id"], expected, observed, reason))
                    else:
                        self.assertTrue(ok, f"{case['id']}: expected {expected}, got {observed}; "
                                            f"request {cases_doc.show_request(case)}")
                finally:
                    self.assert_still_serving(case["id"])
        KNOWN.extend(known_here)
        for _, case_id, expected, observed, reason in known_here:
            print(f"\nknown failure {category}/{case_id}: expected {expected}, got {observed}",
                  file=sys.stderr)


class HostileRequests(HostileRunner, unittest.TestCase):
    """One method per category of hostile_requests.json; every case is a subTest."""

    def test_framing(self):
        self.run_category("framing")

    def test_chunked(self):
        self.run_category("chunked")

    def test_request_line(self):
        self.run_category("request_line")

    def test_host(self):
        self.run_category("host")

    def test_control_chars(self):
        self.run_category("control_chars")

    def test_percent(self):
        self.run_category("percent")

    def test_header_syntax(self):
        self.run_category("header_syntax")

    def test_limits(self):
        self.run_category("limits")

    def test_garbage(self):
        self.run_category("garbage")


class HostileTable(unittest.TestCase):
    """The table itself: well-formed, big enough, every category tested, docs page in sync."""

    def test_table_is_well_formed_and_every_category_has_a_test(self):
        cases, categories = DATA["cases"], DATA["categories"]
        self.assertGreaterEqual(len(cases), 150)
        ids = [c["id"] for c in cases]
        self.assertEqual(len(ids), len(set(ids)), "case ids must be unique")
        for case in cases:
            self.assertIn(case["category"], categories, case["id"])
            self.assertTrue(case.get("why"), f"{case['id']} needs a why")
            self.assertTrue((case.get("request") is None) != (case.get("request_hex") is None),
                            f"{case['id']}: exactly one of request and request_hex")
            cases_doc.request_bytes(case)  # decodes
            for answer in cases_doc.expected_answers(case) + list(case.get("then") or []):
                self.assertTrue(answer == "close" or (isinstance(answer, int)
                                                     and 100 <= answer <= 599),
                                f"{case['id']}: bad expected answer {answer!r}")
        for category in categories:
            self.assertTrue(hasattr(HostileRequests, f"test_{category}"),
                            f"category {category} has no test_{category} method")

    def test_docs_page_is_generated_from_the_table(self):
        with open(cases_doc.DOC, encoding="utf-8") as f:
            on_disk = f.read()
        self.assertEqual(on_disk, cases_doc.render(cases_doc.load(DATA_FILE)),
                         "docs/hostile-requests.md is out of date: run "
                         "scripts/hostile_cases_doc.py")


if __name__ == "__main__":
    unittest.main()
