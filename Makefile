# cloudflare-stream-exporter: build, test and ship.
#
#   make run     build and run against Cloudflare (needs CLOUDFLARE_API_TOKEN
#                and CLOUDFLARE_ACCOUNT_ID in the environment)
#   make test    install what the tests need, then run every test
#   make demo    run the exporter against the fake Cloudflare API (no account needed)
#   make reliability  the reliability and security suite alone (part of make test)
#   make fuzz    run each fuzz target for FUZZ_SECONDS (default 600)
#   make bench   print what the exporter costs: sizes, RSS, latency, start-up, CPU
#
# Shipping (each target installs its own tools):
#   make static     static x86_64 musl binary
#   make pack       the static binary packed with upx
#   make image      the scratch image (docker when an engine answers, else buildah)
#   make image-tar  a docker-load-able tarball of the image
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

# promtool, from Debian's prometheus package, judges the exposition format;
# the shipping checks use file(1) and pgrep, which a minimal Debian may lack.
.PHONY: test-deps
test-deps:
	@command -v file >/dev/null && command -v pgrep >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) file procps >/dev/null; }
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) prometheus >/dev/null; }
	@[ -f /usr/share/zoneinfo/Europe/Moscow ] || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) tzdata >/dev/null; }
	@command -v promtool >/dev/null && promtool --version 2>&1 | head -1

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
TARGET := x86_64-unknown-linux-musl
STATIC_BIN := target/$(TARGET)/release/$(BIN)
PACKED_BIN := target/pack/$(BIN)
# Measured (README, "Binary size"): --best --lzma packs 11% smaller but costs
# ~50 ms of decompression at every start, healthchecks included; --best ~12 ms.
UPX_FLAGS := --best
TZ_IMAGE ?= Europe/Moscow
IMAGE := cloudflare-stream-exporter:$(VERSION)
IMAGE_TAR := target/cloudflare-stream-exporter-$(VERSION).tar
BUILDAH := buildah --storage-driver vfs

# ---------------------------------------------------------------- run

.PHONY: build
build:
	cargo build --release --locked

.PHONY: run
run: build
	@if [ -z "$$CLOUDFLARE_API_TOKEN$$CLOUDFLARE_API_TOKEN_FILE$$API_KEY" ] || [ -z "$$CLOUDFLARE_ACCOUNT_ID$$API_URL" ]; then \
	  echo "set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID, e.g.:"; \
	  echo "  CLOUDFLARE_API_TOKEN=... CLOUDFLARE_ACCOUNT_ID=... make run"; exit 2; fi
	./target/release/$(BIN) $(ARGS)

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

.PHONY: test
test: test-deps lint
	cargo test --locked --all-targets
	cargo test --locked -p tiny_http --lib
	$(MAKE) --no-print-directory reliability
	$(MAKE) --no-print-directory ship-test

# The reliability and security suite (tests/reliability): a real Prometheus,
# faults, bad input, a 20,000-scrape soak, TLS, a token scan and a short
# fuzz run, against the static binary that ships. Prints one table.
.PHONY: reliability
reliability: test-deps fuzz-deps static
	CSE_EXPORTER_BIN=$(CURDIR)/$(STATIC_BIN) CSE_FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) \
	  cargo test --locked --test reliability

# cargo fuzz runs on the stable toolchain with -s none (no sanitizer);
# libFuzzer itself is C++, built by libfuzzer-sys.
FUZZ_TARGETS := decode route
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 15

# libfuzzer-sys builds libFuzzer from C++ (lint compiles the fuzz crate too).
.PHONY: cxx-deps
cxx-deps:
	@command -v c++ >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) g++ >/dev/null; }

.PHONY: fuzz-deps
fuzz-deps: cxx-deps
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2

# Each target for FUZZ_SECONDS (default 600); the corpus grows in target/fuzz-corpus.
.PHONY: fuzz
fuzz: fuzz-deps
	@for t in $(FUZZ_TARGETS); do mkdir -p target/fuzz-corpus/$$t; \
	  cargo fuzz run --fuzz-dir tests/fuzz -s none $$t target/fuzz-corpus/$$t tests/fuzz/seeds/$$t \
	    -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done

# The shipping checks build and run the image and the deploy files for
# real; they need root (buildah and podman with vfs storage).
.PHONY: ship-test
ship-test:
	bash tests/ship/image.sh
	bash tests/ship/deploy.sh

.PHONY: lint
lint: cxx-deps
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked --test reliability --bench exporter -- -D warnings
	cargo fmt --check --manifest-path tests/fuzz/Cargo.toml
	cargo clippy --locked --manifest-path tests/fuzz/Cargo.toml -- -D warnings

# ---------------------------------------------------------------- bench

# Sizes, RSS, latency, throughput, start-up and instructions per scrape, as a
# table (tests/bench/exporter.rs). Timings are min/median/max of BENCH_RUNS
# runs; nothing fails on speed. Needs the image, so root (buildah) as well.
BENCH_RUNS ?= 5

.PHONY: bench-deps
bench-deps:
	@command -v valgrind >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) valgrind >/dev/null; }

.PHONY: bench
bench: bench-deps image-tar
	CSE_PACKED_BIN=$(CURDIR)/$(PACKED_BIN) CSE_STATIC_BIN=$${CSE_STATIC_BIN:-$(CURDIR)/$(STATIC_BIN)} \
	CSE_IMAGE_BYTES=$$(tar -tvf $(IMAGE_TAR) | awk '$$NF ~ /^[0-9a-f]+\.tar$$/ {s += $$3} END {print s}') \
	CSE_BENCH_RUNS=$(BENCH_RUNS) cargo bench --locked --bench exporter

# ---------------------------------------------------------------- ship

.PHONY: static-deps
static-deps:
	@command -v file >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) file >/dev/null; }
	@rustup target list --installed 2>/dev/null | grep -qx $(TARGET) || rustup target add $(TARGET)
	@command -v musl-gcc >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) musl-tools >/dev/null; }

.PHONY: static
static: static-deps
	cargo build --release --locked --target $(TARGET)
	@file $(STATIC_BIN)
	@file $(STATIC_BIN) | grep -q 'statically linked' || { echo "not a static binary"; exit 1; }
	@echo "static binary: $$(stat -c %s $(STATIC_BIN)) bytes"

# upx-ucl comes from bookworm-backports (bookworm's own is 3.96); enable it when missing.
.PHONY: pack-deps
pack-deps:
	@command -v upx >/dev/null || { \
	  grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ || \
	    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $(SUDO) tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null; \
	  rm -f /tmp/.cse-apt-updated; $(MAKE) --no-print-directory apt-update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q -t bookworm-backports upx-ucl >/dev/null; }

.PHONY: pack
pack: static pack-deps
	@mkdir -p $(dir $(PACKED_BIN))
	@rm -f $(PACKED_BIN)
	upx -q $(UPX_FLAGS) -o $(PACKED_BIN) $(STATIC_BIN) >/dev/null
	@$(PACKED_BIN) --version >/dev/null || { echo "the packed binary does not run"; exit 1; }
	@echo "packed binary ($(UPX_FLAGS)): $$(stat -c %s $(PACKED_BIN)) bytes, from $$(stat -c %s $(STATIC_BIN)); it runs: $$($(PACKED_BIN) --version)"

.PHONY: image-deps
image-deps:
	@docker info >/dev/null 2>&1 || command -v buildah >/dev/null || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) buildah >/dev/null; }

# The build context: the packed binary and a copy of zoneinfo for the TZ build arg.
.PHONY: image-context
image-context: pack
	@[ -f /usr/share/zoneinfo/$(TZ_IMAGE) ] || { $(MAKE) --no-print-directory apt-update && $(APT_INSTALL) tzdata >/dev/null; }
	@rm -rf target/image-context && mkdir -p target/image-context
	@cp $(PACKED_BIN) target/image-context/$(BIN)
	@cp -rL /usr/share/zoneinfo target/image-context/zoneinfo

.PHONY: image
image: image-context image-deps
	@if docker info >/dev/null 2>&1; then \
	  docker build -f Dockerfile.scratch --build-arg TZ=$(TZ_IMAGE) --build-arg VERSION=$(VERSION) -t $(IMAGE) target/image-context; \
	  echo "image $(IMAGE): $$(docker image inspect -f '{{.Size}}' $(IMAGE)) bytes"; \
	else \
	  $(BUILDAH) bud --isolation chroot --format docker --quiet -f Dockerfile.scratch \
	    --build-arg TZ=$(TZ_IMAGE) --build-arg VERSION=$(VERSION) -t $(IMAGE) target/image-context >/dev/null; \
	  echo "image $(IMAGE): $$($(BUILDAH) images --noheading --format '{{.Size}}' $(IMAGE)) (buildah; make image-tar prints the exact bytes)"; \
	fi

.PHONY: image-tar
image-tar: image
	@rm -f $(IMAGE_TAR)
	@if docker info >/dev/null 2>&1; then docker save -o $(IMAGE_TAR) $(IMAGE); \
	else $(BUILDAH) push --quiet $(IMAGE) docker-archive:$(IMAGE_TAR):$(IMAGE); fi
	@echo "image tarball $(IMAGE_TAR): $$(stat -c %s $(IMAGE_TAR)) bytes (load with: docker load -i $(notdir $(IMAGE_TAR)))"
	@echo "image size: $$(tar -tvf $(IMAGE_TAR) | awk '$$NF ~ /^[0-9a-f]+\.tar$$/ {s += $$3} END {print s}') bytes uncompressed (limit 1048576)"
