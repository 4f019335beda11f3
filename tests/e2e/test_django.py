"""Django over real sockets: the single-file project tests/data/wsgi/django_project.py (settings
in code, SQLite migrated at import) on the Django of venvs/test, served as its WSGIHandler; and
the same project inside wsgiref.validate. wsgi_fixture.py says how to run these against gunicorn
instead (HTTPY_WSGI_REFERENCE=gunicorn)."""

import json
import re
import time
import unittest
import urllib.parse
import uuid

from wsgi_fixture import (DJANGO_PROJECT, VALIDATED, WsgiCase, gunicorn_differs, parse_chunked,
                          split_response)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')


def cookie_pair(headers, name):
    """`name=value` from the response's Set-Cookie headers (http.client's HTTPMessage)."""
    for header in headers.get_all("Set-Cookie") or []:
        pair = header.strip().split(";")[0]
        if pair.startswith(name + "="):
            return pair
    return None


class Django(WsgiCase):
    target = DJANGO_PROJECT + ":application"
    still_serving = ("/items/", None)

    def assert_still_serving(self, server=None):
        status, _, body = (server or self.server()).request("GET", "/items/", timeout=5)
        self.assertEqual(status, 200, f"the server stopped serving: {body[:300]!r}")

    def test_the_orm_lists_and_adds_items(self):
        name = f"item {uuid.uuid4().hex[:8]} café"
        before = self.get_json("/items/")["items"]
        status, _, body = self.server().request("POST", "/items/",
                                                body=json.dumps({"name": name}).encode(),
                                                headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, body[:500])
        added = json.loads(body)
        self.assertEqual(added["name"], name)
        after = self.get_json("/items/")["items"]
        self.assertEqual(after, before + [added], "the new row is listed after the others")
        status, _, _ = self.server().request("DELETE", "/items/")
        self.assertEqual(status, 405)

    # gunicorn differs: a chunked request has no CONTENT_LENGTH, and Django reads only
    # CONTENT_LENGTH bytes: it sees an empty body (json.loads fails: 500).
    @gunicorn_differs("a chunked request has no CONTENT_LENGTH, so Django reads an empty body")
    def test_a_chunked_post_reaches_the_orm(self):
        name = f"chunked {uuid.uuid4().hex[:8]}"
        doc = json.dumps({"name": name}).encode()
        conn = self.server().connect(10)
        self.addCleanup(conn.close)
        conn.request("POST", "/items/", body=iter([doc[:5], doc[5:]]), encode_chunked=True,
                     headers={"Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        body = response.read()
        self.assertEqual(response.status, 201, body[:500])
        self.assertEqual(json.loads(body)["name"], name)
        self.assertIn(name, [i["name"] for i in self.get_json("/items/")["items"]])

    def test_the_csrf_flow(self):
        status, headers, body = self.get("/form/")
        self.assertEqual(status, 200, body[:500])
        cookie = cookie_pair(headers, "csrftoken")
        self.assertIsNotNone(cookie, f"no csrftoken cookie: {headers.get_all('Set-Cookie')}")
        match = CSRF_INPUT.search(body.decode())
        self.assertIsNotNone(match, f"no CSRF token in the form: {body[:500]!r}")
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": match.group(1),
                                       "text": "café & co"}).encode()
        content_type = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = self.server().request("POST", "/form/", body=form,
                                                headers={**content_type, "Cookie": cookie})
        self.assertEqual((status, body.decode()), (200, "accepted: café &amp; co"))
        status, _, body = self.server().request("POST", "/form/", body=form, headers=content_type)
        self.assertEqual(status, 403, f"a POST without the cookie passed: {body[:300]!r}")
        status, _, _ = self.server().request(
            "POST", "/form/", body=b"text=no+token", headers={**content_type, "Cookie": cookie})
        self.assertEqual(status, 403, "a POST with the cookie but without the token passed")

    def test_the_session_counter_goes_up_with_its_cookie(self):
        status, headers, body = self.get("/session/")
        self.assertEqual((status, json.loads(body)), (200, {"count": 1}))
        cookie = cookie_pair(headers, "sessionid")
        self.assertIsNotNone(cookie, f"no session cookie: {headers.get_all('Set-Cookie')}")
        for count in (2, 3, 4):
            self.assertEqual(self.get_json("/session/", {"Cookie": cookie}), {"count": count})
        self.assertEqual(self.get_json("/session/"), {"count": 1}, "no cookie: a new session")

    def test_a_missing_path_is_404(self):
        status, _, body = self.get("/no/such/page/")
        self.assertEqual(status, 404)
        self.assertIn(b"Not Found", body)
        status, headers, _ = self.get("/items")
        self.assertEqual((status, headers["Location"]), (301, "/items/"),
                         "CommonMiddleware's APPEND_SLASH redirect")

    def test_a_host_not_in_allowed_hosts_is_400(self):
        status, _, body = self.get("/items/", {"Host": "evil.example"})
        self.assertEqual(status, 400, body[:300])
        self.assertNotIn(b"evil.example", body, "DEBUG is off: no detail in the body")
        self.server().wait_for_log("Invalid HTTP_HOST header: 'evil.example'")
        self.assertEqual(self.get("/items/", {"Host": "localhost"})[0], 200)

    def test_a_streaming_response_arrives_whole_and_chunked(self):
        data = self.exchange(b"GET /stream/?n=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Connection: close\r\n\r\n")
        status, headers, body = split_response(data)
        self.assertIn(" 200 ", status, data[:300])
        self.assertEqual(headers.get("transfer-encoding"), ["chunked"], headers)
        payload, complete = parse_chunked(body)
        self.assertTrue(complete, f"the stream did not end properly: {body!r}")
        self.assertEqual(payload, b"".join(b"chunk %d\n" % i for i in range(5)))

    def test_an_exception_in_a_view_is_500_with_the_traceback_only_in_the_log(self):
        start = self.server().line_count()
        status, _, body = self.get("/boom/")
        self.assertEqual(status, 500)
        self.assertNotIn(b"secret-detail-9d2e", body)
        self.server().wait_for_log("a Django view failed: secret-detail-9d2e", start=start)
        self.assert_still_serving()


class DjangoValidated(WsgiCase):
    """The project inside wsgiref.validate (tests/data/wsgi/validated.py)."""

    target = VALIDATED + ":django_app"
    still_serving = ("/stream/?n=1", b"chunk 0\n")

    def test_every_view_passes_wsgiref_validate(self):
        status, headers, body = self.get("/form/")
        self.assertEqual(status, 200)
        cookie = cookie_pair(headers, "csrftoken")
        token = CSRF_INPUT.search(body.decode()).group(1)
        form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        cases = [
            ("GET", "/items/", None, {}, 200),
            ("POST", "/items/", b'{"name": "validated"}', {"Content-Type": "application/json"},
             201),
            ("POST", "/form/", f"csrfmiddlewaretoken={token}&text=x".encode(), form, 200),
            ("POST", "/form/", b"text=x", {"Content-Type": "application/x-www-form-urlencoded"},
             403),
            ("GET", "/session/", None, {}, 200), ("GET", "/stream/", None, {}, 200),
            ("GET", "/items", None, {}, 301), ("GET", "/nowhere/", None, {}, 404),
            ("HEAD", "/items/", None, {}, 200),
            ("GET", "/items/", None, {"Host": "evil.example"}, 400),
        ]
        for method, path, data, headers, want in cases:
            with self.subTest(method=method, path=path, headers=headers):
                got, _, got_body = self.server().request(method, path, body=data,
                                                         headers=headers)
                self.assertEqual(got, want, f"{method} {path}: {got_body[:300]!r}")
        time.sleep(0.3)  # complaints about an unclosed iterator come when it is collected
        log = self.server().log()
        for word in ("AssertionError", "WSGIWarning", "garbage collected without being closed"):
            self.assertNotIn(word, log, f"wsgiref.validate complained:\n{log}")


if __name__ == "__main__":
    unittest.main()
