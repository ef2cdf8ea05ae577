// Package sampletest checks the fused CUDA sampler (cuda/sample.cu) against
// the Go sampler (package sampler) without a GPU.
//
// harness.cu compiles cuda/sample.cu on the CPU with the project's
// kernel-language emulator (cuda/emu) and runs its launchers,
// rwkvcu_launch_sample and rwkvcu_launch_sample_observe, on copies of host
// arrays. The tests feed the same logits, history and settings to the kernel
// and to sampler.Sampler and require identical token ids for many (seed,
// sequence, step) triples, probabilities within 1e-5 relative, and penalty
// counts equal to sampler.DecayedCounts. A separate test builds the kernels
// with nvcc, when it is installed, and checks the ptxas resource usage.
package sampletest

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/cuda/kerneltest"
)

// The harness's entry points (sampletest.h), bound when first needed.
var (
	loadOnce sync.Once
	loadErr  error
	api      struct {
		detail      func() string
		clearErrors func()
		sample      func(logits unsafe.Pointer, rows, V int32, cfg unsafe.Pointer, counts, bias unsafe.Pointer, step uint64, tokens, probs unsafe.Pointer, misalign int32) int32
		observe     func(counts unsafe.Pointer, rows, V, row int32, tokens unsafe.Pointer, n int32, decay float32) int32
		validate    func(which int32) int32
	}
)

// load builds harness.cu with package kerneltest and binds its functions.
func load() error {
	loadOnce.Do(func() {
		loadErr = kerneltest.LoadFuncs("harness.cu",
			kerneltest.Func{Ptr: &api.detail, Name: "st_detail"}, kerneltest.Func{Ptr: &api.clearErrors, Name: "st_clear_errors"}, kerneltest.Func{Ptr: &api.sample, Name: "st_sample"},
			kerneltest.Func{Ptr: &api.observe, Name: "st_observe"}, kerneltest.Func{Ptr: &api.validate, Name: "st_validate"},
		)
	})
	return loadErr
}

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

// call runs f (a harness call returning a cudaError_t) and collects the
// error detail on the same OS thread: the emulator keeps error state per
// thread.
func call(f func() int32) error {
	if err := load(); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := int(f()); code != 0 {
		err := &cudaError{code, api.detail()}
		api.clearErrors()
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
	var pb unsafe.Pointer
	if bias != nil {
		pb = unsafe.Pointer(&bias[0])
	}
	mis := int32(0)
	if misalign {
		mis = 1
	}
	err := call(func() int32 {
		return api.sample(unsafe.Pointer(&logits[0]), int32(rows), int32(V), unsafe.Pointer(&cfg[0]), unsafe.Pointer(&counts[0]), pb,
			step, unsafe.Pointer(&tokens[0]), unsafe.Pointer(&probs[0]), mis)
	})
	runtime.KeepAlive(bias)
	return tokens, probs, err
}

// Observe records tokens into row `row` of counts [rows*V] on the device.
func Observe(counts []float32, rows, V, row int, tokens []int32, decay float32) error {
	var pt unsafe.Pointer
	if len(tokens) > 0 {
		pt = unsafe.Pointer(&tokens[0])
	}
	return call(func() int32 {
		return api.observe(unsafe.Pointer(&counts[0]), int32(rows), int32(V), int32(row), pt, int32(len(tokens)), decay)
	})
}

// validate returns the status of argument-check case which (harness.cu).
func validate(which int) int {
	if err := load(); err != nil {
		panic(err)
	}
	return int(api.validate(int32(which)))
}
