# subtitled build, run and test entry points. See README.md.
SHELL := /bin/bash
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)
# Build with the patched Go release that go.mod names (`toolchain`): the go
# command fetches it from the module proxy once. Go 1.26.8 has reachable
# standard-library vulnerabilities (net/http, crypto/tls, crypto/x509) that
# `make vulncheck` reports; 1.26.10 fixes them.
export GOTOOLCHAIN := go1.26.10
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/subtitled/subtitled/daemon.Version=$(VERSION)
ORT_LIB := lib/libonnxruntime.so.1
export SUBTITLED_ORT_LIB ?= $(CURDIR)/$(ORT_LIB)
LISTEN ?= 127.0.0.1:8080
FUZZJOBS ?= 1
FUZZTIME ?= 30s
TEST_TIMEOUT ?= 25m

.PHONY: all build ort ort-gpu sample run test test-short vet fmt-check fuzz bench clean install vulncheck

all: build

## build: bin/subtitled and the pinned ONNX Runtime library in lib/
build: ort
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/subtitled ./cmd/subtitled

## ort: fetch and verify the pinned ONNX Runtime library (npm onnxruntime-node)
ort: $(ORT_LIB)
$(ORT_LIB): tools/ort/provision.sh
	tools/ort/provision.sh lib

## ort-gpu: the GPU build of ONNX Runtime (CPU library + CUDA provider, pinned
## npm packages, sha256-checked) into lib/gpu/; see docs/OPERATIONS.md "GPU"
ort-gpu:
	tools/ort/provision-gpu.sh lib/gpu

## sample: the sample broadcast (test pattern + synthetic news bulletin)
sample: testdata/gen/sample.ts
testdata/gen/sample.ts: tools/sample/make_sample.sh
	mkdir -p testdata/gen
	tools/sample/make_sample.sh $@

## run: caption the sample broadcast live with the embedded demo model
run: build sample
	bin/subtitled run --config examples/demo.yaml --listen $(LISTEN)

## test: everything CI checks (format, vet, govulncheck, unit + end-to-end tests with -race)
test: build sample fmt-check vet vulncheck
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

test-short: build
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run every fuzz target for FUZZTIME each, FUZZJOBS at a time (total executions printed at the end)
fuzz:
	FUZZJOBS=$(FUZZJOBS) GO=$(GO) tools/fuzz/run.sh $(FUZZTIME)

## bench: the benchmarks whose figures are in docs/BENCHMARKS.md
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

## vulncheck: govulncheck ./... against an offline vulnerability database (CI
## reaches the Go module proxy but not vuln.go.dev). tools/vulndb indexes the
## OSV files of the pinned golang.org/x/vulndb module into $(VULNDB_DIR).
## The database is only as fresh as VULNDB_VERSION: it knows the advisories
## published up to the date in its pseudo-version (2026-11-05 23:49:57 UTC).
## Newer pin: go list -m golang.org/x/vulndb@latest. Fails on findings
## (govulncheck exit status 3).
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION ?= v1.9.0
VULNDB_DIR ?= $(abspath $(dir $(shell GOTOOLCHAIN=local $(GO) env GOCACHE))subtitled-vulndb)
vulncheck:
	set -o pipefail; $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | \
	  $(GO) run ./tools/vulndb -mod - -out '$(VULNDB_DIR)'
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db 'file://$(VULNDB_DIR)' ./...

clean:
	rm -rf bin testdata/gen

## install: binary, ONNX Runtime, demo model, unit and example config in FHS places
PREFIX ?= /usr
DESTDIR ?=
install: build
	install -D -m 0755 bin/subtitled $(DESTDIR)$(PREFIX)/bin/subtitled
	install -D -m 0644 lib/libonnxruntime.so.1 $(DESTDIR)$(PREFIX)/lib/subtitled/libonnxruntime.so.1
	install -d $(DESTDIR)$(PREFIX)/share/subtitled/models/demo-en
	install -m 0644 $(addprefix models/demo-en/,bundle.yaml model.onnx tokens.txt words.txt lm.arpa README.md) $(DESTDIR)$(PREFIX)/share/subtitled/models/demo-en/
	install -D -m 0644 systemd/subtitled.service $(DESTDIR)/lib/systemd/system/subtitled.service
	install -D -m 0644 systemd/gpu.conf $(DESTDIR)$(PREFIX)/share/subtitled/systemd/gpu.conf
	install -D -m 0644 docs/OPERATIONS.md $(DESTDIR)$(PREFIX)/share/doc/subtitled/OPERATIONS.md
	@if [ ! -e $(DESTDIR)/etc/subtitled/subtitled.yaml ]; then \
	  install -D -m 0644 examples/subtitled.yaml $(DESTDIR)/etc/subtitled/subtitled.yaml; \
	else echo "install: keeping the existing /etc/subtitled/subtitled.yaml"; fi
