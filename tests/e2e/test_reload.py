"""`httpy serve --reload` on a real app in a temporary folder: a changed .py file (the app's own,
or a module in a subfolder) replaces the workers, so new requests see the new code; code that
fails to import leaves the old workers serving, with the error in the log; other files change
nothing."""

import os
import shutil
import tempfile
import time
import unittest

from serve_fixture import Server

APP = """
import helpers.words

def go_request(method, path, params, query, headers, body):
    return 200, "{version} " + helpers.words.WORD, None
"""


class Reload(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.mkdir(os.path.join(self.dir, "helpers"))
        self.write("helpers/__init__.py", "")
        self.write("helpers/words.py", "WORD = 'one'\n")
        self.write("app.py", APP.format(version="v1"))
        self.server = Server(os.path.join(self.dir, "app.py"), "--reload", "--drain-timeout", "2")
        self.addCleanup(self.server.stop)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)  # as editors save: the new file moved in whole

    def body(self):
        status, _, body = self.server.request("GET", "/")
        self.assertEqual(status, 200)
        return body.decode()

    def wait_for_body(self, want, timeout=15):
        deadline = time.monotonic() + timeout
        while (got := self.body()) != want:
            self.assertLess(time.monotonic(), deadline, f"still {got!r}, not {want!r}")
            time.sleep(0.1)

    def test_a_changed_app_file_is_served_after_the_reload(self):
        self.assertEqual(self.body(), "v1 one")
        self.write("app.py", APP.format(version="v2"))
        self.wait_for_body("v2 one")
        self.server.wait_for_log("a Python source changed: reloading")

    def test_a_module_in_a_subfolder_counts_too(self):
        self.write("helpers/words.py", "WORD = 'two'\n")
        self.wait_for_body("v1 two")

    def test_code_that_fails_to_import_keeps_the_old_workers_serving(self):
        self.write("app.py", "def go_request(:\n")
        self.server.wait_for_log("before it was ready;", timeout=15)
        self.assertIn("SyntaxError", self.server.log())
        for _ in range(5):
            self.assertEqual(self.body(), "v1 one")
        self.write("app.py", APP.format(version="v3"))
        self.wait_for_body("v3 one")

    def test_other_files_change_nothing(self):
        lines = self.server.line_count()
        self.write("notes.txt", "not Python\n")
        os.mkdir(os.path.join(self.dir, "__pycache__x"))
        time.sleep(1.0)
        self.assertIsNone(self.server.wait_for_log("reloading", timeout=0.1, fail=False,
                                                   start=lines))
        self.assertEqual(self.body(), "v1 one")


if __name__ == "__main__":
    unittest.main()
