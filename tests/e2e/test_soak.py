"""The leak soak, short: 50,000 requests of bench/soak's mix through a real `httpy serve`.

Every request has 6 headers, 3 query keys and a small body; 1 in 10 raises in the handler and
1 in 10 returns the wrong shape. From the warm-up (10,000 requests) to the end:
- test_refcount_flat (server linked against the debug CPython, as scripts/test runs it):
  `sys.gettotalrefcount()` flat, and the blocks and RSS as below. Skipped on a release CPython,
  whose /stats has no "refs".
- test_blocks_flat (release CPython, the ordinary ctest run): `sys.getallocatedblocks()` flat and
  RSS growth under 1 MiB. Skipped on the debug CPython, where test_refcount_flat checks the same.
Both check that every answer is the expected 200 or 500.

The client is this (system, release) Python; only the server links the debug libpython. With
HTTPY_SOAK_REQUIRE_DEBUG=1 (scripts/test's debug stage) test_refcount_flat fails rather than
skips when the server is not a debug build.
"""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import unittest

from serve_fixture import HTTPY, SOURCE

REQUESTS = 50_000
WARMUP = 10_000
REQUIRE_DEBUG = os.environ.get("HTTPY_SOAK_REQUIRE_DEBUG") == "1"


def _load_soak():
    """bench/soak (a script without .py) as a module: the request mix, client and limits."""
    path = os.path.join(SOURCE, "bench", "soak")
    loader = importlib.machinery.SourceFileLoader("httpy_bench_soak", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


soak = _load_soak()


def _server_python():
    """"debug" or "release": whether the soak app's /stats, run by `httpy call` in the server's
    own interpreter, reports "refs"; None (with the reason) when that cannot be told."""
    try:
        done = subprocess.run([HTTPY, "call", soak.APP, "GET", "/stats"], capture_output=True,
                              timeout=60)
        body = done.stdout.partition(b"\r\n\r\n")[2]
        return ("debug" if "refs" in json.loads(body) else "release"), ""
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        return None, f"`{HTTPY} call` failed: {e!r}"


SERVER_PYTHON, PROBE_ERROR = _server_python()


class SoakTest(unittest.TestCase):
    def run_soak(self):
        server = soak.start_server(HTTPY)
        try:
            result = soak.soak(server, REQUESTS, WARMUP, checkpoints=4)
            server.stop()
        except (OSError, AssertionError) as e:
            raise AssertionError(f"{e}; the server's log:\n{server.log()[-8000:]}") from e
        finally:
            server.kill()
        points = result["points"]
        self.report = "\n".join(soak.fmt_point(p) for p in points)
        print(f"\n{REQUESTS:,} requests in {result['elapsed']:.1f} s\n{self.report}")
        self.assertEqual(result["statuses"], result["expected"],
                         f"answers by status, expected {result['expected']}")
        self.assertEqual(server.errors_logged, result["expected"][500],
                         "one `error go_request` log entry per 500")
        return points[1], points[-1]

    def check_blocks_and_rss(self, warm, end):
        blocks = end["blocks"] - warm["blocks"]
        self.assertLessEqual(abs(blocks), soak.BLOCK_TOLERANCE,
                             f"sys.getallocatedblocks() moved by {blocks:+d} over "
                             f"{REQUESTS - WARMUP:,} requests after the warm-up:\n{self.report}")
        rss = end["rss_kib"] - warm["rss_kib"]
        self.assertLess(rss, soak.RSS_LIMIT_KIB,
                        f"RSS grew by {rss} KiB after the warm-up:\n{self.report}")

    @unittest.skipUnless(SERVER_PYTHON == "debug" or REQUIRE_DEBUG,
                         "the server links a release CPython: no sys.gettotalrefcount()")
    def test_refcount_flat(self):
        self.assertEqual(SERVER_PYTHON, "debug",
                         f"HTTPY_SOAK_REQUIRE_DEBUG=1 but {HTTPY} does not link a debug CPython "
                         f"{PROBE_ERROR}")
        warm, end = self.run_soak()
        refs = end["refs"] - warm["refs"]
        self.assertLessEqual(abs(refs), soak.REFS_TOLERANCE,
                             f"sys.gettotalrefcount() moved by {refs:+d} over "
                             f"{REQUESTS - WARMUP:,} requests after the warm-up:\n{self.report}")
        self.check_blocks_and_rss(warm, end)

    @unittest.skipIf(SERVER_PYTHON == "debug",
                     "debug CPython: test_refcount_flat checks the blocks along with the refcount")
    def test_blocks_flat(self):
        warm, end = self.run_soak()
        self.check_blocks_and_rss(warm, end)


if __name__ == "__main__":
    unittest.main()
