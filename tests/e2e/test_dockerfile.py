"""Checks of the Dockerfile, which no Docker engine builds here: read against CI's scripts, the
built binary's shared libraries and this Debian 12 machine's package lists, and its CMD and
HEALTHCHECK run on this machine against the real `httpy serve`."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import unittest

HTTPY = os.path.abspath(os.environ.get("HTTPY_BIN", "build/httpy"))
SOURCE = os.path.abspath(os.environ.get("HTTPY_SOURCE_DIR", os.getcwd()))
DOCKERFILE = os.path.join(SOURCE, "Dockerfile")

# Packages of the debian:bookworm image itself: glibc, the GCC runtime and libstdc++.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# CI's build script: the only variables the Dockerfile may set for it, and no extra arguments.
BUILD_ENV = {"BUILD_TARGETS", "BUILD_DIR", "HTTPY_JOBS"}
# Where Debian packages put programs: a container's PATH minus /usr/local (pyenv and the like).
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


# ---- reading the Dockerfile -------------------------------------------------------------------

def instructions(text):
    """[(KEYWORD, arguments)] with continuation lines joined and comment lines dropped."""
    result, pending = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue  # comments, including those inside a continuation, as Docker drops them
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            result.append((keyword.upper(), args.strip()))
    if pending.strip():
        keyword, _, args = pending.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def stages(text):
    """[{"image", "name", "body": [(KEYWORD, args)]}] for each FROM."""
    result = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            result.append({"image": words[0], "name": name, "body": []})
        elif result:
            result[-1]["body"].append((keyword, args))
    return result


def exec_form(args):
    """The argument list of an exec-form (JSON) or shell-form command."""
    if args.lstrip().startswith("["):
        return json.loads(args)
    return ["/bin/sh", "-c", args]


def commands(shell):
    """The simple commands of a shell line, split at &&, ||, ; and |, as token lists."""
    lexer = shlex.shlex(shell, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    result, current = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            result.append(current)
            current = []
        else:
            current.append(token)
    result.append(current)
    return [c for c in result if c]


def split_assignments(command):
    """({VAR: value} set before the program, [program, args...])."""
    env = {}
    while command and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", command[0]):
        name, _, value = command[0].partition("=")
        env[name] = value
        command = command[1:]
    return env, command


def run_commands(stage):
    """Every simple command the stage's RUN instructions execute: [(env, argv)]."""
    result = []
    for keyword, args in stage["body"]:
        if keyword == "RUN":
            shell = args
            while shell.startswith("--"):  # RUN --mount=... options
                shell = shell.split(None, 1)[1]
            for command in commands(shell):
                result.append(split_assignments(command))
    return result


def apt_installs(stage):
    """[(options, packages)] for each `apt-get install` the stage runs."""
    result = []
    for _, argv in run_commands(stage):
        if not argv or os.path.basename(argv[0]) not in ("apt-get", "apt"):
            continue
        options, words, rest = [], [], iter(argv[1:])
        for word in rest:
            if word in ("-o", "-c", "-t"):
                options += [word, next(rest, "")]
            elif word.startswith("-"):
                options.append(word)
            else:
                words.append(word)
        if words and words[0] == "install":
            result.append((options, [re.split(r"[=/]", w)[0] for w in words[1:]]))
    return result


def copies(stage):
    """[(from_stage or None, [sources], destination)] for each COPY/ADD of the stage."""
    result = []
    for keyword, args in stage["body"]:
        if keyword not in ("COPY", "ADD"):
            continue
        words = exec_form(args) if args.startswith("[") else shlex.split(args)
        source_stage = None
        while words and words[0].startswith("--"):
            if words[0].startswith("--from="):
                source_stage = words[0][len("--from="):]
            words = words[1:]
        result.append((source_stage, words[:-1], words[-1]))
    return result


def last(stage, keyword):
    values = [args for k, args in stage["body"] if k == keyword]
    return values[-1] if values else None


def healthcheck(stage):
    """The HEALTHCHECK command as an argument list; None when absent or NONE."""
    args = last(stage, "HEALTHCHECK")
    if args is None or args.strip().upper() == "NONE":
        return None
    match = re.match(r"^((?:--\S+\s+)*)CMD\s+(.*)$", args, re.S | re.I)
    return exec_form(match.group(2)) if match else None


# ---- this machine's packages ------------------------------------------------------------------

def package_of(path):
    """The Debian package that ships PATH, trying the /usr-merged spellings too."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/usr/"):
            candidates.append(p[len("/usr"):])
        else:
            candidates.append("/usr" + p)
    for p in candidates:
        done = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if done.returncode == 0:
            # "libfmt9:amd64: /usr/lib/x86_64-linux-gnu/libfmt.so.9" (diversions aside)
            for line in done.stdout.splitlines():
                if not line.startswith("diversion"):
                    return line.split(": ", 1)[0].split(",")[0].split(":")[0].strip()
    return None


def linked_libraries(binary):
    """{soname: resolved path} for every shared library `ldd` loads for BINARY."""
    done = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    result = {}
    for line in done.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, target = line.partition("=>")
            target = target.strip()
            result[name.strip()] = None if target.startswith("not found") else target.split()[0]
        elif line.startswith("/"):
            result[os.path.basename(line.split()[0])] = line.split()[0]
    return result


def needed(binary):
    """The DT_NEEDED sonames of BINARY: what it links directly."""
    done = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", done.stdout)


def dependency_closure(packages):
    """PACKAGES and everything apt installs with them (Depends and Pre-Depends, recursively)."""
    done = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        capture_output=True, text=True, check=True)
    return {line.strip("<>").split(":")[0] for line in done.stdout.splitlines()
            if line and not line[0].isspace()}


def apt_cache_has(package):
    done = subprocess.run(["apt-cache", "show", package], capture_output=True, text=True)
    return done.returncode == 0 and re.search(rf"^Package: {re.escape(package)}$", done.stdout,
                                              re.M) is not None


# ---- the parsed Dockerfile, for every test ----------------------------------------------------

def load():
    with open(DOCKERFILE) as f:
        all_stages = stages(f.read())
    runtime = all_stages[-1]
    sources = {s for s, _, _ in copies(runtime) if s is not None}
    named = {s["name"]: s for s in all_stages if s["name"]}
    build = named.get(next(iter(sources))) if len(sources) == 1 else None
    return all_stages, build, runtime


def script_commands(path):
    """The commands a CI shell script runs: [(env, argv)], continuation lines joined."""
    with open(os.path.join(SOURCE, path)) as f:
        text = f.read().replace("\\\n", " ")
    return [split_assignments(c) for line in text.splitlines() for c in commands(line)]


def runs_script(argv, script):
    """Whether ARGV runs SCRIPT (repository-relative), directly or through exec/bash/sh."""
    argv = [a for a in argv if a not in ("exec", "bash", "sh")]
    return bool(argv) and os.path.normpath(argv[0]) == script


class Stages(unittest.TestCase):
    def test_is_multi_stage_from_debian_bookworm(self):
        all_stages, build, runtime = load()
        self.assertGreaterEqual(len(all_stages), 2, "a build stage and a runtime stage")
        for stage in all_stages:
            self.assertEqual(stage["image"], "debian:bookworm", stage["name"])
        self.assertIsNotNone(build, "the runtime stage copies from exactly one named stage")
        self.assertIsNot(build, runtime)

    def test_ci_runs_install_deps_and_build(self):
        # The Dockerfile's commands count as tested only while CI runs the same scripts.
        ci = script_commands(".ci/run")
        self.assertTrue(any(runs_script(argv, "scripts/test") for _, argv in ci), ci)
        test = script_commands("scripts/test")
        for script in ("scripts/install-deps", "scripts/build"):
            self.assertTrue(any(runs_script(argv, script) and len(argv) == 1 for _, argv in test),
                            f"scripts/test runs {script} without arguments")

    def test_build_stage_runs_the_ci_install_and_build_scripts(self):
        _, build, _ = load()
        runs = run_commands(build)
        deps = [i for i, (_, argv) in enumerate(runs) if runs_script(argv, "scripts/install-deps")]
        builds = [i for i, (_, argv) in enumerate(runs) if runs_script(argv, "scripts/build")]
        self.assertTrue(deps, "the build stage runs scripts/install-deps")
        self.assertTrue(builds, "the build stage runs scripts/build")
        self.assertLess(deps[0], builds[0], "packages are installed before the build")
        for i in deps:
            self.assertEqual(runs[i][1][1:], [], "install-deps as CI runs it: no arguments")
        for i in builds:
            env, argv = runs[i]
            self.assertEqual(argv[1:], [], "scripts/build with CI's CMake configuration")
            self.assertLessEqual(set(env), BUILD_ENV, env)
            if "BUILD_TARGETS" in env:
                self.assertIn("httpy_cli", env["BUILD_TARGETS"].split(), "builds `httpy`")
        configures = [argv for _, argv in runs
                      if argv and argv[0] == "cmake" and ("-S" in argv or "-B" in argv)]
        self.assertEqual(configures, [], "no CMake configure of its own: scripts/build's only")

    def test_build_stage_installs_what_the_runtime_stage_copies(self):
        _, build, runtime = load()
        installs = [argv for _, argv in run_commands(build)
                    if argv[:2] == ["cmake", "--install"]]
        self.assertEqual(len(installs), 1, "one `cmake --install BUILD_DIR --prefix PREFIX`")
        argv = installs[0]
        env = next((env for env, a in run_commands(build) if runs_script(a, "scripts/build")), {})
        self.assertEqual(argv[2], env.get("BUILD_DIR", "build"), "installs scripts/build's tree")
        prefix = argv[argv.index("--prefix") + 1]
        binaries = [(sources, dest) for stage, sources, dest in copies(runtime) if stage]
        self.assertTrue(binaries)
        for sources, _ in binaries:
            for source in sources:
                self.assertTrue(source.startswith(prefix.rstrip("/") + "/"),
                                f"{source} is under the install prefix {prefix}")

        # The same install, from the tree that built HTTPY_BIN, gives every file copied.
        tree = os.path.dirname(HTTPY)
        if not os.path.exists(os.path.join(tree, "cmake_install.cmake")):
            self.skipTest(f"{tree} is not a CMake build tree")
        with tempfile.TemporaryDirectory() as root:
            options = [a for a in argv[3:] if a != prefix and a != "--prefix"]
            subprocess.run(["cmake", "--install", tree, "--prefix", root, *options],
                           check=True, capture_output=True)
            for sources, _ in binaries:
                for source in sources:
                    installed = os.path.join(root, os.path.relpath(source, prefix))
                    self.assertTrue(os.path.isfile(installed), installed)
            installed = os.path.join(root, os.path.relpath(binaries[0][0][0], prefix))
            done = subprocess.run([installed, "serve", "--help"], capture_output=True, timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)


class Runtime(unittest.TestCase):
    def test_runs_as_a_non_root_user(self):
        _, _, runtime = load()
        user = last(runtime, "USER")
        self.assertIsNotNone(user, "the runtime stage sets USER")
        name = user.split(":")[0].strip()
        self.assertNotIn(name, ("", "root", "0"))
        if not name.isdigit():
            created = any(argv and argv[0] in ("useradd", "adduser") and argv[-1] == name
                          for _, argv in run_commands(runtime))
            self.assertTrue(created, f"user {name} is created in the runtime stage")

    def test_exposes_8080(self):
        _, _, runtime = load()
        ports = [p.split("/")[0] for k, args in runtime["body"] if k == "EXPOSE"
                 for p in args.split()]
        self.assertIn("8080", ports)

    def test_has_a_healthcheck_on_8080_run_by_an_installed_program(self):
        _, _, runtime = load()
        check = healthcheck(runtime)
        self.assertIsNotNone(check, "the runtime stage has a HEALTHCHECK")
        self.assertIn("8080", " ".join(check))
        program = check[0] if check[0] != "/bin/sh" else shlex.split(check[2])[0]
        path = shutil.which(program, path=DEBIAN_PATH)
        self.assertIsNotNone(path, f"{program} exists on a Debian 12 machine")
        package = package_of(path)
        installed = dependency_closure([p for _, ps in apt_installs(runtime) for p in ps])
        self.assertIn(package, installed | BASE_PACKAGES,
                      f"{program} ({package}) is installed in the runtime stage")
        if check[1:2] == ["-c"] and "python" in program:
            compile(check[2], "HEALTHCHECK", "exec")

    def test_cmd_serves_the_example_on_8080(self):
        _, _, runtime = load()
        cmd = exec_form(last(runtime, "CMD") or "[]")
        self.assertEqual(cmd, ["httpy", "serve", "/app/worker.py", "--bind", "0.0.0.0:8080"])
        self.assertIsNone(last(runtime, "ENTRYPOINT"))
        self.assertIn(("examples/worker.py", "/app/worker.py"),
                      [(s, d) for stage, sources, d in copies(runtime) if not stage
                       for s in sources])
        self.assertIn("/usr/local/bin/httpy",
                      [d for stage, _, d in copies(runtime) if stage], "httpy is on PATH")

    def test_installs_only_runtime_packages_that_exist(self):
        _, _, runtime = load()
        installs = apt_installs(runtime)
        self.assertTrue(installs, "the runtime stage installs its libraries with apt-get")
        for options, packages in installs:
            self.assertIn("--no-install-recommends", options)
            self.assertTrue(packages)
            for package in packages:
                self.assertFalse(package.endswith(("-dev", "-dbg")), package)
                self.assertTrue(apt_cache_has(package), f"`apt-cache show {package}`")
        self.assertFalse(any(runs_script(argv, "scripts/install-deps")
                             for _, argv in run_commands(runtime)), "no build tools at run time")

    def test_installs_the_package_of_every_linked_library(self):
        _, _, runtime = load()
        named = {p for _, ps in apt_installs(runtime) for p in ps}
        installed = dependency_closure(sorted(named)) | BASE_PACKAGES
        libraries = linked_libraries(HTTPY)
        self.assertIn("libpython3.11.so.1.0", libraries)
        direct = set(needed(HTTPY))
        used = set()
        for soname, path in sorted(libraries.items()):
            if soname.startswith("linux-vdso") or soname.startswith("linux-gate"):
                continue
            self.assertIsNotNone(path, f"{soname} is not found on this machine")
            package = package_of(path)
            self.assertIsNotNone(package, f"no Debian package ships {path}")
            used.add(package)
            if package in BASE_PACKAGES:
                continue
            if soname in direct:  # what httpy links itself is named, not left to chance
                self.assertIn(package, named, f"{soname} ({path}) comes from {package}")
            else:
                self.assertIn(package, installed, f"{soname} ({path}) comes from {package}")

        # Nothing else: a named package ships a linked library or runs the HEALTHCHECK.
        check = healthcheck(runtime) or [""]
        program = shutil.which(check[0], path=DEBIAN_PATH) if check[0] != "/bin/sh" else None
        if program:
            used.add(package_of(program))
        self.assertEqual(named - used, set(), "packages no linked library comes from")


class Container(unittest.TestCase):
    """The runtime stage's CMD, ENV and HEALTHCHECK run here, with the container's paths mapped
    to this machine's: httpy -> HTTPY_BIN, COPY destinations -> their sources, 0.0.0.0:8080 ->
    a free local port."""

    def local(self, runtime, word):
        for stage, sources, dest in copies(runtime):
            for source in sources:
                target = dest + os.path.basename(source) if dest.endswith("/") else dest
                if word == target:
                    return HTTPY if stage else os.path.join(SOURCE, source)
        return HTTPY if word == "httpy" else word

    def health(self, check, port):
        argv = [a.replace("8080", str(port)) for a in check]
        argv[0] = shutil.which(argv[0], path=DEBIAN_PATH) or argv[0]
        return subprocess.run(argv, capture_output=True, timeout=30).returncode

    def test_healthcheck_passes_while_cmd_serves_and_fails_after(self):
        _, _, runtime = load()
        check = healthcheck(runtime)
        self.assertIsNotNone(check)
        cmd = [self.local(runtime, w) for w in exec_form(last(runtime, "CMD") or "[]")]
        cmd = [re.sub(r"^[0-9.]+:8080$", "127.0.0.1:0", w) for w in cmd]
        env = dict(os.environ)
        for keyword, args in runtime["body"]:
            if keyword == "ENV":
                for word in shlex.split(args):
                    name, _, value = word.partition("=")
                    env[name] = value
        server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
        try:
            port = None
            for line in server.stderr:
                match = re.search(r"listening on http://[^:]+:(\d+)", line)
                if match:
                    port = int(match.group(1))
                    break
            self.assertIsNotNone(port, "the CMD starts a server")
            self.assertEqual(self.health(check, port), 0, "healthy while serving")
        finally:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=30)
        self.assertEqual(server.returncode, 0)
        self.assertNotEqual(self.health(check, port), 0, "unhealthy once stopped")


if __name__ == "__main__":
    unittest.main()
