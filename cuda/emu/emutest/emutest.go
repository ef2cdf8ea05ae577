// Package emutest runs the tests of the CUDA kernel-language emulator
// (cuda/emu) under `go test`.
//
// kernels.cu holds ordinary CUDA test kernels; harness.cc compiles them on
// the CPU with the emulator's shadow headers (cuda/emu/include, placed before
// any system or CUDA toolkit include directory) and launches them through the
// emulated runtime API. The Go tests call those entry points through cgo and
// check the results against references computed in Go, including the
// project's own fp16/bf16 conversions (internal/half).
//
// The package builds with the x86-64 assembly context switch by default; the
// build tag cuemu_ucontext selects the portable ucontext switch instead (the
// emulator also selects it by itself when the C++ code is compiled with
// AddressSanitizer or ThreadSanitizer; `go test -asan` instruments only C,
// not C++, so it keeps the assembly switch).
package emutest

/*
#cgo CXXFLAGS: -std=c++20 -O2 -I${SRCDIR}/../include -I${SRCDIR}/../../..
#include <stdlib.h>
#include "emutest.h"
*/
import "C"

import (
	_ "embed" // kernelsSource
	"fmt"
	"runtime"
	"unsafe"

	// The emulator's headers: importing the package makes the go tool
	// rebuild this one when they change.
	_ "github.com/rwkvgo/rwkvgo/cuda/emu/include"
)

// kernelsSource is kernels.cu, the test kernels compiled by harness.cc.
// Embedding it also makes the go tool rebuild the package when it changes.
//
//go:embed kernels.cu
var kernelsSource string

// ptxWrappersSource returns the copy of cuda/ptx_wrappers.cuh that was
// assembled into the test binary (see harness.cc); it lies outside this
// package, so the go tool cannot notice changes to it.
func ptxWrappersSource() string {
	return C.GoStringN(C.emu_ptx_wrappers_source(), C.int(C.emu_ptx_wrappers_size()))
}

// cudaError is a failed CUDA call: its cudaError_t value and the emulator's
// explanation.
type cudaError struct {
	code   int
	detail string
}

func (e *cudaError) Error() string { return fmt.Sprintf("CUDA error %d: %s", e.code, e.detail) }

// call runs f (a cgo call returning a cudaError_t) and collects the error
// detail on the same OS thread, since the emulator keeps error state per
// thread.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := int(f()); code != 0 {
		err := &cudaError{code, C.GoString(C.emu_detail())}
		C.emu_clear_errors()
		return err
	}
	return nil
}

// errCode returns the cudaError_t value of err (0 for nil).
func errCode(err error) int {
	if e, ok := err.(*cudaError); ok {
		return e.code
	}
	if err != nil {
		return -1
	}
	return 0
}

func f32p(s []float32) *C.float   { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }
func f64p(s []float64) *C.double  { return (*C.double)(unsafe.SliceData(s)) }
func i32p(s []int32) *C.int       { return (*C.int)(unsafe.Pointer(unsafe.SliceData(s))) }
func u32p(s []uint32) *C.uint32_t { return (*C.uint32_t)(unsafe.SliceData(s)) }
func u16p(s []uint16) *C.uint16_t { return (*C.uint16_t)(unsafe.SliceData(s)) }
func uintp(s []uint32) *C.uint    { return (*C.uint)(unsafe.SliceData(s)) }
func selfCheck(f func(*C.char, C.size_t) C.int) string {
	buf := make([]byte, 1024)
	if f((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) == 0 {
		return ""
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// setSchedule sets the fiber order of later launches ("forward", "reverse",
// "random:SEED").
func setSchedule(spec string) error {
	cs := C.CString(spec)
	defer C.free(unsafe.Pointer(cs))
	return call(func() C.int { return C.emu_set_schedule(cs) })
}

func switchIsAsm() bool { return C.emu_switch_is_asm() != 0 }

func indices(grid, block [3]uint32) ([]int32, error) {
	n := int(grid[0] * grid[1] * grid[2] * block[0] * block[1] * block[2])
	out := make([]int32, n*12)
	err := call(func() C.int {
		return C.emu_indices(i32p(out), C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
			C.uint(block[0]), C.uint(block[1]), C.uint(block[2]))
	})
	return out, err
}

func softmax(x, y []float32, rows, n, threads int) error {
	return call(func() C.int { return C.emu_softmax(f32p(x), f32p(y), C.int(rows), C.int(n), C.int(threads)) })
}

func matmul(a, b, c []float32, m, n, k int, secondSync bool) error {
	return call(func() C.int {
		return C.emu_matmul(f32p(a), f32p(b), f32p(c), C.int(m), C.int(n), C.int(k), b2i(secondSync))
	})
}

func wkv4(b, t, c int, w, u, k, v, y []float32) error {
	return call(func() C.int {
		return C.emu_wkv4(C.int(b), C.int(t), C.int(c), f32p(w), f32p(u), f32p(k), f32p(v), f32p(y))
	})
}

func badKernel(which int) error {
	out := make([]float32, 64)
	return call(func() C.int { return C.emu_bad_kernel(C.int(which), f32p(out)) })
}

func shuffles(width int, mask uint32, delta int) ([]int32, error) {
	out := make([]int32, 32*6)
	err := call(func() C.int { return C.emu_shuffles(i32p(out), C.int(width), C.uint(mask), C.int(delta)) })
	return out, err
}

func votes() ([]uint32, error) {
	out := make([]uint32, 48*10)
	err := call(func() C.int { return C.emu_votes(uintp(out)) })
	return out, err
}

func syncCount(threads int) ([]int32, error) {
	out := make([]int32, threads*4)
	err := call(func() C.int { return C.emu_sync_count(i32p(out), C.int(threads)) })
	return out, err
}

func atomics(blocks, threads int) (C.EmuAtomics, error) {
	var out C.EmuAtomics
	err := call(func() C.int {
		return C.emu_atomics(C.int(blocks), C.int(threads), &out, C.size_t(unsafe.Sizeof(out)))
	})
	return out, err
}

func dynamicShared(blocks, threads int, bytes int, raiseLimit bool) ([]uint32, error) {
	out := make([]uint32, blocks*threads*2)
	err := call(func() C.int {
		return C.emu_dynamic_shared(uintp(out), C.int(blocks), C.int(threads), C.size_t(bytes), b2i(raiseLimit))
	})
	return out, err
}

func staticShared(blocks, threads, salt int) ([]int32, error) {
	out := make([]int32, blocks*threads)
	err := call(func() C.int { return C.emu_static_shared(i32p(out), C.int(blocks), C.int(threads), C.int(salt)) })
	return out, err
}

func neighbour(x []float32, blocks, threads int, sync bool) ([]float32, error) {
	y := make([]float32, len(x))
	err := call(func() C.int { return C.emu_neighbour(f32p(x), f32p(y), C.int(blocks), C.int(threads), b2i(sync)) })
	return y, err
}

func f16ToF32(in []uint16) []float32 {
	out := make([]float32, len(in))
	C.emu_f16_to_f32(u16p(in), f32p(out), C.size_t(len(in)))
	return out
}

func f32ToF16(in []float32) []uint16 {
	out := make([]uint16, len(in))
	C.emu_f32_to_f16(f32p(in), u16p(out), C.size_t(len(in)))
	return out
}

func f64ToF16(in []float64) []uint16 {
	out := make([]uint16, len(in))
	C.emu_f64_to_f16(f64p(in), u16p(out), C.size_t(len(in)))
	return out
}

func bf16ToF32(in []uint16) []float32 {
	out := make([]float32, len(in))
	C.emu_bf16_to_f32(u16p(in), f32p(out), C.size_t(len(in)))
	return out
}

func f32ToBF16(in []float32) []uint16 {
	out := make([]uint16, len(in))
	C.emu_f32_to_bf16(f32p(in), u16p(out), C.size_t(len(in)))
	return out
}

// halfOps returns, per element, add, sub, mul, div, fma and a __half2 fma
// (see k_half_ops).
func halfOps(a, b, c []uint16, bf16 bool) ([]uint16, error) {
	out := make([]uint16, len(a)*6)
	err := call(func() C.int {
		return C.emu_half_ops(u16p(a), u16p(b), u16p(c), u16p(out), C.int(len(a)), b2i(bf16))
	})
	return out, err
}

func mmaTile(a, b []uint16, c []float32, bf16 bool) ([]float32, error) {
	d := make([]float32, 16*8)
	err := call(func() C.int { return C.emu_mma_tile(u16p(a), u16p(b), f32p(c), f32p(d), b2i(bf16)) })
	return d, err
}

func mmaGemm(a, b []uint16, m, n, k int, bf16 bool) ([]float32, error) {
	c := make([]float32, m*n)
	err := call(func() C.int {
		return C.emu_mma_gemm(u16p(a), u16p(b), f32p(c), C.int(m), C.int(n), C.int(k), b2i(bf16))
	})
	return c, err
}

func ldmatrix() ([]uint32, error) {
	out := make([]uint32, 6*32*4)
	err := call(func() C.int { return C.emu_ldmatrix(u32p(out)) })
	return out, err
}

func cpAsync(src []uint32) ([]uint32, error) {
	out := make([]uint32, 17)
	err := call(func() C.int { return C.emu_cp_async(uintp(src), uintp(out)) })
	return out, err
}

func mathKernel(x []float32) ([]float32, []uint32, error) {
	out := make([]float32, len(x)*12)
	bits := make([]uint32, len(x)*6)
	err := call(func() C.int { return C.emu_math(f32p(x), f32p(out), uintp(bits), C.int(len(x))) })
	return out, bits, err
}

func runtimeChecks() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return selfCheck(func(m *C.char, n C.size_t) C.int { return C.emu_runtime_checks(m, n) })
}

func captureErrors() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return selfCheck(func(m *C.char, n C.size_t) C.int { return C.emu_capture_errors(m, n) })
}

func checkMode() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return selfCheck(func(m *C.char, n C.size_t) C.int { return C.emu_check_mode(m, n) })
}

func graph(n, replays int) ([]float32, int, error) {
	out := make([]float32, n*replays)
	var nodes C.size_t
	err := call(func() C.int { return C.emu_graph(f32p(out), C.int(n), C.int(replays), &nodes) })
	return out, int(nodes), err
}

func benchSoftmax(rows, n, threads, reps int) float64 {
	return float64(C.emu_bench_softmax(C.int(rows), C.int(n), C.int(threads), C.int(reps)))
}

func benchMatmul(m, n, k, reps int) float64 {
	return float64(C.emu_bench_matmul(C.int(m), C.int(n), C.int(k), C.int(reps)))
}
