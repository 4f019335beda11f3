"""An app whose import takes 1.5 s (a big framework, say), for tests/e2e/test_drain.py: a stop
signal that arrives while a process starts must not end it by the signal's default action. It
prints a line when the import begins."""

import sys
import time

print("slow_import_app: importing", file=sys.stderr, flush=True)
time.sleep(1.5)


def go_request(method, path, params, query, headers, body):
    return 200, "imported", None
