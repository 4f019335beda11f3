"""httpy past one machine: Debian's real nginx on loopback load-balancing three `httpy serve`
instances while clients send GET and POST requests at a steady rate throughout. A rolling
restart (each instance in turn: SIGTERM with a drain delay, then a new instance on its port,
ready on /readyz) costs no request, POSTs included, which nginx never retries once sent; an
instance SIGKILLed mid-load costs only the requests in flight on it."""

import shutil
import tempfile
import time
import unittest

import metrics_fixture
from balancer_fixture import CLIENTS, Balancer, Instance, Load, free_port, restart


class RollingRestart(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.instances = [Instance(free_port()) for _ in range(3)]
        self.addCleanup(lambda: [i.server.kill() for i in self.instances])
        balancer = Balancer(self.dir, self.instances)
        self.addCleanup(balancer.stop)
        self.port = balancer.port

    def steady(self, seconds, load):
        start = load.ok
        time.sleep(seconds)
        self.assertGreater(load.ok, start, "no request got through")

    def test_a_rolling_restart_fails_no_request(self):
        load = Load(self.port)
        try:
            self.steady(1.0, load)
            for index, old in enumerate(list(self.instances)):
                served = metrics_fixture.value(metrics_fixture.scrape(old.admin)[1],
                                               "http_requests_total", route="/body")
                self.assertGreater(served, 0, "nginx sent this instance no POST")
                restart(self.instances, index)
                self.steady(1.0, load)
        finally:
            load.stop()
        print(f"\nrolling restart: {load.ok} requests answered, {len(load.failures)} failed",
              flush=True)
        self.assertEqual(load.failures, [])
        self.assertGreater(load.ok, 100)

    def test_an_instance_killed_mid_load_costs_only_its_requests_in_flight(self):
        load = Load(self.port)
        try:
            self.steady(1.0, load)
            self.instances[0].server.proc.kill()
            self.instances[0].server.wait_exit(10)
            self.steady(2.0, load)
        finally:
            load.stop()
        print(f"\nSIGKILL: {load.ok} requests answered, {len(load.failures)} failed "
              f"({load.failures})", flush=True)
        # at most one request in flight per client, and nginx retries the GETs elsewhere
        self.assertLessEqual(len(load.failures), CLIENTS)
        self.assertTrue(all(f.startswith("POST") for f in load.failures), load.failures)


if __name__ == "__main__":
    unittest.main()
