# xdhcp — build, test, demo, benchmarks.
#
# `make demo` and `make test` are the two commands the README starts with:
# each installs what it needs on a fresh Debian 12 machine (as root).

GO        ?= go
CLANG     ?= clang-14
GOFLAGS   ?=
BIN       := bin
# Fuzz time per target in `make test` (short) and `make fuzz` (long).
FUZZTIME  ?= 3s
FUZZLONG  ?= 2m

.PHONY: all build deps deps-test demo test test-unit test-fuzz generate check-generated check-tidy deb test-deb \
        fuzz bench bench-quick soak lint fmt-c escape clean

all: build

# The commit and its date go into the binaries (-V, build-report,
# xdhcp_build_info) by the linker, whatever Go's VCS stamping setting.
COMMIT    := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo +modified)
COMMITTED := $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS   := -X xdhcp/internal/buildinfo.commit=$(COMMIT) -X xdhcp/internal/buildinfo.date=$(COMMITTED)

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Debian packages the demo and the tests use: real DHCP clients (udhcpc,
# dhclient), Kea 2.2 and perfdhcp for side-by-side runs, clang for the BPF
# object check, kea-ctrl-agent for the HA quickstart test, kea-doc for
# Kea's example configurations, promtool and prometheus for the metrics
# checks, lintian for the package check, nftables for the HA fault tests.
# apt-get runs only when something is missing.
DEB_PKGS := busybox isc-dhcp-client kea-dhcp4-server kea-dhcp6-server kea-ctrl-agent kea-admin kea-doc clang-14 llvm-14 libbpf-dev \
            iproute2 prometheus lintian nftables dhcpcd-base postgresql-15 postgresql-client-15 mariadb-server mariadb-client
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# Debian starts Kea's services on install; the tests run their own.
	@systemctl disable --now kea-dhcp4-server kea-ctrl-agent prometheus >/dev/null 2>&1 || true
	$(GO) mod download

demo: deps build
	./$(BIN)/xdhcp-bench demo -xdhcpd ./$(BIN)/xdhcpd -clients 300

# The whole suite: the demo (the README's first command, so it stays
# true), unit tests, namespace tests with real clients, fuzz targets
# briefly, the generated BPF object check, and the short benchmark (xdhcp
# beside Kea 2.2; it fails on correctness only, never on speed).
test: deps build demo check-generated check-tidy test-unit test-fuzz bench-quick
	@echo "make test: all passed"

# -parallel 3: the end-to-end tests marked parallel (HA pairs with Kea and
# the fault matrix) spend most of their time waiting on HA timers, each in
# labs of its own, so three at a time on two CPUs costs little.
test-unit:
	$(GO) vet ./...
	XDHCP_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -parallel 3 -timeout 20m ./...

# Every fuzz target, briefly. Targets are discovered so none is forgotten,
# and run two at a time with one fuzzing worker each (the machine has two
# CPUs, and most of a short run is spent building and starting). A failing
# input is saved under testdata/fuzz and fails every later run, so a second
# run tells a real crash (fails again, on the saved input) from the fuzzing
# engine itself giving up on a loaded machine (passes).
FUZZJOBS ?= 2
test-fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
			echo "$$pkg $$t"; \
		done; \
	done | xargs -P $(FUZZJOBS) -L 1 sh -c ' \
		log=$$(mktemp); echo "fuzz $$0 $$1 ($(FUZZTIME))"; \
		$(GO) test -run="^$$" -fuzz="^$$1$$" -fuzztime=$(FUZZTIME) -parallel=1 $$0 >$$log 2>&1 || { \
			echo "fuzz $$0 $$1 failed once; again:"; tail -20 $$log; \
			$(GO) test -run="^$$" -fuzz="^$$1$$" -fuzztime=$(FUZZTIME) -parallel=1 $$0 >$$log 2>&1 || { \
				cat $$log; rm -f $$log; echo "FAIL fuzz $$0 $$1"; exit 255; }; }; \
		rm -f $$log'

fuzz:
	$(MAKE) test-fuzz FUZZTIME=$(FUZZLONG)

# Regenerate the XDP object with the pinned clang and fail on any difference.
generate:
	$(GO) generate ./bpf

check-generated: generate
	git diff --exit-code -- bpf/

# The Debian package (bin/deb/xdhcp_VERSION_ARCH.deb): binaries, the
# hardened unit, tmpfiles entry, shipped configuration, monitoring files,
# man pages from --help. Install with dpkg -i; packaging/README says more.
deb: build
	./packaging/build-deb.sh $(BIN) $(BIN)/deb

# The package test on a fresh debootstrap of Debian 12 (kept in
# $(DEB_ROOT) for the next run); make test runs the same test over this
# machine's own root.
DEB_ROOT ?= /var/cache/xdhcp/bookworm-minbase
test-deb: deps build
	@dpkg -s debootstrap >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
	@[ -x $(DEB_ROOT)/usr/bin/dpkg ] || { rm -rf $(DEB_ROOT).tmp && debootstrap --variant=minbase bookworm $(DEB_ROOT).tmp http://deb.debian.org/debian && mv $(DEB_ROOT).tmp $(DEB_ROOT); }
	XDHCP_DEB_ROOT=$(DEB_ROOT) XDHCP_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -run TestDebianPackage -v ./packaging

# go.mod and go.sum say exactly what the code imports.
check-tidy:
	$(GO) mod tidy -diff

# The benchmark suite: S1–S7 with Kea 2.2 beside xdhcp in the
# same run; report (Markdown table, JSON, SVG plots) under
# $(BENCH_OUT)/<date-time>/, the table also printed. It exits non-zero only
# on correctness (a wrong or malformed reply, a crash, a run that served
# nothing, an HA pair missing an acknowledged lease), never on speed.
# `make bench` takes 20–40 minutes; bench-quick (S1–S3 shortened, in
# `make test`) 1–3. The timeouts end a stuck run with SIGTERM, which still
# writes the report and removes the labs.
BENCH_OUT     ?= bench/results
BENCH_TIMEOUT ?= 60m
QUICK_TIMEOUT ?= 8m
bench: deps build
	timeout -k 30s $(BENCH_TIMEOUT) ./$(BIN)/xdhcp-bench suite -xdhcpd ./$(BIN)/xdhcpd -out $(BENCH_OUT)

bench-quick: deps build
	timeout -k 30s $(QUICK_TIMEOUT) ./$(BIN)/xdhcp-bench suite -quick -xdhcpd ./$(BIN)/xdhcpd -out $(BENCH_OUT)

# Ten minutes of mixed hostile and normal traffic against one daemon, with
# RSS and goroutines sampled throughout (not in CI: it is long by design).
SOAK ?= 10m
soak: deps build
	XDHCP_SOAK=$(SOAK) XDHCP_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 40m ./cmd/xdhcpd

escape:
	@! $(GO) build -gcflags=-m ./fastpath/frame 2>&1 | grep -E 'escapes to heap|moved to heap' | grep -v _test

clean:
	rm -rf $(BIN)
