# redis-vip: the README lists what each target does.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/redis-vip
PKGS      := ./...

.PHONY: all build man deps test test-unit vet fmt-check fuzz bench-check bench-failover demo lab lab-up deb install clean torture chaos

all: build

build:
	CGO_ENABLED=0 $(GO) build -tags urfave_cli_no_docs -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/redis-vip

# The man page, bin/redis-vip.1: urfave/cli's own, from a build with the
# gendocs tag (the shipped binary carries no generator).
man:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) run -tags gendocs -trimpath -ldflags '-X main.version=$(VERSION)' ./cmd/redis-vip gen-docs man >bin/redis-vip.1

deps:
	@scripts/install-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags gendocs ./cmd/redis-vip

E2E_PKGS   = $(shell $(GO) list ./test/e2e/... ./test/vrrpe2e/... ./test/packaging/... 2>/dev/null)
OTHER_PKGS = $(shell $(GO) list ./... | grep -v -e /test/e2e -e /test/vrrpe2e -e /test/packaging -e /test/torture)
# The end-to-end tier (internal/testtier) runs as root only: network
# namespaces, keepalived, packages installed on this machine.
RV_E2E    := $(if $(filter 0,$(shell id -u)),1,)

# Everything: unit and integration tests (real redis-server on loopback) with
# the race detector, then, as root, the end-to-end tier (RV_E2E=1): the
# torture slice and the end-to-end packages, one package at a time (they
# share the machine's CPUs). Not root: the end-to-end tests skip, one line each.
test: deps fmt-check vet
	$(GO) test -race -count=1 -timeout 15m $(OTHER_PKGS)
	RV_E2E=$(RV_E2E) $(GO) test -count=1 -timeout 20m -v ./test/torture/
	RV_E2E=$(RV_E2E) $(GO) test -count=1 -p 1 -timeout 30m $(E2E_PKGS)

# The fast tier: unit and integration tests, no root, no flags (what a plain
# `go test ./...` runs; -short would also skip every test that starts a
# redis-server).
test-unit:
	RV_E2E= $(GO) test -count=1 $(PKGS)

# Short fuzz runs of every fuzz target (the seed corpora also run in `make test`).
fuzz:
	@for t in node:FuzzParseInfo keepalived:FuzzParseLine keepalived:FuzzParseArgs rdbfile:FuzzInspect vrrp/packet:FuzzParse vrrp/packet:FuzzRoundTrip vrrp/fsm:FuzzMachine; do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-20s} ./$$pkg/ || exit 1; done

# Randomized fault-injection suite (test/torture, issue 9): schedules drawn
# from seeds counting up from START (derived from the clock and printed when
# unset) until DURATION passes; SEED=N replays one seed. MODE: hooks, fifo or
# mixed. Ends with the line "N schedules, M violations".
torture: deps
	$(GO) test -count=1 -timeout 0 -run '^TestTorture$$' -v ./test/torture/ -args \
	  -duration $(or $(DURATION),5m) -mode $(or $(MODE),mixed) $(if $(START),-start $(START)) $(if $(SEED),-seed $(SEED))

# The same for `redis-vip run` (built-in VRRP) in the namespace lab, as root
# (test/vrrpe2e TestChaosRun): random kill -9, SIGSTOP, SIGTERM of redis-vip
# and link cuts until DURATION passes; SEED=N starts (or, with DURATION=1s,
# replays) at seed N; FAULTS=kill-redis,cut draws only those; MODE=off,
# fence or witness (the default) sets the fencing.
chaos: deps
	RV_E2E=1 RV_CHAOS=$(or $(DURATION),5m) $(if $(SEED),RV_CHAOS_SEED=$(SEED)) $(if $(FAULTS),RV_CHAOS_FAULTS=$(FAULTS)) $(if $(MODE),RV_CHAOS_MODE=$(MODE)) \
	  $(GO) test -count=1 -timeout 0 -run '^TestChaosRun$$' -v ./test/vrrpe2e/

# Whole-process cost of `redis-vip check` against `redis-cli PING`, same run.
bench-check: deps
	RV_BENCH=1 $(GO) test -count=1 -run '^TestCheckCost$$' -v ./test/bench/

# The main job: a two-host lab in network namespaces with real Redis and
# keepalived; kills the master's Redis under writes and shows the VIP move
# (test/lab/cmd/rv-demo, on the tests' lab library test/lab; needs root).
demo: deps
	$(GO) run ./test/lab/cmd/rv-demo

# One table, one run (root): Sentinel + HAProxy, keepalived with the seed's
# shell scripts, redis-vip with the shipped keepalived configs (hooks, FIFO)
# and redis-vip run, each built in network namespaces; kill -9, SIGSTOP,
# planned move and failback, RUNS times each (RUNS=5: about 25 minutes).
bench-failover: deps
	BENCH_COMMAND="make bench-failover RUNS=$(or $(RUNS),5)" scripts/bench-failover.sh -n $(or $(RUNS),5)

# The operators' lab (test/lab/cmd/rv-lab, root): builds the two-host lab,
# prints how to reach it, then reads commands on stdin (help lists them);
# quit, EOF or Ctrl-C tear it all down. LAB_FLAGS="-notify fifo -preempt"
# and the like choose variants (rv-lab -h lists them). lab-up: the old name.
lab: deps
	$(GO) run ./test/lab/cmd/rv-lab $(LAB_FLAGS)

lab-up: lab

# The Debian package dist/redis-vip_<version>_amd64.deb (scripts/build-deb.sh).
deb:
	scripts/build-deb.sh --version $(VERSION) --out dist

# Install bin/redis-vip on this host without a package (scripts/install.sh; run as root).
install: build
	scripts/install.sh --binary $(BIN)

clean:
	rm -rf bin dist
