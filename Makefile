# sviserve — build, test and run. `make run` (the service) and `make test` install what they
# need first (see `deps`): Debian packages through apt-get, Python tools in a virtual environment.

SWIFT ?= swift
# The Python that creates the virtual environment (Debian's needs python3-venv, installed below).
PYTHON ?= python3
VENV ?= .venv
# What the build links against (all the image's build stage installs).
BUILD_PACKAGES := libopenblas-dev liblapacke-dev libssl-dev zlib1g-dev libsqlite3-dev libpq-dev pkg-config
# What only the tests need: headless Chromium (the dashboard test), openssl and curl (the TLS
# tests, the README walkthrough), venv for the Python tools of tools/requirements.txt,
# PostgreSQL's server (the PostgreSQL store's tests run a throwaway cluster of their own) and
# haproxy (deploy-check validates the replicas' proxy configuration with it).
TEST_PACKAGES := chromium openssl curl python3-venv postgresql haproxy
# Statistical tests draw 10^5 samples: they run optimised, with @testable imports.
TEST_FLAGS := -c release -Xswiftc -enable-testing
# OpenBLAS's kernels for every process a target starts — the service, its workers, the test
# runner and the services the tests start — so that they all compute with the same kernels
# (results reproduce bit for bit only then): Haswell's where the CPU has AVX2 and FMA (README,
# "OpenBLAS chooses its CPU kernels once"), unless the environment already chose.
OPENBLAS_CORETYPE ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo Haswell)
ifneq ($(OPENBLAS_CORETYPE),)
export OPENBLAS_CORETYPE
endif

.PHONY: deps build-deps test-deps venv bench-deps build release test python-test deploy-check api-conformance image run example bench load bench-workers bench-replicas chaos fuzz-specs fuzz tsan clean

# Installs the Debian packages named in $(1) that are missing (as root, or through sudo).
define apt_install
@missing=""; for p in $(1); do \
  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then \
  echo "installing:$$missing"; \
  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
fi
endef

## deps: everything the build and the tests need, when missing.
deps: build-deps test-deps venv

## build-deps: the Debian packages the build links against (the image's build stage runs this).
build-deps:
	$(call apt_install,$(BUILD_PACKAGES))

## test-deps: the Debian packages only the tests use.
test-deps:
	$(call apt_install,$(TEST_PACKAGES))

## venv: the Python tools (openapi-spec-validator, ...) in $(VENV), pinned in
## tools/requirements.txt with every transitive dependency, so pip resolves nothing. Debian's
## system Python refuses `pip install` (PEP 668); a virtual environment is the supported way.
## pip runs only when the environment is missing or the pins changed.
venv: $(VENV)/.ready
$(VENV)/.ready: tools/requirements.txt | test-deps
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --no-deps -r tools/requirements.txt
	touch $@

build: build-deps
	$(SWIFT) build

## release: the service binary with a static Swift standard library (what the image ships).
release: build-deps
	$(SWIFT) build -c release --product sviserve --static-swift-stdlib

## run: the service — the HTTP job API on 127.0.0.1:8080, jobs kept in ./sviserve-data (an
## embedded SQLite database; see README's curl walkthrough). Flags: SERVE_FLAGS="--port 9000".
run: build-deps
	$(SWIFT) run -c release sviserve serve $(SERVE_FLAGS)

## test: openapi.yaml checked as OpenAPI 3.1, the image's release build (so the Dockerfile's
## steps are exercised), every test of the package (optimised), then the Python client's tests
## against the built service, schemathesis on openapi.yaml against it, and the deployment
## files' checks.
test: deps
	$(VENV)/bin/openapi-spec-validator openapi.yaml
	$(SWIFT) build -c release --product sviserve --static-swift-stdlib
	$(SWIFT) test $(TEST_FLAGS)
	$(MAKE) --no-print-directory python-test api-conformance deploy-check

## python-test: the Python client (clients/python) against a live service built by `test`.
python-test: venv
	SVISERVE_BINARY=.build/release/sviserve $(VENV)/bin/python -m pytest -q -p no:cacheprovider clients/python/tests

## api-conformance: schemathesis with every check against a live service, without and with
## API keys (tools/api_conformance.py; figures in docs/api-conformance.md).
api-conformance: venv
	$(VENV)/bin/python tools/api_conformance.py .build/release/sviserve openapi.yaml

## deploy-check: the deployment files without a container daemon: hadolint on the Dockerfile,
## kubernetes-validate (strict) on every manifest, the Pod Security "restricted" rules, the
## compose files' safety settings, haproxy -c on the replicas' proxy configuration, and
## checkov on the Dockerfile and the manifests. Findings
## kept are listed in deploy/README.md with their reasons.
CHECKOV_SKIP := CKV_K8S_15,CKV_K8S_43
deploy-check: venv test-deps
	$(VENV)/bin/hadolint --config deploy/hadolint.yaml Dockerfile
	$(VENV)/bin/kubernetes-validate --strict --quiet deploy/k8s/*.yaml
	$(VENV)/bin/python tools/pod_security.py deploy/k8s/*.yaml
	$(VENV)/bin/python tools/compose_check.py deploy/docker-compose.yml deploy/docker-compose.postgres.yml
	haproxy -c -q -f deploy/haproxy.cfg
	$(VENV)/bin/checkov --quiet --compact --skip-download -f Dockerfile --framework dockerfile
	$(VENV)/bin/checkov --quiet --compact --skip-download -d deploy/k8s --framework kubernetes --skip-check $(CHECKOV_SKIP)

## image: the container image $(IMAGE) from the Dockerfile (needs a Docker engine; not part
## of `make test`). Kubernetes' manifest names sviserve:0.2.0 with imagePullPolicy IfNotPresent.
IMAGE ?= sviserve:0.2.0
image:
	docker build -t $(IMAGE) .

## example: a real job end to end without the service: the JSON spec of the conjugate
## Normal–Normal model, fitted by SVI, its result (params, posterior summaries, ELBO trace)
## printed as JSON.
example: build-deps
	$(SWIFT) run -c release sviserve run --json examples/normal_normal_reparam.json

## bench: the benchmark workloads (release), steps/s as JSON.
bench: build-deps
	$(SWIFT) run -c release sviserve-bench

## bench-deps: wrk, for the HTTP load figures (not needed to build or test).
bench-deps:
	@command -v wrk >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }

## load: the HTTP load figures of docs/benchmarks.md (wrk on loopback), as JSON.
load: release bench-deps
	python3 bench/load.py

## bench-workers: what running each job in its own worker process costs (docs/benchmarks.md):
## per-job start-up and tear-down, and steps/s in the worker against in process.
bench-workers: release
	python3 bench/workers.py

## chaos: the replicas' chaos run at full size (issue 20): CHAOS_JOBS (default 200) jobs
## submitted round-robin to three replicas on one PostgreSQL, one kill -9'd and another
## SIGTERM'd mid-run; every job must end once with its uninterrupted result (make test runs
## the same test with 30 jobs). Its figures are printed; docs/benchmarks.md has a run's.
CHAOS_JOBS ?= 200
chaos: deps
	SVISERVE_CHAOS_JOBS=$(CHAOS_JOBS) $(SWIFT) test $(TEST_FLAGS) --filter ReplicaTests/threeReplicas

## bench-replicas: replicas sharing one PostgreSQL (docs/benchmarks.md): jobs/s of short jobs
## with 1, 2 and 3 replicas of 2 workers, claim latency and claims/s (pgbench, the replicas'
## claim transaction), as JSON. Needs Debian's postgresql (make deps).
bench-replicas: release test-deps
	python3 bench/replicas.py

## fuzz-specs: the job-spec fuzzer (mutated and generated specs validated and run through the
## service's worker processes, the service watched for death, memory and /healthz latency) for
## FUZZ_SPECS_SECONDS (default 600; make test runs it for 60); its figures go to
## .build/fuzz-specs.json (docs/spec-fuzzing.md).
FUZZ_SPECS_SECONDS ?= 600
fuzz-specs: deps
	SVISERVE_FUZZ_SPECS_SECONDS=$(FUZZ_SPECS_SECONDS) SVISERVE_FUZZ_SPECS_REPORT=$(CURDIR)/.build/fuzz-specs.json \
	  $(SWIFT) test $(TEST_FLAGS) --filter SpecFuzzTests

## fuzz: the HTTP request parser under libFuzzer for FUZZ_SECONDS (default 300), starting
## from Fuzz/corpus; a finding is written as crash-* in the working directory.
FUZZ_SECONDS ?= 300
fuzz: build-deps
	SVISERVE_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz -c release --product FuzzRequestParser -Xswiftc -sanitize=fuzzer,address
	mkdir -p .build-fuzz/corpus && cp Fuzz/corpus/* .build-fuzz/corpus/
	SWIFT_BACKTRACE=enable=no .build-fuzz/release/FuzzRequestParser -max_total_time=$(FUZZ_SECONDS) -max_len=512 -print_final_stats=1 .build-fuzz/corpus

## tsan: the service's tests (HTTP server, job service with its child-process crash tests)
## under ThreadSanitizer, in .build-tsan. SVISERVE_TSAN leaves out the malloc-interposing
## allocation counter and the targets that link it (see Package.swift), and runs the workers
## without an address-space limit (TSan maps terabytes of shadow memory). Left out here: the
## reader-backlog test (its bound on buffered events holds at normal speed, not at TSan's), the
## memory-limit test (no limit to stop it), and the spec fuzzer (it measures latency).
tsan: build-deps test-deps
	SVISERVE_TSAN=1 TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --scratch-path .build-tsan --sanitize=thread \
	  --filter 'HTTPServerTests|JobServiceTests' --skip 'aReaderThatReadsNothing|aJobPastItsMemoryLimit|SpecFuzzTests'

clean:
	rm -rf .build .build-fuzz .build-tsan $(VENV)
