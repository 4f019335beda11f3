"""Checks of deploy/kubernetes/, which no cluster applies here: every manifest parsed with PyYAML
(Debian's python3-yaml), read against one another, against the Dockerfile's image (its USER,
EXPOSE and copied files) and against the real `httpy serve --help`, whose options and
environment variables are the only ones the Deployment may use. docs/deployment.md explains the
settings checked here."""

import glob
import math
import os
import re
import subprocess
import unittest

import yaml

import test_dockerfile as dockerfile  # its Dockerfile parser

HTTPY = os.path.abspath(os.environ.get("HTTPY_BIN", "build/httpy"))
SOURCE = os.path.abspath(os.environ.get("HTTPY_SOURCE_DIR", os.getcwd()))
MANIFESTS = os.path.join(SOURCE, "deploy", "kubernetes")

# kind -> apiVersion, for the kinds deploy/kubernetes/ holds (each once).
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "PodDisruptionBudget": "policy/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
# What the process may take past drain delay + drain timeout to exit (docs/configuration.md).
EXIT_MARGIN = 1.5
# `httpy serve` defaults of the settings read here (docs/configuration.md).
DEFAULT_DRAIN_DELAY = 0.0
DEFAULT_DRAIN_TIMEOUT = 10.0
DEFAULT_HANDLER_TIMEOUT = 30.0
# Kubernetes' probe defaults.
DEFAULT_PERIOD, DEFAULT_FAILURES = 10, 3


# ---- reading the manifests --------------------------------------------------------------------

def manifest_files():
    return sorted(glob.glob(os.path.join(MANIFESTS, "*.yaml")) +
                  glob.glob(os.path.join(MANIFESTS, "*.yml")))


def documents():
    """[(file name, document)] for every non-empty YAML document under deploy/kubernetes/."""
    result = []
    for path in manifest_files():
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    result.append((os.path.basename(path), doc))
    return result


def the(kind):
    """The one document of KIND."""
    found = [doc for _, doc in documents() if doc.get("kind") == kind]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} documents of kind {kind}, expected 1")
    return found[0]


def pod_spec():
    return the("Deployment")["spec"]["template"]["spec"]


def container():
    """The httpy container: the one whose command runs `httpy serve`."""
    found = [c for c in pod_spec()["containers"] if argv(c)[:2] == ["httpy", "serve"]]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} containers run `httpy serve`, expected 1")
    return found[0]


def argv(c):
    return [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]


def env(c):
    """{name: value or the valueFrom dict} of the container's env list."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


def flag_value(words, flag):
    """The value of `--flag VALUE` or `--flag=VALUE` in WORDS (the last one), else None."""
    value = None
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith(flag + "="):
            value = word[len(flag) + 1:]
    return value


def setting(c, flag, variable, default=None):
    """What `httpy serve` takes for an option: the command line wins over the environment."""
    value = flag_value(argv(c), flag)
    if value is None:
        value = env(c).get(variable)
    return default if value is None else value


def seconds(c, flag, variable, default):
    value = setting(c, flag, variable)
    return default if value is None else float(value)


def host_port(address):
    """("0.0.0.0", 9090) from "0.0.0.0:9090"; "[::]:9090" gives "::"."""
    host, _, port = str(address).rpartition(":")
    return host.strip("[]"), int(port)


def cpu_cores(quantity):
    """A Kubernetes CPU quantity ("2", "1500m", "0.5") in cores."""
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def container_ports(c):
    return {p["name"]: p["containerPort"] for p in c.get("ports") or [] if "name" in p}


def resolve_port(c, port):
    """A probe's or Service's port (a name or a number) as the container port number; None when
    a name is not among the container's ports."""
    if isinstance(port, int):
        return port
    return container_ports(c).get(port)


def pod_labels():
    return the("Deployment")["spec"]["template"]["metadata"].get("labels") or {}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def security(c, key):
    """A securityContext field as it applies to the container: its own, else the pod's."""
    own = c.get("securityContext") or {}
    return own[key] if key in own else (pod_spec().get("securityContext") or {}).get(key)


def image_user():
    """(uid, gid or None) of the Dockerfile's runtime stage USER."""
    _, _, runtime = dockerfile.load()
    user = dockerfile.last(runtime, "USER")
    if user is None:
        raise AssertionError("the Dockerfile sets no USER")
    uid, _, gid = user.strip().partition(":")
    return int(uid), int(gid) if gid else None


def serve_help():
    done = subprocess.run([HTTPY, "serve", "--help"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"`httpy serve --help` exited {done.returncode}: {done.stderr}")
    return done.stdout + done.stderr


# ---- the checks -------------------------------------------------------------------------------

class Files(unittest.TestCase):
    def test_every_file_starts_with_a_comment_and_parses(self):
        files = manifest_files()
        self.assertTrue(files, f"no manifests in {MANIFESTS}")
        for path in files:
            with open(path) as f:
                first = f.readline()
            self.assertTrue(first.startswith("# "), f"{path} starts with a comment")
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            self.assertTrue(docs, f"{path} holds a document")

    def test_kinds_and_api_versions(self):
        kinds = []
        for name, doc in documents():
            kind = doc.get("kind")
            self.assertIn(kind, API_VERSIONS, name)
            self.assertEqual(doc.get("apiVersion"), API_VERSIONS[kind], f"{name}: {kind}")
            if kind != "Kustomization":
                self.assertTrue(doc.get("metadata", {}).get("name"), f"{name}: metadata.name")
            kinds.append(kind)
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            self.assertEqual(kinds.count(kind), 1, kind)

    def test_the_kustomization_lists_every_other_manifest(self):
        if not any(doc.get("kind") == "Kustomization" for _, doc in documents()):
            self.skipTest("no kustomization.yaml")
        listed = set(the("Kustomization").get("resources") or [])
        others = {name for name, doc in documents() if doc.get("kind") != "Kustomization"}
        self.assertEqual(listed, others)


class Command(unittest.TestCase):
    def test_runs_the_images_httpy_on_the_copied_app(self):
        words = argv(container())
        _, _, runtime = dockerfile.load()
        copied = {dest for _, _, dest in dockerfile.copies(runtime)}
        self.assertIn("/usr/local/bin/httpy", copied, "`httpy` is on the image's PATH")
        app = words[2] if len(words) > 2 and not words[2].startswith("-") else None
        app = app or env(container()).get("HTTPY_HANDLER")
        self.assertIsNotNone(app, "the command names the app")
        self.assertIn(app.split(":")[0], copied, "the app is a file the image has")

    def test_every_flag_and_httpy_variable_is_one_httpy_serve_knows(self):
        text = serve_help()
        flags = [w.split("=")[0] for w in argv(container())[2:] if w.startswith("--")]
        for flag in flags:
            self.assertRegex(text, rf"(?<![\w-]){re.escape(flag)}(?![\w-])",
                             f"{flag} is in `httpy serve --help`")
        variables = [name for name in env(container()) if name.startswith("HTTPY_")]
        self.assertTrue(variables)
        for name in variables:
            self.assertRegex(text, rf"\b{re.escape(name)}\b", f"{name} is in `httpy serve --help`")

    def test_workers_match_the_cpu_limit(self):
        c = container()
        limit = (c.get("resources") or {}).get("limits", {}).get("cpu")
        self.assertIsNotNone(limit, "a CPU limit")
        workers = setting(c, "--workers", "HTTPY_WORKERS")
        self.assertIsNotNone(workers, "--workers is set")
        if isinstance(workers, dict):  # valueFrom: the limit itself, in whole cores
            field = workers.get("resourceFieldRef") or {}
            self.assertEqual(field.get("resource"), "limits.cpu", workers)
            self.assertEqual(field.get("containerName", c["name"]), c["name"])
            self.assertEqual(cpu_cores(field.get("divisor", "1")), 1.0, "counted in cores")
        else:
            self.assertEqual(int(workers), math.ceil(cpu_cores(limit)))

    def test_forwarded_headers_are_believed_from_a_set_range_only(self):
        value = setting(container(), "--forwarded-allow-ips", "HTTPY_FORWARDED_ALLOW_IPS")
        self.assertIsInstance(value, str, "set to the cluster's pod or ingress range")
        entries = [e.strip() for e in value.split(",")]
        self.assertNotIn("*", entries, "every client could then choose its own address")
        self.assertNotEqual(set(entries), {"127.0.0.1", "::1"}, "the default: no proxy in a pod")


class Ports(unittest.TestCase):
    def test_the_http_port_is_the_images_and_the_bind_address(self):
        c = container()
        ports = container_ports(c)
        self.assertEqual(len(ports), len(c["ports"]), "every port is named")
        _, _, runtime = dockerfile.load()
        exposed = [int(p.split("/")[0]) for k, args in runtime["body"] if k == "EXPOSE"
                   for p in args.split()]
        self.assertIn(ports.get("http"), exposed, "the `http` port is the Dockerfile's EXPOSE")
        host, port = host_port(setting(c, "--bind", "HTTPY_BIND", "127.0.0.1:8080"))
        self.assertEqual(port, ports["http"], "httpy listens on the `http` port")
        self.assertIn(host, ("0.0.0.0", "::"), "on the pod's address, not loopback")

    def test_the_admin_port_is_the_admin_bind_address(self):
        c = container()
        address = setting(c, "--admin-bind", "HTTPY_ADMIN_BIND")
        self.assertIsNotNone(address, "the admin listener is on")
        host, port = host_port(address)
        self.assertEqual(port, container_ports(c).get("admin"))
        self.assertNotEqual(port, container_ports(c).get("http"))
        self.assertIn(host, ("0.0.0.0", "::"), "the kubelet probes the pod's address")

    def test_the_service_targets_the_http_port(self):
        service = the("Service")
        self.assertEqual(service["spec"].get("type", "ClusterIP"), "ClusterIP")
        ports = service["spec"]["ports"]
        self.assertEqual(len(ports), 1, ports)
        self.assertEqual(ports[0]["port"], 80)
        target = ports[0].get("targetPort", ports[0]["port"])
        self.assertIn(target, container_ports(container()), "targetPort names a container port")
        self.assertEqual(resolve_port(container(), target), container_ports(container())["http"])


class Probes(unittest.TestCase):
    def probe(self, name):
        probe = container().get(name)
        self.assertIsNotNone(probe, name)
        self.assertIn("httpGet", probe, name)
        return probe

    def admin_port(self):
        return host_port(setting(container(), "--admin-bind", "HTTPY_ADMIN_BIND"))[1]

    def assert_on_admin(self, probe, path):
        self.assertEqual(probe["httpGet"]["path"], path)
        port = probe["httpGet"]["port"]
        if isinstance(port, str):
            self.assertIn(port, container_ports(container()), "the port names a container port")
        self.assertEqual(resolve_port(container(), port), self.admin_port(),
                         "on the port HTTPY_ADMIN_BIND names")

    def test_liveness_is_healthz_on_the_admin_port(self):
        self.assert_on_admin(self.probe("livenessProbe"), "/healthz")

    def test_readiness_is_readyz_on_the_admin_port(self):
        self.assert_on_admin(self.probe("readinessProbe"), "/readyz")

    def test_a_startup_probe_is_healthz_on_the_admin_port(self):
        if "startupProbe" not in container():
            self.skipTest("no startupProbe")
        self.assert_on_admin(self.probe("startupProbe"), "/healthz")

    def test_readiness_fails_within_the_drain_delay(self):
        probe = self.probe("readinessProbe")
        delay = seconds(container(), "--drain-delay", "HTTPY_DRAIN_DELAY", DEFAULT_DRAIN_DELAY)
        noticed = (probe.get("periodSeconds", DEFAULT_PERIOD) *
                   probe.get("failureThreshold", DEFAULT_FAILURES))
        self.assertLessEqual(noticed, delay, "out of rotation before the listener closes")


class Shutdown(unittest.TestCase):
    def test_the_grace_period_outlasts_the_drain(self):
        c = container()
        delay = seconds(c, "--drain-delay", "HTTPY_DRAIN_DELAY", DEFAULT_DRAIN_DELAY)
        drain = seconds(c, "--drain-timeout", "HTTPY_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)
        self.assertGreater(delay, 0, "a drain delay covers the endpoints' update")
        grace = pod_spec().get("terminationGracePeriodSeconds", 30)
        self.assertGreater(grace, delay + drain + EXIT_MARGIN)

    def test_no_prestop_hook(self):
        # The drain delay is the usual `preStop: sleep`; a hook would also eat into the grace.
        self.assertNotIn("preStop", container().get("lifecycle") or {})

    def test_the_drain_timeout_covers_the_handler_timeout(self):
        c = container()
        drain = seconds(c, "--drain-timeout", "HTTPY_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)
        handler = seconds(c, "--handler-timeout", "HTTPY_HANDLER_TIMEOUT", DEFAULT_HANDLER_TIMEOUT)
        self.assertNotEqual(handler, 0, "a handler timeout bounds every request")
        self.assertGreaterEqual(drain, handler)


class Selectors(unittest.TestCase):
    def test_the_deployment_selects_its_pods(self):
        selector = the("Deployment")["spec"]["selector"]
        self.assertEqual(set(selector), {"matchLabels"}, selector)
        self.assertTrue(selects(selector["matchLabels"], pod_labels()))

    def test_the_service_selects_the_pods(self):
        self.assertTrue(selects(the("Service")["spec"].get("selector"), pod_labels()))

    def test_the_pdb_selects_the_pods_and_allows_one_down(self):
        spec = the("PodDisruptionBudget")["spec"]
        self.assertEqual(set(spec["selector"]), {"matchLabels"}, spec["selector"])
        self.assertTrue(selects(spec["selector"]["matchLabels"], pod_labels()))
        budget = {k: spec[k] for k in ("minAvailable", "maxUnavailable") if k in spec}
        self.assertIn(budget, ({"maxUnavailable": 1}, {"minAvailable": 1}))

    def test_the_hpa_scales_the_deployment_on_cpu(self):
        spec = the("HorizontalPodAutoscaler")["spec"]
        target = spec["scaleTargetRef"]
        self.assertEqual((target["apiVersion"], target["kind"], target["name"]),
                         ("apps/v1", "Deployment", the("Deployment")["metadata"]["name"]))
        self.assertGreaterEqual(spec.get("minReplicas", 1), 2, "one pod serves while one is down")
        self.assertGreater(spec["maxReplicas"], spec.get("minReplicas", 1))
        cpu = [m for m in spec.get("metrics") or [] if m.get("type") == "Resource"
               and m["resource"]["name"] == "cpu"]
        self.assertEqual(len(cpu), 1, spec.get("metrics"))
        self.assertEqual(cpu[0]["resource"]["target"]["type"], "Utilization")
        self.assertTrue(0 < cpu[0]["resource"]["target"]["averageUtilization"] <= 100)
        requests = (container().get("resources") or {}).get("requests", {})
        self.assertIn("cpu", requests, "utilization is measured against the CPU request")
        self.assertNotIn("replicas", the("Deployment")["spec"], "the HPA owns the count")

    def test_prometheus_scrapes_the_admin_port(self):
        annotations = the("Deployment")["spec"]["template"]["metadata"].get("annotations") or {}
        for key in ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"):
            self.assertIsInstance(annotations.get(key), str, f"{key} is a string")
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        self.assertEqual(annotations["prometheus.io/path"], "/metrics")
        admin = host_port(setting(container(), "--admin-bind", "HTTPY_ADMIN_BIND"))[1]
        self.assertEqual(int(annotations["prometheus.io/port"]), admin)


class Security(unittest.TestCase):
    def test_runs_as_the_images_user(self):
        uid, gid = image_user()
        self.assertIs(security(container(), "runAsNonRoot"), True)
        self.assertEqual(security(container(), "runAsUser"), uid)
        if gid is not None:
            self.assertEqual(security(container(), "runAsGroup"), gid)

    def test_is_locked_down(self):
        c = container()
        own = c.get("securityContext") or {}
        self.assertIs(own.get("readOnlyRootFilesystem"), True)
        self.assertIs(own.get("allowPrivilegeEscalation"), False)
        self.assertEqual((own.get("capabilities") or {}).get("drop"), ["ALL"])
        self.assertEqual((own.get("capabilities") or {}).get("add"), None)
        self.assertEqual((security(c, "seccompProfile") or {}).get("type"), "RuntimeDefault")
        self.assertIs(pod_spec().get("automountServiceAccountToken"), False)

    def test_no_service_links_in_httpys_environment_prefix(self):
        # A Service named httpy would put HTTPY_PORT=tcp://... and the like in every pod.
        self.assertIs(pod_spec().get("enableServiceLinks"), False)

    def test_tmp_is_a_writable_disk_volume(self):
        c = container()
        tmpdir = env(c).get("TMPDIR", "/tmp")
        mounts = {m["mountPath"].rstrip("/"): m for m in c.get("volumeMounts") or []}
        self.assertIn(tmpdir.rstrip("/"), mounts, "TMPDIR is mounted")
        mount = mounts[tmpdir.rstrip("/")]
        self.assertFalse(mount.get("readOnly", False))
        volumes = {v["name"]: v for v in pod_spec().get("volumes") or []}
        self.assertIn(mount["name"], volumes)
        self.assertIn("emptyDir", volumes[mount["name"]], "an emptyDir")
        medium = (volumes[mount["name"]]["emptyDir"] or {}).get("medium", "")
        self.assertNotEqual(medium, "Memory", "spooled bodies would count as memory")

    def test_has_resource_requests_and_limits(self):
        resources = container().get("resources") or {}
        for kind in ("requests", "limits"):
            for name in ("cpu", "memory"):
                self.assertIn(name, resources.get(kind, {}), f"{kind}.{name}")
        self.assertLessEqual(cpu_cores(resources["requests"]["cpu"]),
                             cpu_cores(resources["limits"]["cpu"]))


if __name__ == "__main__":
    unittest.main()
