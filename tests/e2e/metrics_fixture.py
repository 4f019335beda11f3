"""Scrapes an admin listener's /metrics and parses the page with the prometheus_client library's
own parsers (the Prometheus text one and the OpenMetrics one), run in venvs/test's Python, so
the tests read the page the way real scrapers do."""

import http.client
import json
import os
import subprocess

SOURCE = os.path.abspath(os.environ.get("HTTPY_SOURCE_DIR", os.getcwd()))
VENV_PYTHON = os.path.join(SOURCE, "venvs", "test", "bin", "python")

_PARSE = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == "openmetrics" else prometheus
samples = [[family.name, family.type, s.name, s.labels, s.value]
           for family in parse(sys.stdin.read()) for s in family.samples]
print(json.dumps(samples))
"""


def get(port, path, headers=None, timeout=5.0):
    """(status, headers, body text) of one GET on the admin listener at 127.0.0.1:`port`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read().decode()
    finally:
        conn.close()


def parse(text, openmetrics=False):
    """Samples of a page: a list of Sample(family, type, name, labels, value). A page either
    parser refuses raises AssertionError with the parser's message."""
    kind = "openmetrics" if openmetrics else "prometheus"
    run = subprocess.run([VENV_PYTHON, "-c", _PARSE, kind], input=text, capture_output=True,
                         text=True, timeout=60)
    if run.returncode != 0:
        raise AssertionError(f"prometheus_client's {kind} parser refused the page: "
                             f"{run.stderr}\n{text}")
    return [Sample(*s) for s in json.loads(run.stdout)]


class Sample:
    def __init__(self, family, type_, name, labels, value):
        self.family, self.type, self.name, self.labels, self.value = (family, type_, name,
                                                                      labels, value)

    def __repr__(self):
        return f"{self.name}{self.labels} {self.value}"


def scrape(port, openmetrics=False):
    """(content type, samples) of /metrics, asking for OpenMetrics when `openmetrics`."""
    accept = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    status, headers, text = get(port, "/metrics", accept)
    if status != 200:
        raise AssertionError(f"/metrics answered {status}: {text}")
    return headers["Content-Type"], parse(text, openmetrics)


def value(samples, name, **labels):
    """The value of the one sample `name` whose labels include `labels`; 0 when none has them
    (a counter never incremented), AssertionError when several do."""
    found = [s.value for s in samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    if len(found) > 1:
        raise AssertionError(f"{len(found)} samples {name}{labels}: pass more labels")
    return found[0] if found else 0
