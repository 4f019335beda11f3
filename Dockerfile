# httpy in a container: serves examples/worker.py on port 8080.
#
#   docker build -t httpy .
#   docker run --rm -p 8080:8080 httpy      # then: curl -i localhost:8080/hello/bob
#
# No Docker engine runs in CI, so the build stage runs exactly what CI runs (.ci/run ->
# scripts/test): scripts/install-deps, then scripts/build. tests/e2e/test_dockerfile.py checks
# this file against those scripts, the built binary's libraries and the Debian package lists.

# ---- build: the CI toolchain (Debian 12 packages only), then `cmake --install` ----------------
FROM debian:bookworm AS build
WORKDIR /src
# The install script alone first: its package layer is reused while only the sources change.
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps
COPY . .
# The command line only, as scripts/build configures it for CI; the install rules put it in bin/.
RUN BUILD_TARGETS=httpy_cli scripts/build \
 && cmake --install build --prefix /opt/httpy --strip

# ---- runtime: the binary, the example and the shared libraries it links -----------------------
FROM debian:bookworm AS runtime
# The Debian runtime packages of what `ldd httpy` resolves to (libc6, libgcc-s1 and libstdc++6
# are in the base image already): CPython 3.11 and its standard library, spdlog, fmt, OpenSSL 3
# (HTTPS).
# python3.11-minimal gives /usr/bin/python3.11 for the HEALTHCHECK (the image has no curl).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpython3.11 libspdlog1.10 libfmt9 libssl3 python3.11-minimal \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin httpy
COPY --from=build /opt/httpy/bin/httpy /usr/local/bin/httpy
COPY examples/worker.py /app/worker.py
WORKDIR /app
USER 10001:10001
# In-flight requests get 8 s to finish on SIGTERM: inside `docker stop`'s default 10 s grace.
ENV HTTPY_DRAIN_TIMEOUT=8
EXPOSE 8080
# Healthy while the server answers /ping below 500 (503 overload or 504 stuck handler: unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3.11", "-c", \
         "import http.client as h, sys; c = h.HTTPConnection('127.0.0.1', 8080, timeout=4); c.request('GET', '/ping'); sys.exit(c.getresponse().status >= 500)"]
CMD ["httpy", "serve", "/app/worker.py", "--bind", "0.0.0.0:8080"]
