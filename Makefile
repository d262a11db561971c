# sviserve — build, test and run. `make test` and `make run` install the system
# packages the build needs (see `deps`) before building.

SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblapacke-dev libssl-dev zlib1g-dev pkg-config
# Statistical tests draw 10^5 samples: they run optimised, with @testable imports.
TEST_FLAGS := -c release -Xswiftc -enable-testing

.PHONY: deps build test run bench clean

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

## test: every test of the package, optimised, and openapi.yaml checked as OpenAPI 3.1.
test: deps
	python3 -m openapi_spec_validator openapi.yaml
	$(SWIFT) test $(TEST_FLAGS)

## run: a real job end to end: the JSON spec of the conjugate Normal–Normal model, fitted by
## SVI, its result (params, posterior summaries, ELBO trace) printed as JSON.
run: deps
	$(SWIFT) run -c release sviserve run examples/normal_normal_reparam.json

## bench: the benchmark workloads (release), steps/s as JSON.
bench: deps
	$(SWIFT) run -c release sviserve-bench

clean:
	rm -rf .build
