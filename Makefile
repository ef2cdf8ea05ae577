# rwkvgo build and test entry points. `make test` is the project's test command.
SHELL := /bin/bash
GO ?= go
# NVIDIA's NVML header marks many functions deprecated; silence that noise in cgo builds.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
SHARED ?= ../shared/testdata
MODEL ?= $(SHARED)/rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin

.PHONY: all build test fmt-check vet unit run bench clean cuda emu lib-cuda lib-emu test-cuda-emu test-cuda-emu-decode test-cuda-emu-rest ptxas-report fuzz fuzz-list e2e-openai cuda13 generate generate-check gpu-kit gpu-kit-emu

CMAKE ?= cmake
CUDA_ARCHS ?= 80;86;89;90
# The emulated conformance suite runs under each of the emulator's schedules.
SCHEDULES ?= forward reverse random:7

all: build

build:
	$(GO) build -o bin/rwkvgo ./cmd/rwkvgo

# Packages with long sequential tests that skip themselves under -race
# (racetest.SkipSequential): they run once more without it. Expanded only
# by the test recipe, and build/ (toolkit wheels, emulated libraries) is
# not searched.
SEQUENTIAL_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' --exclude-dir=build --exclude-dir=.git 'racetest.SkipSequential(t)' .)))

# The full test suite: formatting, vet, every test with the race detector
# (the sequential tests without it), then the CUDA backend on the emulated
# library (conformance suite, graphs and the device sampler under every
# emulator schedule, the device-resident decode loop against host sampling
# and its per-step ledger, the purego loader and the device sampler through
# it, every shared model, the vendor baseline reported unavailable by the
# bindings and bench kernels, the scheduler,
# `rwkvgo generate` giving the CPU backend's tokens on every shared model;
# every runtime call of a load, sessions, decode steps, the device sampler
# and a graph failed in turn by the emulator's fault injector (a sample of
# them through purego), and the emulator's memory cap).
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 30m ./...
	$(GO) test -count=1 -timeout 30m $(SEQUENTIAL_PKGS)
	$(GO) test -count=1 -run 'DoesNotAllocate' ./engine/... ./internal/vec/
	$(MAKE) test-cuda-emu

# The emulated CUDA tests in two halves of similar length, run side by side
# (the emulator runs a launch on one OS thread): the device-resident decode
# loop and the fault injection (test-cuda-emu-decode) beside everything else
# (test-cuda-emu-rest, which also runs TestEngineDeviceTokens to even them).
test-cuda-emu: lib-emu
	$(GO) vet -tags cuda,cuemu ./bindings/ ./cmd/...
	@$(MAKE) --no-print-directory -j 2 --output-sync=target test-cuda-emu-decode test-cuda-emu-rest

test-cuda-emu-decode:
	$(GO) test -count=1 -timeout 60m -tags cuda,cuemu -run 'TestDeviceDecode|TestEngineDevice(StatePool|Logprobs|Lifecycle|Ledger)$$|TestDecodeLoopTopErrors' ./bindings/
	@set -o pipefail; $(GO) test -count=1 -timeout 30m -tags cuda,cuemu -run '^(TestFaultInjection|TestOutOfDeviceMemory)$$' -v ./bindings/ | grep -Ev '^=== (RUN|PAUSE|CONT)'

# Emulated runs are long on slow CPUs (the real-model batch took 355 s on one
# machine and over 600 s on another): each go test of the half gets this limit.
EMU_TIMEOUT ?= 40m

test-cuda-emu-rest:
	@set -e; for s in $(SCHEDULES); do \
		echo "CUEMU_SCHEDULE=$$s"; \
		CUEMU_SCHEDULE=$$s $(GO) test -count=1 -timeout $(EMU_TIMEOUT) -tags cuda,cuemu -run 'TestConformance|TestGraph|TestSampler' ./bindings/; \
	done
	$(GO) test -count=1 -timeout $(EMU_TIMEOUT) -tags cuda,cuemu -run 'TestEngineDeviceTokens$$|TestReferenceOutputs|TestUpstreamExpectedLogits|TestQuantizedInt8|TestQuantizedFP8|TestBlockQuantized|TestQuantizedSupported|TestQuantizedDeviceMemory|TestVendor|TestStats|TestStepBatch|TestDecodeLeak|TestDecodeLaunchesPerLayer|TestBenchLibrary' ./bindings/
	$(GO) test -count=1 -timeout $(EMU_TIMEOUT) -tags cuda,cuemu -run 'TestBenchKernelsVendor|TestBenchLedgerCUDA|TestBenchLedgerEngineCUDA' ./cmd/rwkvgo/
	RWKVGO_CUDA_LIB=$(CURDIR)/build/emu/librwkvcu_emu.so CGO_ENABLED=0 $(GO) test -count=1 -timeout $(EMU_TIMEOUT) -short -run '^(TestPurego(Sampler|Vendor|DeviceDecode)?|TestFaultInjection|TestOutOfDeviceMemory)$$' ./bindings/
	RWKVGO_CUDA_LIB=$(CURDIR)/build/emu/librwkvcu_emu.so CGO_ENABLED=0 $(GO) test -count=1 -timeout $(EMU_TIMEOUT) -run '^TestCUDA' ./scheduler/
	RWKVGO_CUDA_LIB=$(CURDIR)/build/emu/librwkvcu_emu.so CGO_ENABLED=0 $(GO) test -count=1 -timeout $(EMU_TIMEOUT) -run '^TestGenerateSameTokensAcrossBackends$$' ./cmd/rwkvgo/

# librwkvcu_emu and librwkvcu_bench_emu: the kernels and the C ABIs on the
# CPU emulator (g++).
lib-emu:
	@[ -f build/emu/CMakeCache.txt ] || $(CMAKE) -S . -B build/emu -DRWKVCU_TARGET=emu
	$(CMAKE) --build build/emu -j 2

# librwkvcu and librwkvcu_bench: nvcc for $(CUDA_ARCHS); a ptxas spill is an
# error. ptxas's report for sm_90 is kept in build/cuda/ptxas-sm_90.txt. Only
# librwkvcu_bench may link cuBLAS.
lib-cuda:
	@[ -f build/cuda/CMakeCache.txt ] || $(CMAKE) -S . -B build/cuda -DRWKVCU_TARGET=cuda "-DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCHS)"
	@mkdir -p build/cuda
	@set -o pipefail; $(CMAKE) --build build/cuda -j 2 2>&1 | tee build/cuda/build.log
	@$(MAKE) --no-print-directory ptxas-report
	@if readelf -d build/cuda/librwkvcu.so | grep -q cublas; then echo "librwkvcu links cuBLAS"; exit 1; fi

# librwkvcu built by CUDA 13.0 from NVIDIA's PyPI wheels (ci/cuda13): a venv
# in build/cuda13-venv (reused), build/cuda13/librwkvcu.so for sm_80, sm_90a
# and sm_100a (those this nvcc knows), spills are errors; ptxas's report for
# sm_90a goes to build/cuda13/ptxas-sm_90a.txt.
cuda13:
	@CMAKE="$(CMAKE)" ./ci/cuda13
	@$(MAKE) --no-print-directory ptxas-report PTXAS_DIR=build/cuda13 PTXAS_ARCH=sm_90a

# ptxas's per-kernel report for one architecture from $(PTXAS_DIR)/build.log
# (kept as it was when the last build compiled nothing).
PTXAS_DIR ?= build/cuda
PTXAS_ARCH ?= sm_90
ptxas-report:
	@if ! grep -q "Compiling entry function" $(PTXAS_DIR)/build.log; then \
		echo "ptxas report: $(PTXAS_DIR)/ptxas-$(PTXAS_ARCH).txt unchanged (nothing compiled)"; exit 0; fi; \
	awk -v arch="$(PTXAS_ARCH)" '/Compiling entry function/ { on = index($$0, "for \047" arch "\047") > 0; if (on) { match($$0, /function .[^ ]*/); print substr($$0, RSTART + 10, RLENGTH - 11) } next } \
		on && /bytes stack frame/ { sub(/^ */, "    "); print } \
		on && /ptxas info *: Used/ { sub(/^.*ptxas info *: */, "    "); print } \
		on && /ptxas warning|ptxas error/ { print }' $(PTXAS_DIR)/build.log | c++filt > $(PTXAS_DIR)/ptxas-$(PTXAS_ARCH).txt; \
	echo "ptxas report: $(PTXAS_DIR)/ptxas-$(PTXAS_ARCH).txt ($$(grep -c 'registers' $(PTXAS_DIR)/ptxas-$(PTXAS_ARCH).txt) kernels)"

# The GPU kit (ci/gpu-kit): build/gpu-kit holds CGO_ENABLED=0 test binaries
# and CLI, the library's sources, a subset of the shared test data and
# run.sh, which builds librwkvcu with the device's own nvcc and runs the
# device check (`OUT=DIR build/gpu-kit/run.sh`; under 64 MiB, under 8
# minutes on one H200). gpu-kit-emu runs the same script on the emulated
# library (small shapes) with its report in build/gpu-kit-out.
gpu-kit:
	@GO=$(GO) RWKVGO_TESTDATA=$(SHARED) ./ci/gpu-kit/build.sh

gpu-kit-emu: gpu-kit
	rm -rf build/gpu-kit-out
	GPU_KIT_EMU=1 OUT=$(CURDIR)/build/gpu-kit-out build/gpu-kit/run.sh
	@cat build/gpu-kit-out/summary.md

# The real library and bin/rwkvgo-cuda, the CLI with the CUDA backend.
cuda: lib-cuda
	$(GO) build -tags cuda -o bin/rwkvgo-cuda ./cmd/rwkvgo

# The emulated library and bin/rwkvgo-emu (the CUDA backend on the CPU).
emu: lib-emu
	$(GO) build -tags cuda,cuemu -o bin/rwkvgo-emu ./cmd/rwkvgo

# Every generated file: the Go mirror of the C ABI in bindings (z*.go, from
# csrc/include/rwkvcu.h and engine/backend's interfaces), TimedBackend's
# methods in bench (ztimed.go) and internal/vec's assembly.
generate:
	$(GO) generate ./...

# Fails when `go generate ./...` changes the tree (a generated file is stale
# or was edited by hand); run on a clean checkout.
generate-check: generate
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "go generate ./... changed the tree; commit the regenerated files:"; \
		git status --porcelain; git diff --stat; exit 1; \
	fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Fuzzing: every fuzz target of the repository, found automatically (any
# `func FuzzXxx` in a _test.go file), fuzzed one at a time for FUZZTIME with
# one worker. Each target's committed seeds (testdata/fuzz/FuzzXxx/) run
# first; a failure stops the loop and leaves the failing input under that
# directory, to be committed as a regression case once fixed. New inputs are
# minimized for at most FUZZMINIMIZETIME so that the time goes to fuzzing.
# Go's fuzzing engine sometimes ends a run at its own deadline with "context
# deadline exceeded" and no failing input: such a target is run once more,
# and fails the loop if that happens again.
FUZZTIME ?= 10s
FUZZMINIMIZETIME ?= 1s
FUZZFLAGS ?=

# fuzz-list prints "package target" for every fuzz target.
fuzz-list:
	@set -eo pipefail; \
	for dir in $$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . | xargs -n1 dirname | sort -u); do \
		for t in $$($(GO) test -list '^Fuzz' ./$${dir#./} | grep '^Fuzz' || true); do \
			echo "./$${dir#./} $$t"; \
		done; \
	done

fuzz:
	@set -eo pipefail; \
	targets=$$($(MAKE) --no-print-directory -s fuzz-list); \
	[ -n "$$targets" ] || { echo "no fuzz targets found"; exit 1; }; \
	echo "$$targets" | while read -r pkg t; do \
		echo "== fuzz $$pkg $$t ($(FUZZTIME))"; \
		for attempt in 1 2; do \
			if out=$$($(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -parallel 1 $(FUZZFLAGS) $$pkg 2>&1); then \
				echo "$$out"; break; \
			fi; \
			echo "$$out"; \
			if [ $$attempt = 2 ] || echo "$$out" | grep -q 'Failing input written' || ! echo "$$out" | grep -q 'context deadline exceeded'; then exit 1; fi; \
			echo "(the fuzzing engine hit its own deadline with no failing input; running $$t again)"; \
		done; \
	done

# Quick unit run without the race detector.
unit:
	$(GO) test ./...

# The main job: generate text from a real (tiny, byte-level) RWKV-7 model on the CPU.
run:
	$(GO) run ./cmd/rwkvgo generate --model $(MODEL) --prompt "In a shocking finding," --max-tokens 64 --temperature 0

# CPU benchmarks of the engine (synthetic RWKV-7 0.1B shape).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./engine/

# rwkvgo serve end to end with the official OpenAI Python client (PyPI
# "openai" in a venv under build/), on the tiny RWKV-7 model.
E2E_VENV ?= build/venv-openai
e2e-openai: build
	@[ -x $(E2E_VENV)/bin/python ] || python3 -m venv $(E2E_VENV)
	@$(E2E_VENV)/bin/python -c 'import openai' 2>/dev/null || $(E2E_VENV)/bin/pip install -q openai
	$(E2E_VENV)/bin/python ci/openai_e2e.py bin/rwkvgo $(MODEL)

# The repetition study (eval/study.sh): `rwkvgo eval repetition` with the
# committed prompts and strategies on the shared tiny model of every RWKV
# version; reports under build/study/, tables into README.md.
STUDY_MODELS ?= $(SHARED)/rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP32.bin \
	$(SHARED)/rwkv.cpp/tests/tiny-rwkv-5v1-730K-FP32.bin \
	$(SHARED)/rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin \
	$(SHARED)/rwkv.cpp/tests-history/tiny-rwkv-6v0-1m-FP32.bin \
	$(SHARED)/rwkv.cpp/tests/tiny-rwkv-6v0-3m-Q5_1.bin \
	$(SHARED)/rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin
.PHONY: study
study: build
	./eval/study.sh bin/rwkvgo build/study $(STUDY_MODELS)

clean:
	rm -rf bin build
