# sviserve — multi-stage image: build with the Swift toolchain, run on slim Debian.
# Each RUN step of the build stage is one the Makefile runs too (make build-deps, make release),
# so `make test` / `.ci/run` exercises them on every submission; no Docker engine runs in CI,
# where hadolint and checkov check this file instead (deploy/README.md).
# Build it with `make image` (IMAGE=sviserve:0.2.0 by default).

# ---- build ----------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY Makefile ./
# The system packages the build links against (the Makefile's `build-deps`; the test tools —
# Chromium, the Python virtual environment — stay out of the image).
RUN make build-deps
COPY . .
# A static Swift standard library, release build of the service (the Makefile's `release`).
RUN make release

# ---- run ------------------------------------------------------------------------------
FROM debian:bookworm-slim
# Only the runtime libraries: OpenBLAS, LAPACKE, libssl/libcrypto, zlib, SQLite, libpq (the
# PostgreSQL store), libmvec (libc6), and curl for the HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libopenblas0-pthread liblapacke libssl3 zlib1g libsqlite3-0 libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/sviserve --no-create-home sviserve \
    && mkdir -p /var/lib/sviserve \
    && chown 10001:10001 /var/lib/sviserve
COPY --from=build /src/.build/release/sviserve /usr/local/bin/sviserve
# A numeric user, so Kubernetes can check runAsNonRoot without a user database.
USER 10001:10001
ENV SVISERVE_HOST=0.0.0.0 SVISERVE_PORT=8080 SVISERVE_DATA_DIR=/var/lib/sviserve OPENBLAS_NUM_THREADS=1
VOLUME /var/lib/sviserve
EXPOSE 8080
# Plain HTTP, or HTTPS when SVISERVE_TLS_CERT/_KEY are set (-k: the name need not match 127.0.0.1).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
    CMD ["/bin/sh", "-c", "curl -fsS http://127.0.0.1:8080/healthz || curl -fsSk https://127.0.0.1:8080/healthz || exit 1"]
ENTRYPOINT ["/usr/local/bin/sviserve", "serve"]
