# lbcheck — health-check plugins for load balancers and monitoring.
#
#   make demo          build, start the in-process lab, run every check against it, then lbcheckd
#   make test          gofmt, vet, staticcheck, unit and in-process tests with -race
#   make integration   real servers from Debian in network namespaces (root)
#   make fuzz          every fuzz target for FUZZTIME each
#   make bench         wall time, CPU, peak RSS and throughput next to the peers; lbcheckd next to blackbox_exporter, and keeping watch (root)
#   make build         static binaries into bin/, man pages into bin/man/
#   make package       deb and rpm for amd64 and arm64 into dist/ (nfpm)
#   make package-test  lintian, install the deb, run it as nobody, purge (root)
#   make install       binaries, man pages, examples, lbcheckd's unit and config under DESTDIR/PREFIX

GO          ?= go
# What --version prints and the packages carry (scripts/version.sh), worked
# out when a recipe needs it: make demo may install git first.
VERSION     ?= $(shell scripts/version.sh)
LDFLAGS      = -s -w -X github.com/lbcheck/lbcheck/internal/version.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s
# nfpm, pinned, installed with go install into bin/tools, so the main go.mod
# stays small; built once for this machine (go run would build it for the
# GOARCH being packaged). v2.46 and later need modules the Go module proxy
# does not serve.
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0
NFPM_BIN    := bin/tools/nfpm
CHECKS      := check_tcp_half_open check_ssl_hello check_dns_answer check_ftp_noop check_http_status
# The checks and lbcheck, which they exec for the parts they leave out.
BINARIES    := $(CHECKS) lbcheck
ARCHES      ?= amd64 arm64

# Installation directories, GNU style. The plugin directory is where
# monitoring-plugins puts its checks, so callers find ours next to them.
PREFIX      ?= /usr/local
plugindir   ?= $(PREFIX)/lib/nagios/plugins
mandir      ?= $(PREFIX)/share/man
man1dir     ?= $(mandir)/man1
docdir      ?= $(PREFIX)/share/doc/lbcheck
INSTALL     ?= install
SETCAP      ?= setcap
# Caller recipes shipped as examples (directories of packaging/).
EXAMPLES    := $(wildcard packaging/haproxy packaging/keepalived packaging/farmguardian packaging/nagios packaging/icinga2 packaging/lbcheckd)
# lbcheckd, the daemon: its binary, page, systemd unit and configuration.
sbindir     ?= $(PREFIX)/sbin
man8dir     ?= $(mandir)/man8
sysconfdir  ?= /etc
unitdir     ?= $(PREFIX)/lib/systemd/system

export CGO_ENABLED = 0

.PHONY: all build build-deps man demo test test-deps lint unit integration fuzz bench package package-test install uninstall clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...
	$(GO) build -trimpath -o bin/ ./internal/lab/labd
	@$(MAKE) --no-print-directory man

# Each binary writes its own page from the flags it parses (hidden --man).
man:
	@mkdir -p bin/man
	@for c in $(CHECKS); do bin/$$c --man > bin/man/$$c.1 || exit 1; done
	@cp packaging/man/lbcheckd.8 bin/man/lbcheckd.8

demo: build-deps build
	@scripts/demo.sh bin

test: test-deps lint unit

# What make test needs beside Go, from the one list in scripts/deps.sh:
# installed with apt-get when run as root, else named in one line. When all
# of it is present this only looks at the file system.
test-deps:
	@scripts/deps.sh install build test

# make demo's (git, which go build runs in a clone; the CA certificates Go
# fetches modules with).
build-deps:
	@scripts/deps.sh install build

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./test/...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags integration ./test/...

# The race detector needs cgo; everything else is built without it. The
# tests run nft and setcap, which Debian keeps in /usr/sbin, off a user's PATH.
unit: test-deps
	PATH="$$PATH:/usr/sbin:/sbin" CGO_ENABLED=1 $(GO) test -race -count=1 ./...

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
	scripts/bench-daemon.sh

# deb and rpm per architecture into dist/. Everything a package holds is
# staged in dist/stage first: nfpm cannot expand variables in content paths.
$(NFPM_BIN):
	GOBIN=$(CURDIR)/bin/tools $(GO) install $(NFPM)

package: build $(NFPM_BIN)
	@rm -rf dist && mkdir -p dist
	@set -e; for arch in $(ARCHES); do \
		rm -rf dist/stage && mkdir -p dist/stage/bin dist/stage/sbin dist/stage/man dist/stage/man8 dist/stage/examples; \
		GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/stage/bin/ $(addprefix ./cmd/,$(BINARIES)); \
		GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/stage/sbin/ ./cmd/lbcheckd; \
		for c in $(CHECKS); do gzip -9n < bin/man/$$c.1 > dist/stage/man/$$c.1.gz; done; \
		gzip -9n < bin/man/lbcheckd.8 > dist/stage/man8/lbcheckd.8.gz; \
		for d in $(EXAMPLES); do cp -r $$d dist/stage/examples/; done; \
		{ echo "lbcheck ($(VERSION)) unstable; urgency=medium"; echo; \
		  echo "  * Built from git commit $$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); the changes are in its history."; echo; \
		  echo " -- lbcheck developers <lbcheck@lbcheck.invalid>  $$(git log -1 --format=%cD 2>/dev/null || date -R)"; } | gzip -9n > dist/stage/changelog.gz; \
		for p in deb rpm; do \
			GOARCH=$$arch PKG_VERSION=$(VERSION) $(NFPM_BIN) package --config packaging/nfpm.yaml --packager $$p --target dist/; \
		done; \
	done
	@rm -rf dist/stage
	@ls -l dist/

# Installs the deb on this machine, runs it as nobody, removes it (root).
package-test: package
	scripts/package-test.sh

# GNU style: DESTDIR for staged installs, PREFIX and plugindir to move it.
# Installing for real (no DESTDIR) also gives check_tcp_half_open its
# capability, as the packages do; if that fails it says how to do it.
install: build
	$(INSTALL) -d $(DESTDIR)$(plugindir) $(DESTDIR)$(man1dir) $(DESTDIR)$(docdir)/examples
	$(INSTALL) -m 0755 $(addprefix bin/,$(BINARIES)) $(DESTDIR)$(plugindir)/
	$(INSTALL) -m 0644 $(addprefix bin/man/,$(addsuffix .1,$(CHECKS))) $(DESTDIR)$(man1dir)/
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(docdir)/
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(man8dir) $(DESTDIR)$(unitdir) $(DESTDIR)$(sysconfdir)/lbcheck
	$(INSTALL) -m 0755 bin/lbcheckd $(DESTDIR)$(sbindir)/
	$(INSTALL) -m 0644 bin/man/lbcheckd.8 $(DESTDIR)$(man8dir)/
	sed 's|/usr/sbin/lbcheckd|$(sbindir)/lbcheckd|g; s|/etc/lbcheck/|$(sysconfdir)/lbcheck/|g' packaging/lbcheckd/lbcheckd.service > $(DESTDIR)$(unitdir)/lbcheckd.service
	chmod 0644 $(DESTDIR)$(unitdir)/lbcheckd.service
	@# the configuration is the operator's once installed: never overwritten
	[ -e $(DESTDIR)$(sysconfdir)/lbcheck/lbcheckd.yml ] || $(INSTALL) -m 0644 packaging/lbcheckd/lbcheckd.yml $(DESTDIR)$(sysconfdir)/lbcheck/
	for d in $(EXAMPLES); do \
		$(INSTALL) -d $(DESTDIR)$(docdir)/examples/$$(basename $$d) && \
		$(INSTALL) -m 0644 $$d/* $(DESTDIR)$(docdir)/examples/$$(basename $$d)/ || exit 1; \
	done
	@if [ -z "$(DESTDIR)" ]; then \
		$(SETCAP) cap_net_raw+ep $(plugindir)/check_tcp_half_open || \
		echo "WARNING: check_tcp_half_open works only as root until: setcap cap_net_raw+ep $(plugindir)/check_tcp_half_open" >&2; \
	else \
		echo "note: check_tcp_half_open needs, once installed: setcap cap_net_raw+ep $(plugindir)/check_tcp_half_open"; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(plugindir)/,$(BINARIES))
	rm -f $(DESTDIR)$(sbindir)/lbcheckd $(DESTDIR)$(man8dir)/lbcheckd.8 $(DESTDIR)$(unitdir)/lbcheckd.service
	rm -f $(addprefix $(DESTDIR)$(man1dir)/,$(addsuffix .1,$(CHECKS)))
	rm -rf $(DESTDIR)$(docdir)

clean:
	rm -rf bin dist
