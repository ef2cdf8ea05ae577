// Package sampletest checks the fused CUDA sampler (cuda/sample.cu) against
// the Go sampler (package sampler) without a GPU.
//
// harness.cc compiles cuda/sample.cu on the CPU with the project's
// kernel-language emulator (cuda/emu) and runs its launchers,
// rwkvcu_launch_sample and rwkvcu_launch_sample_observe, on copies of host
// arrays. The tests feed the same logits, history and settings to the kernel
// and to sampler.Sampler and require identical token ids for many (seed,
// sequence, step) triples, probabilities within 1e-5 relative, and penalty
// counts equal to sampler.DecayedCounts. A separate test builds the kernels
// with nvcc, when it is installed, and checks the ptxas resource usage.
package sampletest

/*
#cgo CXXFLAGS: -std=c++20 -O2 -I${SRCDIR}/../emu/include -I${SRCDIR}/..
#include <stdlib.h>
#include "sampletest.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	// The emulator's headers: importing the package makes the go tool
	// rebuild this one when they change.
	_ "github.com/rwkvgo/rwkvgo/cuda/emu/include"
)

// Row is one row's settings, the layout of struct rwkvcu_sample_row.
type Row struct {
	Temperature       float32
	TopK              int32
	TopP              float32
	MinP              float32
	RepetitionPenalty float32
	PresencePenalty   float32
	FrequencyPenalty  float32
	PenaltyDecay      float32
	Seed              uint64
	Seq               uint64
}

// NeutralRow returns settings whose stages are all disabled (temperature 1).
func NeutralRow() Row {
	return Row{Temperature: 1, TopP: 1, RepetitionPenalty: 1, PenaltyDecay: 1}
}

// cudaError is a failed CUDA call: its cudaError_t value and the emulator's
// explanation.
type cudaError struct {
	code   int
	detail string
}

func (e *cudaError) Error() string { return fmt.Sprintf("CUDA error %d: %s", e.code, e.detail) }

// call runs f (a cgo call returning a cudaError_t) and collects the error
// detail on the same OS thread: the emulator keeps error state per thread.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := int(f()); code != 0 {
		err := &cudaError{code, C.GoString(C.st_detail())}
		C.st_clear_errors()
		return err
	}
	return nil
}

// Sample runs the fused sampler on rows = len(cfg) rows: logits and counts
// are [rows*V], bias [rows*V] or nil. counts is updated in place. It returns
// the token ids and probabilities. misalign selects the scalar-load path.
func Sample(logits []float32, V int, cfg []Row, counts, bias []float32, step uint64, misalign bool) ([]int32, []float32, error) {
	rows := len(cfg)
	if len(logits) != rows*V || len(counts) != rows*V || (bias != nil && len(bias) != rows*V) {
		return nil, nil, fmt.Errorf("sampletest: shape mismatch")
	}
	tokens := make([]int32, rows)
	probs := make([]float32, rows)
	var pb *C.float
	if bias != nil {
		pb = (*C.float)(unsafe.Pointer(&bias[0]))
	}
	mis := C.int(0)
	if misalign {
		mis = 1
	}
	err := call(func() C.int {
		return C.st_sample((*C.float)(unsafe.Pointer(&logits[0])), C.int(rows), C.int(V),
			(*C.StRow)(unsafe.Pointer(&cfg[0])), (*C.float)(unsafe.Pointer(&counts[0])), pb,
			C.uint64_t(step), (*C.int32_t)(unsafe.Pointer(&tokens[0])), (*C.float)(unsafe.Pointer(&probs[0])), mis)
	})
	return tokens, probs, err
}

// Observe records tokens into row `row` of counts [rows*V] on the device.
func Observe(counts []float32, rows, V, row int, tokens []int32, decay float32) error {
	var pt *C.int32_t
	if len(tokens) > 0 {
		pt = (*C.int32_t)(unsafe.Pointer(&tokens[0]))
	}
	return call(func() C.int {
		return C.st_observe((*C.float)(unsafe.Pointer(&counts[0])), C.int(rows), C.int(V), C.int(row), pt,
			C.int(len(tokens)), C.float(decay))
	})
}

// validate returns the status of argument-check case which (harness.cc).
func validate(which int) int { return int(C.st_validate(C.int(which))) }

// builtSource returns the copy of cuda/sample.cu (which = 0) or
// cuda/sample.cuh (1) compiled into the test binary.
func builtSource(which int) string {
	var n C.size_t
	p := C.st_source(C.int(which), &n)
	return C.GoStringN(p, C.int(n))
}
