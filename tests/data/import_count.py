"""Counts how often this file has been executed in the process (in os.environ, which outlives
any one module object); the handler answers the count its own module saw."""

import os

_executions = int(os.environ.get("HTTPY_TEST_IMPORT_COUNT", "0")) + 1
os.environ["HTTPY_TEST_IMPORT_COUNT"] = str(_executions)


def go_request(method, path, params, query, headers, body):
    return 200, str(_executions), None
