# ddrouter — developer and CI entry points. See README.md and docs/broker-dev.md.
#
#   make test          install what is missing, start the dev broker if none runs,
#                      build, run all tests, stop the broker again if this started it
#   make run           install what is missing, start the dev broker if none runs,
#                      build, run `ddrouter run --config Config/ddrouter.yaml`
#   make demo          (after make run, or alone) a tour on the dev broker only: sender
#                      passwords, the shipped examples published, queues, explain (scripts/demo.sh)
#   make build         swift build
#   make broker-start  start the dev broker (scripts/broker.sh start)
#   make broker-stop   stop it
#   make broker-status is it running?
#   make bench         the benchmark (scripts/bench.sh; BENCH_FLAGS=--quick for a short run)
#   make fuzz          the contract's libFuzzer targets, each FUZZ_SECONDS (600) (docs/fuzzing.md)
#   make test-faults   network faults in namespaces (root): the daemon in its own namespace,
#                      its own broker instance, link down, half-open, latency and loss
#                      (docs/operations.md, Network faults; .ci/run runs it after make test)
#   make soak          a DURATION (1h) soak at RATE (300) citizen messages/s: release build, its own
#                      broker, PASS/FAIL per criterion, samples and a plot (scripts/soak.sh)
#   make clean         swift package clean and delete every broker instance under var/broker/
#   make deb           the Debian package ddrouter_<version>_amd64.deb (scripts/deb.sh; lintian-clean)
#   make package-test  install that package into a clean Debian 12 root (debootstrap) and check it
#   make systemd-test  boot that root under qemu with systemd and check the service (~25 min without KVM)
#
# Variables: SWIFT (swift), SWIFT_BUILD_FLAGS, SWIFT_TEST_FLAGS (e.g. --filter AMQPTests),
# CONFIG (Config/ddrouter.yaml), FUZZ_SECONDS, FUZZ_SMOKE_SECONDS (60: each fuzz target's
# run in `make test`; 0 skips it), FAULTS_AMQP_PORT (5722; +1 AMQPS) and FAULTS_DIST_PORT
# (25722): the broker of make test-faults, FAULTS_LAB (ddrf), FAULTS_NET (10.213.7: the lab's /30),
# FAULTS_FILTER (NetworkFaultTests: which of them run); DURATION, RATE, WARMUP (5m, a fifth of a
# shorter run), SOAK_FLAGS: make soak's.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
SWIFT_TEST_FLAGS ?=
CONFIG ?= Config/ddrouter.yaml
BROKER := scripts/broker.sh

# A section heading that stands out in CI logs.
heading = printf '\n==> %s\n' "$(1)"

FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 60

.PHONY: help deps deps-faults test-faults build test run demo broker-start broker-stop broker-status clean bench fuzz soak deb package-test systemd-test

help:
	@sed -n '3,31p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(call heading,Checking system packages: rabbitmq-server librabbitmq-dev openssl)
	@$(BROKER) install

# What make test-faults needs besides deps: ip and tc (iproute2), nft (nftables).
deps-faults:
	@$(call heading,Checking system packages for the fault tests: iproute2 nftables)
	@missing=(); command -v ip >/dev/null && command -v tc >/dev/null || missing+=(iproute2); \
	command -v nft >/dev/null || missing+=(nftables); \
	if (($${#missing[@]})); then scripts/apt-install.sh "$${missing[@]}"; fi

build: deps
	@$(call heading,Building: $(strip $(SWIFT) build $(SWIFT_BUILD_FLAGS)))
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

# One shell for the whole recipe: the EXIT trap stops the broker this target
# started (and any further instance the tests left running), on success,
# failure or interrupt, and the target exits with the tests' status.
test: deps
	@export DDR_TEST_RUN="make-test-$$$$-$$(date +%s)"; started=0; \
	cleanup() { \
	  rc=$$?; trap - EXIT INT TERM; \
	  for i in $$($(BROKER) list "$$DDR_TEST_RUN" | grep -vx dev || true); do \
	    $(call heading,Stopping broker instance '$$i' left running by the tests); \
	    DDR_BROKER_INSTANCE="$$i" $(BROKER) stop || true; \
	  done; \
	  if [ "$$started" = 1 ]; then \
	    $(call heading,Stopping the dev broker started for the tests); \
	    if ! DDR_BROKER_INSTANCE=dev $(BROKER) stop; then \
	      echo "make test: could not stop the dev broker" >&2; [ "$$rc" != 0 ] || rc=1; \
	    fi; \
	  fi; \
	  exit $$rc; \
	}; \
	trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	export DDR_BROKER_INSTANCE=dev; \
	if $(BROKER) status >/dev/null 2>&1; then \
	  $(call heading,Using the dev broker that is already running); \
	  $(BROKER) status; \
	else \
	  $(call heading,Starting the dev broker (scripts/broker.sh start)); \
	  started=1; \
	  $(BROKER) start; \
	fi; \
	$(call heading,Building with tests: $(strip $(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS))); \
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS); \
	$(call heading,Checking schemas: scripts/check-schemas.sh); \
	scripts/check-schemas.sh; \
	$(call heading,Checking alert rules: scripts/check-alerts.sh); \
	scripts/check-alerts.sh; \
	$(call heading,Checking the Grafana dashboard: scripts/check-dashboard.sh); \
	scripts/check-dashboard.sh; \
	$(call heading,make demo on a fresh clone: scripts/test-demo.sh); \
	scripts/test-demo.sh; \
	eval "$$($(BROKER) env)"; \
	$(call heading,Running tests: $(strip $(SWIFT) test $(SWIFT_TEST_FLAGS)) (broker amqp://$$DDR_AMQP_HOST:$$DDR_AMQP_PORT/$$DDR_AMQP_VHOST)); \
	status=0; $(SWIFT) test $(SWIFT_TEST_FLAGS) || status=$$?; \
	if [ "$(FUZZ_SMOKE_SECONDS)" != 0 ]; then \
	  $(call heading,Fuzz smoke run: scripts/fuzz.sh run $(FUZZ_SMOKE_SECONDS) (every target side by side)); \
	  FUZZ_PARALLEL=1 scripts/fuzz.sh run $(FUZZ_SMOKE_SECONDS) || { [ "$$status" != 0 ] || status=1; }; \
	fi; \
	if [ "$$status" = 0 ]; then $(call heading,Tests passed); else $(call heading,Tests FAILED (exit $$status)); fi; \
	exit $$status

run: deps
	@export DDR_BROKER_INSTANCE=dev; \
	if $(BROKER) status >/dev/null 2>&1; then \
	  $(call heading,Using the dev broker that is already running); \
	else \
	  $(call heading,Starting the dev broker (it keeps running: make broker-stop)); \
	  $(BROKER) start; \
	fi; \
	$(call heading,Building: $(strip $(SWIFT) build $(SWIFT_BUILD_FLAGS))); \
	$(SWIFT) build $(SWIFT_BUILD_FLAGS); \
	eval "$$($(BROKER) env)"; \
	$(call heading,Running: .build/debug/ddrouter run --config $(CONFIG)); \
	exec .build/debug/ddrouter run --config "$(CONFIG)"

# The five-minute tour (README.md). DEMO_BIN=path skips the build and uses that binary
# (scripts/test-demo.sh does, on a fresh clone).
demo: deps
	@if [ -z "$${DEMO_BIN:-}" ]; then \
	  $(call heading,Building: $(strip $(SWIFT) build $(SWIFT_BUILD_FLAGS))); \
	  $(SWIFT) build $(SWIFT_BUILD_FLAGS); \
	fi; \
	CONFIG="$(CONFIG)" exec scripts/demo.sh

broker-start: deps
	@DDR_BROKER_INSTANCE=dev $(BROKER) start

broker-stop:
	@DDR_BROKER_INSTANCE=dev $(BROKER) stop

broker-status:
	@DDR_BROKER_INSTANCE=dev $(BROKER) status

# Network faults in namespaces (issue 17, item 2; docs/operations.md, Network faults): as
# root, scripts/netns-lab.sh puts up the lab (namespaces, veth pairs, a /30), a broker
# instance of its own listens on the lab's host end as well as on loopback, and only
# NetworkFaultTests run, in a `swift test` of their own. The EXIT trap stops that broker and
# removes the lab on success, failure or interrupt; each test removes its own faults.
FAULTS_AMQP_PORT ?= 5722
FAULTS_DIST_PORT ?= 25722
FAULTS_LAB ?= ddrf
FAULTS_NET ?= 10.213.7
FAULTS_FILTER ?= NetworkFaultTests
test-faults: deps deps-faults
	@export FAULTS_LAB="$(FAULTS_LAB)" FAULTS_NET="$(FAULTS_NET)"; \
	export DDR_TEST_RUN="make-test-faults-$$$$-$$(date +%s)"; \
	export DDR_BROKER_INSTANCE=faults DDR_NODE_NAME="ddrouter-faults@localhost"; \
	export DDR_AMQP_PORT="$(FAULTS_AMQP_PORT)" DDR_AMQPS_PORT="$$(($(FAULTS_AMQP_PORT) + 1))" \
	  DDR_DIST_PORT="$(FAULTS_DIST_PORT)"; \
	cleanup() { \
	  rc=$$?; trap - EXIT INT TERM; \
	  $(call heading,Stopping the fault tests' broker and removing the lab); \
	  $(BROKER) stop || { [ "$$rc" != 0 ] || rc=1; }; \
	  scripts/netns-lab.sh down || { [ "$$rc" != 0 ] || rc=1; }; \
	  exit $$rc; \
	}; \
	trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(call heading,The namespace lab: scripts/netns-lab.sh up); \
	scripts/netns-lab.sh up; \
	eval "$$(scripts/netns-lab.sh env)"; \
	export DDR_AMQP_EXTRA_ADDRESSES="$$DDR_NETNS_BROKER_ADDRESS"; \
	$(call heading,Starting broker instance 'faults' (loopback and $$DDR_NETNS_BROKER_ADDRESS:$$DDR_AMQP_PORT)); \
	$(BROKER) start; \
	eval "$$($(BROKER) env)"; \
	$(call heading,Building with tests: $(strip $(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS))); \
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS); \
	$(call heading,Running the network fault tests: $(SWIFT) test --skip-build --filter '$(FAULTS_FILTER)'); \
	status=0; $(SWIFT) test --skip-build $(SWIFT_BUILD_FLAGS) --filter '$(FAULTS_FILTER)' || status=$$?; \
	if [ "$$status" = 0 ]; then $(call heading,Fault tests passed); else $(call heading,Fault tests FAILED (exit $$status)); fi; \
	exit $$status

# The benchmark of docs/performance.md: its own broker instance, release build, table.
BENCH_FLAGS ?=
bench: deps
	scripts/bench.sh $(BENCH_FLAGS)

# The soak of docs/operations.md: its own broker instance, release build, a steady mixed load
# on the daemon for DURATION with samples every minute; PASS/FAIL per criterion (not in make test).
DURATION ?= 1h
RATE ?= 300
WARMUP ?=
SOAK_FLAGS ?=
soak: deps
	scripts/soak.sh --duration $(DURATION) --rate $(RATE) $(if $(WARMUP),--warmup $(WARMUP)) $(SOAK_FLAGS)

# libFuzzer + AddressSanitizer on the JSON parser, the decoder and the encoders; its own
# build directory .build-fuzz/ (docs/fuzzing.md).
fuzz:
	scripts/fuzz.sh run $(FUZZ_SECONDS)

clean:
	@$(call heading,Cleaning the Swift build: $(SWIFT) package clean)
	$(SWIFT) package clean
	@$(call heading,Resetting broker instances under var/broker/)
	@shopt -s nullglob; for d in var/broker/*/; do \
	  i="$${d%/}"; i="$${i##*/}"; DDR_BROKER_INSTANCE="$$i" $(BROKER) reset; \
	done; rm -rf var/broker

# The Debian package (docs/operations.md, Install): release build with the Swift runtime
# linked statically, dpkg-deb, lintian. Packaging sources in deploy/debian/.
deb: deps
	scripts/deb.sh

# Not in `make test` (a debootstrap root, apt inside it): about 1 min when the root is cached.
package-test: deb
	scripts/package-test.sh "$$(cat var/deb/deb-path)"

# Not in `make test`: boots a Debian 12 VM under qemu (KVM if it works, else emulation) with
# systemd, RabbitMQ and the package, and checks the service with systemd (docs/operations.md,
# systemd-test: how long it takes, the last result).
systemd-test: deb
	scripts/systemd-test.sh "$$(cat var/deb/deb-path)"
