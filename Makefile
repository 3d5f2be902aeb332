# frm: File Residency Manager. `make demo` to try it, `make test` to test it.
GO      ?= go
BIN     := bin/frm
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DEMO    ?= /tmp/frm-demo

.PHONY: build demo demo-shell test test-short vet fmt bench fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/frm
	ln -sf frm bin/frm_admin
	ln -sf frm bin/frm_xfragent
	ln -sf frm bin/frm_purged
	ln -sf frm bin/frm_xfrd

# Build, create (or reuse) a sandbox site, start its daemon in the
# background and open the console on it; the daemon stops with the console
# (examples/demo.sh). demo-shell opens the admin shell instead.
demo: build
	@./examples/demo.sh ./$(BIN) $(DEMO)

demo-shell: build
	@test -f $(DEMO)/frm.toml || ./$(BIN) demo $(DEMO)
	./$(BIN) admin -c $(DEMO)/frm.toml

# Everything CI runs: formatting, vet, the race-enabled test suite
# (including the conformance suite against xrootd's frm_admin when it is
# installed) and a short fuzz of every parser: an execution count, not a
# duration, because Go's fuzzer can fail with "context deadline exceeded"
# when a time budget ends in the middle of an input.
test: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) test -race -count=1 ./...
	$(MAKE) fuzz FUZZTIME=10000x

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0 $$pkg 2>&1) || { echo "$$out" | tail -30; exit 1; }; \
	  done; \
	done

bench: build
	./bench/run.sh

clean:
	rm -rf bin
