"""Slow and many clients (issue 5), short enough for CI: `httpy serve` against slowloris, clients
that never read, thousands of held connections, and running out of descriptors.

The scenarios live in slow_clients.py, shared with bench/slow_clients, which runs them at full
size (default timeouts, more rounds) and writes the figures to docs/security-figures.md.
"""

import sys
import unittest

import slow_clients as sc
from serve_fixture import APP, Server

HEADER_TIMEOUT = 2.0
WRITE_TIMEOUT = 2.0
# The sweeper looks for passed deadlines every 250 ms, and looks again 250 ms later when a read
# completed just as it cancelled; the rest is scheduling on two busy cores (measured: at most
# 0.3 s over the timeout; 0.57 s with three CPU hogs beside the server).
CLOSE_SLACK = 0.75

SLOW_CONNECTIONS = 500
ROUNDS = 6           # three attacks on each of the two servers
PHASE = 3.0          # seconds of measuring per phase: ~1,200 requests per server
GAP = 0.001          # the normal client's think time between requests
# Measured here (2 cores shared with compiles, load average 1.4-6): the median over 6 rounds of
# p99 under attack / p99 of the idle server at the same moments was 0.98-1.26; single rounds
# 0.61-1.75, once 2.17. Against the same server's own quiet phases the single rounds ranged
# 0.18-6.1, too noisy to judge a 2x limit on; that ratio is reported, not asserted.
P99_LIMIT = 2.0
# The attacked server's CPU during an attack, in cores: measured 0.08 (0.05 of it serving the
# normal client). A server spinning on the slow connections would use a whole core.
CPU_LIMIT = 0.5

HELD_CONNECTIONS = 2000
# The server runs with one malloc arena (MALLOC_ARENA_MAX=1) here. With glibc's default of an
# arena per thread, what a cycle leaves depends on which IO thread served which connection: RSS
# after a cycle moved by up to +2.7 MiB from the warmed-up level with three CPU hogs beside it
# (+1 MiB on a quieter machine), then back down; bench/slow_clients reports those figures. With
# one arena it stayed within 20 KiB of the warmed-up level, idle or loaded; the bound leaves room
# for the interpreter touching a few more pages. A leak of 100 bytes per connection adds 586 KiB
# over the three measured cycles of 2,000 connections.
MALLOC_ONE_ARENA = {"MALLOC_ARENA_MAX": "1"}
RSS_BOUND_KIB = 512


class SlowlorisTest(unittest.TestCase):
    def test_slow_headers_close_at_the_header_timeout_while_a_normal_client_keeps_its_p99(self):
        # Two identical servers: the one not attacked is the idle server, measured at the same
        # moments as the attacked one, so the background load of a shared machine (the p99 of
        # one 3 s phase moves by 4x from one phase to the next here) falls on both alike.
        servers = [Server(APP, "--header-timeout", HEADER_TIMEOUT) for _ in range(2)]
        try:
            result = sc.slowloris_rounds(servers, ROUNDS, PHASE, SLOW_CONNECTIONS,
                                         HEADER_TIMEOUT, GAP)
            records = [r for one in result["rounds"] for r in one["slow"]]
            logged = sc.log_count(servers, sc.TIMEOUT_LOG, len(records))
        except BaseException:
            for s in servers:
                s.kill()
            raise
        for s in servers:
            s.stop()

        latency = sc.latency_summary(result)
        slow = sc.slow_summary(records)
        print(f"\nslowloris: {slow}\nlatency: {latency}", file=sys.stderr)

        self.assertGreaterEqual(len(records), ROUNDS * SLOW_CONNECTIONS)
        for opened, first_byte, answered, closed, outcome, sent, port in records:
            where = f"slow connection from port {port}: {outcome}, {sent} bytes sent"
            self.assertIn(outcome, ("408", "eof", "reset"), where)
            self.assertIsNotNone(first_byte, where)
            life = closed - first_byte
            self.assertGreaterEqual(life, HEADER_TIMEOUT - 0.005, where)
            self.assertLessEqual(life, HEADER_TIMEOUT + CLOSE_SLACK, where)
        self.assertGreater(slow["outcomes"].get("408", 0), len(records) // 2, slow)
        self.assertEqual(logged, len(records), "one log line per slow connection")

        self.assertLessEqual(latency["paired_p99_ratio"], P99_LIMIT, latency)
        self.assertLessEqual(latency["cpu_attacked"], CPU_LIMIT, latency)


class NeverReadingClientTest(unittest.TestCase):
    def test_a_client_that_never_reads_is_reset_after_the_write_timeout(self):
        clients = 4
        with Server(APP, "--write-timeout", WRITE_TIMEOUT) as server:
            server.request("GET", "/warm-up")
            r = sc.never_reading(server, clients, pipelined=4, write_timeout=WRITE_TIMEOUT)
        print(f"\nnever reading: {r}", file=sys.stderr)

        self.assertEqual(r["fds_during"], r["fds_before"] + clients, r)
        self.assertEqual(r["unclosed"], 0, r)
        for after in r["closed_after"]:
            self.assertGreaterEqual(after, WRITE_TIMEOUT, r)
            self.assertLessEqual(after, WRITE_TIMEOUT + CLOSE_SLACK, r)
        # A reset, not a FIN queued behind megabytes nobody reads: the client learns at once
        # and the kernel keeps no orphan socket holding the unsent bytes.
        self.assertEqual(r["endings"], ["reset"] * clients, r)
        self.assertEqual(r["orphans"], 0, r)
        for received in r["received"]:
            self.assertLess(received, r["size"], r)
        self.assertIsNotNone(r["fds_released_after"], r)
        self.assertEqual(r["fds_after"], r["fds_before"], r)
        self.assertEqual(r["timeouts_logged"], clients, r)
        self.assertLess(r["others_max"], 0.5, "the other clients are served meanwhile")


class ManyConnectionsTest(unittest.TestCase):
    def test_held_connections_give_back_their_descriptors_and_memory_when_closed(self):
        if not sc.raise_own_fd_limit(HELD_CONNECTIONS + 200):
            self.skipTest(f"the open-file hard limit is below {HELD_CONNECTIONS + 200}")
        # Started with the usual soft limit of 1024: the server raises its own to the hard limit.
        with sc.own_fd_soft_limit(1024):
            server = Server(APP, "--idle-timeout", 60, env=MALLOC_ONE_ARENA)
        with server:
            soft, hard = sc.open_file_limit(server.proc.pid)
            self.assertEqual(soft, hard, "the server raises its soft open-file limit")
            server.request("GET", "/warm-up")
            r = sc.hold_connections(server, HELD_CONNECTIONS, cycles=3, warmup_cycles=3)
        print(f"\nheld connections: {r}", file=sys.stderr)

        self.assertEqual(r["base_fds"], r["start_fds"], r)
        for cycle in r["warmup"] + r["cycles"]:
            self.assertEqual(cycle["statuses"], {200: HELD_CONNECTIONS}, cycle)
            self.assertEqual(cycle["fds_during"], r["start_fds"] + HELD_CONNECTIONS, cycle)
            self.assertIsNotNone(cycle["released_after"], cycle)
            self.assertEqual(cycle["fds_after"], r["start_fds"], cycle)
        for cycle in r["cycles"]:
            self.assertLessEqual(cycle["rss_after"] - r["base_rss"], RSS_BOUND_KIB, r)


class OutOfDescriptorsTest(unittest.TestCase):
    def test_accept_backs_off_without_spinning_and_recovers_when_descriptors_free_up(self):
        with Server(APP) as server:
            server.request("GET", "/warm-up")
            r = sc.out_of_descriptors(server, spare=16, extra=48)
            status, _, _ = server.request("GET", "/after")
            self.assertEqual(status, 200)
        print(f"\nout of descriptors: {r}", file=sys.stderr)

        # Before the backoff, retrying at once used 1.4 s of CPU in 2 s and logged 700,000 lines
        # in 3 s.
        self.assertLess(r["cpu_seconds"], 0.2, r)
        self.assertLessEqual(r["accept_failures_logged"], 20, r)
        self.assertEqual(r["answered"], r["spare"] + r["extra"], r)
        self.assertEqual(r["fds_after"], r["base_fds"], r)


if __name__ == "__main__":
    unittest.main()
