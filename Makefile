# lbcheck — health-check plugins for load balancers and monitoring.
#
#   make demo          build, start the in-process lab, run every check against it
#   make test          gofmt, vet, staticcheck, unit and in-process tests with -race
#   make integration   real servers from Debian in network namespaces (root)
#   make fuzz          every fuzz target for FUZZTIME each
#   make bench         wall time, CPU, peak RSS and throughput next to the peers (root)
#   make build         static binaries into bin/

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/lbcheck/lbcheck/internal/plugin.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s

export CGO_ENABLED = 0

.PHONY: all build demo test lint unit integration fuzz bench clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...
	$(GO) build -trimpath -o bin/ ./internal/lab/labd

demo: build
	@scripts/demo.sh bin

test: lint unit

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./test/...
	$(GO) run $(STATICCHECK) ./...

# The race detector needs cgo; everything else is built without it.
unit:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

# In a sandbox of its own (scripts/sandbox.sh): runs beside another
# integration or bench run, and nothing it starts outlives it.
integration:
	$(GO) mod download
	test/integration/netns.sh packages
	scripts/sandbox.sh $(GO) test -tags integration -count=1 -v ./test/integration/

fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench: build
	scripts/bench.sh

clean:
	rm -rf bin dist
