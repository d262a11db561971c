# sviserve — build, test and run. `make run` (the service) and `make test` install the system
# packages the build needs (see `deps`) before building.

SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblapacke-dev libssl-dev zlib1g-dev libsqlite3-dev pkg-config chromium
# Statistical tests draw 10^5 samples: they run optimised, with @testable imports.
TEST_FLAGS := -c release -Xswiftc -enable-testing
# The TLS tests make a certificate with openssl and run the job flow over HTTPS with curl.
APT_PACKAGES += openssl curl

.PHONY: deps bench-deps build release test run example bench load fuzz tsan clean

## deps: install the Debian packages the build links against, when missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import openapi_spec_validator" 2>/dev/null || python3 -m pip install -q openapi-spec-validator

build: deps
	$(SWIFT) build

## release: the service binary with a static Swift standard library (what the image ships).
release: deps
	$(SWIFT) build -c release --product sviserve --static-swift-stdlib

## run: the service — the HTTP job API on 127.0.0.1:8080, jobs kept in ./sviserve-data (an
## embedded SQLite database; see README's curl walkthrough). Flags: SERVE_FLAGS="--port 9000".
run: deps
	$(SWIFT) run -c release sviserve serve $(SERVE_FLAGS)

## test: openapi.yaml checked as OpenAPI 3.1, the image's release build (so the Dockerfile's
## steps are exercised), then every test of the package, optimised.
test: deps
	python3 -m openapi_spec_validator openapi.yaml
	$(SWIFT) build -c release --product sviserve --static-swift-stdlib
	$(SWIFT) test $(TEST_FLAGS)

## example: a real job end to end without the service: the JSON spec of the conjugate
## Normal–Normal model, fitted by SVI, its result (params, posterior summaries, ELBO trace)
## printed as JSON.
example: deps
	$(SWIFT) run -c release sviserve run examples/normal_normal_reparam.json

## bench: the benchmark workloads (release), steps/s as JSON.
bench: deps
	$(SWIFT) run -c release sviserve-bench

## bench-deps: wrk, for the HTTP load figures (not needed to build or test).
bench-deps:
	@command -v wrk >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }

## load: the HTTP load figures of docs/benchmarks.md (wrk on loopback), as JSON.
load: release bench-deps
	python3 bench/load.py

## fuzz: the HTTP request parser under libFuzzer for FUZZ_SECONDS (default 300), starting
## from Fuzz/corpus; a finding is written as crash-* in the working directory.
FUZZ_SECONDS ?= 300
fuzz: deps
	SVISERVE_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz -c release --product FuzzRequestParser -Xswiftc -sanitize=fuzzer,address
	mkdir -p .build-fuzz/corpus && cp Fuzz/corpus/* .build-fuzz/corpus/
	SWIFT_BACKTRACE=enable=no .build-fuzz/release/FuzzRequestParser -max_total_time=$(FUZZ_SECONDS) -max_len=512 -print_final_stats=1 .build-fuzz/corpus

## tsan: the service's tests (HTTP server, job service with its child-process crash tests)
## under ThreadSanitizer, in .build-tsan. SVISERVE_TSAN leaves out the malloc-interposing
## allocation counter and the targets that link it (see Package.swift). The reader-backlog
## test is left out here: its bound on buffered events holds at normal speed, not at TSan's.
tsan: deps
	SVISERVE_TSAN=1 TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --scratch-path .build-tsan --sanitize=thread \
	  --filter 'HTTPServerTests|JobServiceTests' --skip aReaderThatReadsNothing

clean:
	rm -rf .build .build-fuzz .build-tsan
