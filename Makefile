# cloudflare-stream-exporter: build, test and ship.
#
#   make run     build and run against Cloudflare (needs CLOUDFLARE_API_TOKEN
#                and CLOUDFLARE_ACCOUNT_ID in the environment)
#   make test    install what the tests need, then run every test
#
# Every target installs what it needs itself, so both work on a fresh
# Debian bookworm machine (as root, or with sudo).

SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := cloudflare-stream-exporter

# Root runs apt directly; anyone else goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends

.PHONY: help
help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- dependencies

# apt-get update once per make run, and only when something must be installed.
.PHONY: apt-update
apt-update:
	@if [ ! -f /tmp/.cse-apt-updated ]; then \
	  $(SUDO) apt-get update -q >/dev/null && touch /tmp/.cse-apt-updated; fi

# promtool, from Debian's prometheus package, judges the exposition format.
.PHONY: test-deps
test-deps:
	@command -v promtool >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) prometheus >/dev/null; }
	@[ -f /usr/share/zoneinfo/Europe/Moscow ] || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) tzdata >/dev/null; }
	@command -v promtool >/dev/null && promtool --version 2>&1 | head -1

# ---------------------------------------------------------------- run

.PHONY: build
build:
	cargo build --release --locked

#   make run     build and run against Cloudflare (needs CLOUDFLARE_API_TOKEN
.PHONY: run
run: build
	@if [ -z "$$CLOUDFLARE_API_TOKEN$$CLOUDFLARE_API_TOKEN_FILE$$API_KEY" ] || [ -z "$$CLOUDFLARE_ACCOUNT_ID$$API_URL" ]; then \
	  echo "set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID, e.g.:"; \
	  echo "  CLOUDFLARE_API_TOKEN=... CLOUDFLARE_ACCOUNT_ID=... make run"; exit 2; fi
	./target/release/$(BIN) $(ARGS)

#   make demo    run the exporter against the fake Cloudflare API (no account needed)
.PHONY: demo
demo: build
	cargo build --release --locked --example fake-cloudflare
	@./target/release/examples/fake-cloudflare --listen 127.0.0.1:18787 & FAKE=$$!; \
	  trap "kill $$FAKE" EXIT; sleep 0.3; \
	  echo "fake Cloudflare on 127.0.0.1:18787; exporter on http://127.0.0.1:8099/metrics (Ctrl-C ends)"; \
	  CLOUDFLARE_API_TOKEN=$$(./target/release/examples/fake-cloudflare --print-token) \
	  CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353 \
	  CLOUDFLARE_API_URL=http://127.0.0.1:18787/client/v4 \
	  ./target/release/$(BIN) --web.listen-address=127.0.0.1:8099

# ---------------------------------------------------------------- test

#   make test    install what the tests need, then run every test
.PHONY: test
test: test-deps lint
	cargo test --locked --all-targets

.PHONY: lint
lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
