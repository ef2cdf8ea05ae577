# rwkvgo build and test entry points. `make test` is the project's test command.
GO ?= go
# NVIDIA's NVML header marks many functions deprecated; silence that noise in cgo builds.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
SHARED ?= ../shared/testdata
MODEL ?= $(SHARED)/rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin

.PHONY: all build test fmt-check vet unit run bench clean

all: build

build:
	$(GO) build -o bin/rwkvgo ./cmd/rwkvgo

# The full test suite: formatting, vet, and every test with the race detector.
test: fmt-check vet
	$(GO) test -race -count=1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Quick unit run without the race detector.
unit:
	$(GO) test ./...

# The main job: generate text from a real (tiny, byte-level) RWKV-7 model on the CPU.
run:
	$(GO) run ./cmd/rwkvgo generate --model $(MODEL) --prompt "In a shocking finding," --max-tokens 64 --temperature 0

# CPU benchmarks of the engine (synthetic RWKV-7 0.1B shape).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./engine/

clean:
	rm -rf bin
