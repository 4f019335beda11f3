"""FastAPI (current release, from the test venv) served by httpy: tests/data/asgi/fastapi_app.py
over real sockets; and Django's ASGI handler (tests/data/asgi/django_asgi.py)."""

import concurrent.futures
import json
import os
import time

import asgi_fixture
from asgi_fixture import AsgiCase, DATA


class FastAPI(AsgiCase):
    target = os.path.join(DATA, "fastapi_app.py") + ":app"
    still_serving = ("/hello", b'{"message":"Hello, World!"}')

    def post_json(self, path, doc, headers=None):
        status, _, body = self.server().request(
            "POST", path, body=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json", **(headers or {})})
        return status, json.loads(body)

    def test_validation_and_dependencies(self):
        status, doc = self.post_json("/items", {"name": "pen", "price": 1.5},
                                     headers={"X-Token": "abc"})
        self.assertEqual((status, doc), (200, {"item": {"name": "pen", "price": 1.5, "tags": []},
                                               "by": "ABC"}))

    def test_invalid_body_is_422_with_pydantic_detail(self):
        status, doc = self.post_json("/items", {"name": "pen", "price": "free"},
                                     headers={"X-Token": "abc"})
        self.assertEqual(status, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["body", "price"])

    def test_missing_dependency_header_is_422(self):
        status, doc = self.post_json("/items", {"name": "pen", "price": 1})
        self.assertEqual(status, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["header", "x-token"])

    def test_path_and_query_parameters(self):
        self.assertEqual(self.get_json("/items/5?q=x"), {"item_id": 5, "q": "x"})
        self.assertEqual(self.get("/items/five")[0], 422)

    def test_a_plain_def_endpoint_runs_in_the_thread_pool(self):
        doc = self.get_json("/sync")
        self.assertFalse(doc["main"])
        self.assertNotEqual(doc["thread"], "MainThread")

    def test_long_polls_wait_side_by_side(self):
        self.server()  # started once, here, not by each thread of the pool
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            docs = list(pool.map(lambda _: self.get_json("/poll?seconds=1"), range(100)))
        self.assertEqual(docs, [{"waited": 1.0}] * 100)
        self.assertLess(time.monotonic() - started, 6)

    def test_openapi_schema(self):
        self.assertIn("/items", self.get_json("/openapi.json")["paths"])


class DjangoAsgi(AsgiCase):
    target = os.path.join(DATA, "django_asgi.py") + ":application"
    still_serving = ("/session/", None)

    def assert_still_serving(self, server=None):
        self.assertEqual((server or self.server()).request("GET", "/items/")[0], 200)

    def test_served_without_lifespan(self):
        self.assertEqual(self.get("/items/")[0], 200)
        self.assert_logged_by_httpy("no lifespan support")

    def test_orm_view(self):
        status, _, body = self.server().request("POST", "/items/", body=b'{"name": "asgi"}',
                                                headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        names = [i["name"] for i in self.get_json("/items/")["items"]]
        self.assertIn("asgi", names)

    def test_streaming_response(self):
        status, _, body = self.get("/stream/?n=3")
        self.assertEqual((status, body), (200, b"chunk 0\nchunk 1\nchunk 2\n"))

    def test_an_exception_in_a_view_is_500_without_its_detail(self):
        status, _, body = self.get("/boom/")
        self.assertEqual(status, 500)
        self.assertNotIn(b"secret-detail-9d2e", body)
        self.server().wait_for_log("secret-detail-9d2e")


class FastAPIExample(AsgiCase):
    """examples/fastapi_app.py, as the docs serve it."""

    target = os.path.join(asgi_fixture.SOURCE, "examples", "fastapi_app.py") + ":app"
    still_serving = ("/", b'{"message":"Hello from FastAPI on httpy!"}')

    def test_every_route(self):
        self.assertEqual(self.get_json("/hello/ana?polite=true"), {"greeting": "Dear ana!"})
        status, _, body = self.server().request("POST", "/notes", body=b'{"text": "hi"}',
                                                headers={"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)), (200, {"saved": {"text": "hi", "tags": []}}))
        self.assertEqual(self.get("/ticks?count=3")[2], b"tick 0\ntick 1\ntick 2\n")
        self.assertEqual(self.server().request("POST", "/notes", body=b"{}",
                                               headers={"Content-Type": "application/json"})[0], 422)
        self.assert_still_serving()
