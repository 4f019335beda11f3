"""A busy loop that only the handler timeout ends, for the tests of that timeout: the executor
raises TimeoutError into the Python thread running it."""

import time

interrupted = 0  # how many spins a TimeoutError ended


def spin(at_most=None):
    """Runs Python bytecode until a TimeoutError is raised into it, which is counted in
    `interrupted` and raised on; with `at_most` seconds it returns after that long instead (so
    that a lost TimeoutError cannot hang a test)."""
    global interrupted
    deadline = None if at_most is None else time.monotonic() + at_most
    try:
        while deadline is None or time.monotonic() < deadline:
            pass
    except TimeoutError:
        interrupted += 1
        raise
