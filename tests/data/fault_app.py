"""Handlers that fail the hard ways, for tests/e2e/test_faults.py: the server must answer each
with a clear status and keep serving. The path picks the fault."""

import os
import subprocess
import sys
import time

import timeout_spin


def _recurse(depth):
    return _recurse(depth + 1) + 1


def go_request(method, path, params, query, headers, body):
    if path == "/recursion":
        return _recurse(0)
    if path == "/memory":
        bytearray(1 << 60)  # the allocation itself fails: a real MemoryError
    if path == "/raise-memory":
        raise MemoryError("raised on purpose")
    if path == "/exit":
        sys.exit(3)
    if path == "/interrupt":
        raise KeyboardInterrupt
    if path == "/value-error":
        raise ValueError("secret-detail-42")
    if path == "/huge":
        return 200, b"x" * int(query["bytes"][0]), None
    if path == "/forever":
        timeout_spin.spin()
    if path == "/interrupted":
        return 200, str(timeout_spin.interrupted), None
    if path == "/sleep":
        time.sleep(float(query["seconds"][0]))
        return 200, "slept", None
    if path == "/broken-pipe":
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            os.write(write_end, b"to nobody")
        except BrokenPipeError:
            return 200, "BrokenPipeError", None
        finally:
            os.close(write_end)
        return 200, "written", None
    if path == "/child-sigign":
        status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True)
        for line in status.stdout.splitlines():
            if line.startswith("SigIgn:"):
                return 200, line.split()[1], None
    if path == "/rss":
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return 200, line.split()[1], None
    return 200, "alive", None
