# redis-vip: the README lists what each target does.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/redis-vip
PKGS      := ./...

.PHONY: all build deps test test-unit test-e2e vet fmt-check fuzz bench-check bench-failover demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -tags urfave_cli_no_docs -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/redis-vip

deps:
	@scripts/install-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Everything: unit, integration (real redis-server on loopback) and, as root,
# end-to-end tests in network namespaces with real keepalived.
test: deps fmt-check vet
	$(GO) test -race -count=1 -timeout 25m $(PKGS)

test-unit:
	$(GO) test -short -count=1 $(PKGS)

# Short fuzz runs of every fuzz target (the seed corpora also run in `make test`).
fuzz:
	@for t in node:FuzzParseInfo keepalived:FuzzParseLine keepalived:FuzzParseArgs rdbfile:FuzzInspect vrrp/packet:FuzzParse vrrp/packet:FuzzRoundTrip vrrp/fsm:FuzzMachine; do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-20s} ./$$pkg/ || exit 1; done

# Whole-process cost of `redis-vip check` against `redis-cli PING`, same run.
bench-check: deps
	RV_BENCH=1 $(GO) test -count=1 -run '^TestCheckCost$$' -v ./test/bench/

clean:
	rm -rf bin dist
