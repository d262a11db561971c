# sviserve — build, test and run. `make test` and `make run` install the system
# packages the build needs (see `deps`) before building.

SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblapacke-dev pkg-config
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

build: deps
	$(SWIFT) build

## test: every test of the package, optimised.
test: deps
	$(SWIFT) test $(TEST_FLAGS)

## run: the demo job (a built-in conjugate model fitted by SVI).
run: deps
	$(SWIFT) run -c release sviserve-demo

## bench: the engine micro-benchmark (release).
bench: deps
	$(SWIFT) run -c release sviserve-bench

clean:
	rm -rf .build
