// Package emutest runs the tests of the CUDA kernel-language emulator
// (cuda/emu) under `go test`.
//
// kernels.cu holds ordinary CUDA test kernels; harness.cu, built at test
// time by package kerneltest, compiles them on the CPU with the emulator's
// shadow headers (cuda/emu/include, placed before any system or CUDA toolkit
// include directory) and launches them through the emulated runtime API. The
// Go tests call those entry points through purego and check the results
// against references computed in Go, including the project's own fp16/bf16
// conversions (internal/half).
//
// The harness uses the x86-64 assembly context switch by default; the build
// tag cuemu_ucontext selects the portable ucontext switch instead (the
// emulator also selects it by itself when the C++ code is compiled with
// AddressSanitizer or ThreadSanitizer).
package emutest

import (
	_ "embed" // kernelsSource
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/cuda/kerneltest"
)

// kernelsSource is kernels.cu, the test kernels compiled by harness.cu.
//
//go:embed kernels.cu
var kernelsSource string

// p is the address of a slice's first element (nil for an empty slice).
func p[T any](s []T) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

// api holds the harness's entry points (emutest.h), bound when first needed.
var (
	loadOnce sync.Once
	loadErr  error
	api      struct {
		detail        func() string
		clearErrors   func()
		setSchedule   func(spec string) int32
		switchIsAsm   func() int32
		indices       func(out unsafe.Pointer, gx, gy, gz, bx, by, bz uint32) int32
		softmax       func(x, y unsafe.Pointer, rows, n, threads int32) int32
		matmul        func(a, b, c unsafe.Pointer, m, n, k, secondSync int32) int32
		wkv4          func(b, t, c int32, w, u, k, v, y unsafe.Pointer) int32
		badKernel     func(which int32, out unsafe.Pointer) int32
		shuffles      func(out unsafe.Pointer, width int32, mask uint32, delta int32) int32
		votes         func(out unsafe.Pointer) int32
		syncCount     func(out unsafe.Pointer, threads int32) int32
		atomics       func(blocks, threads int32, out unsafe.Pointer, size uintptr) int32
		dynamicShared func(out unsafe.Pointer, blocks, threads int32, bytes uintptr, raiseLimit int32) int32
		staticShared  func(out unsafe.Pointer, blocks, threads, salt int32) int32
		neighbour     func(x, y unsafe.Pointer, blocks, threads, sync int32) int32
		f16ToF32      func(in, out unsafe.Pointer, n uintptr)
		f32ToF16      func(in, out unsafe.Pointer, n uintptr)
		f64ToF16      func(in, out unsafe.Pointer, n uintptr)
		bf16ToF32     func(in, out unsafe.Pointer, n uintptr)
		f32ToBF16     func(in, out unsafe.Pointer, n uintptr)
		halfOps       func(a, b, c, out unsafe.Pointer, n, bf16 int32) int32
		mmaTile       func(a, b, c, d unsafe.Pointer, bf16 int32) int32
		mmaGemm       func(a, b, c unsafe.Pointer, m, n, k, bf16 int32) int32
		ldmatrix      func(out unsafe.Pointer) int32
		cpAsync       func(src, out unsafe.Pointer) int32
		math          func(x, out, bits unsafe.Pointer, n int32) int32
		runtimeChecks func(msg unsafe.Pointer, size uintptr) int32
		graph         func(out unsafe.Pointer, n, replays int32, nodes *uintptr) int32
		captureErrors func(msg unsafe.Pointer, size uintptr) int32
		checkMode     func(msg unsafe.Pointer, size uintptr) int32
		faults        func(msg unsafe.Pointer, size uintptr) int32
		benchSoftmax  func(rows, n, threads, reps int32) float64
		benchMatmul   func(m, n, k, reps int32) float64
	}
)

// mustLoad builds harness.cu with package kerneltest and binds its
// functions, panicking if that fails (the tests cannot run without it).
func mustLoad() {
	loadOnce.Do(func() {
		loadErr = kerneltest.LoadFuncs("harness.cu",
			kerneltest.Func{Ptr: &api.detail, Name: "emu_detail"}, kerneltest.Func{Ptr: &api.clearErrors, Name: "emu_clear_errors"}, kerneltest.Func{Ptr: &api.setSchedule, Name: "emu_set_schedule"},
			kerneltest.Func{Ptr: &api.switchIsAsm, Name: "emu_switch_is_asm"}, kerneltest.Func{Ptr: &api.indices, Name: "emu_indices"}, kerneltest.Func{Ptr: &api.softmax, Name: "emu_softmax"},
			kerneltest.Func{Ptr: &api.matmul, Name: "emu_matmul"}, kerneltest.Func{Ptr: &api.wkv4, Name: "emu_wkv4"}, kerneltest.Func{Ptr: &api.badKernel, Name: "emu_bad_kernel"},
			kerneltest.Func{Ptr: &api.shuffles, Name: "emu_shuffles"}, kerneltest.Func{Ptr: &api.votes, Name: "emu_votes"}, kerneltest.Func{Ptr: &api.syncCount, Name: "emu_sync_count"},
			kerneltest.Func{Ptr: &api.atomics, Name: "emu_atomics"}, kerneltest.Func{Ptr: &api.dynamicShared, Name: "emu_dynamic_shared"},
			kerneltest.Func{Ptr: &api.staticShared, Name: "emu_static_shared"}, kerneltest.Func{Ptr: &api.neighbour, Name: "emu_neighbour"},
			kerneltest.Func{Ptr: &api.f16ToF32, Name: "emu_f16_to_f32"}, kerneltest.Func{Ptr: &api.f32ToF16, Name: "emu_f32_to_f16"}, kerneltest.Func{Ptr: &api.f64ToF16, Name: "emu_f64_to_f16"},
			kerneltest.Func{Ptr: &api.bf16ToF32, Name: "emu_bf16_to_f32"}, kerneltest.Func{Ptr: &api.f32ToBF16, Name: "emu_f32_to_bf16"}, kerneltest.Func{Ptr: &api.halfOps, Name: "emu_half_ops"},
			kerneltest.Func{Ptr: &api.mmaTile, Name: "emu_mma_tile"}, kerneltest.Func{Ptr: &api.mmaGemm, Name: "emu_mma_gemm"}, kerneltest.Func{Ptr: &api.ldmatrix, Name: "emu_ldmatrix"},
			kerneltest.Func{Ptr: &api.cpAsync, Name: "emu_cp_async"}, kerneltest.Func{Ptr: &api.math, Name: "emu_math"}, kerneltest.Func{Ptr: &api.runtimeChecks, Name: "emu_runtime_checks"},
			kerneltest.Func{Ptr: &api.graph, Name: "emu_graph"}, kerneltest.Func{Ptr: &api.captureErrors, Name: "emu_capture_errors"}, kerneltest.Func{Ptr: &api.checkMode, Name: "emu_check_mode"},
			kerneltest.Func{Ptr: &api.faults, Name: "emu_faults"},
			kerneltest.Func{Ptr: &api.benchSoftmax, Name: "emu_bench_softmax"}, kerneltest.Func{Ptr: &api.benchMatmul, Name: "emu_bench_matmul"},
		)
	})
	if loadErr != nil {
		panic(loadErr)
	}
}

// cudaError is a failed CUDA call: its cudaError_t value and the emulator's
// explanation.
type cudaError struct {
	code   int
	detail string
}

func (e *cudaError) Error() string { return fmt.Sprintf("CUDA error %d: %s", e.code, e.detail) }

// call runs f (a harness call returning a cudaError_t) and collects the
// error detail on the same OS thread, since the emulator keeps error state
// per thread.
func call(f func() int32) error {
	mustLoad()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := int(f()); code != 0 {
		err := &cudaError{code, api.detail()}
		api.clearErrors()
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

// selfCheck runs a harness self-check writing a message of at most 1024
// bytes; "" when it passed.
func selfCheck(f func(msg unsafe.Pointer, size uintptr) int32) string {
	mustLoad()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, 1024)
	if f(unsafe.Pointer(&buf[0]), uintptr(len(buf))) == 0 {
		return ""
	}
	n := 0
	for n < len(buf) && buf[n] != 0 {
		n++
	}
	return string(buf[:n])
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// EmuAtomics mirrors struct EmuAtomics (emutest.h; its size is checked by
// the harness).
type EmuAtomics struct {
	add_i        int32
	add_u        uint32
	add_f        float32
	add_d        float64
	add_ull      uint64
	max_i, min_i int32
	cas_winners  int32
	exch         int32
	inc, dec     uint32
	sub_i        int32
	or_u, and_u  uint32
	xor_u        uint32
	max_ll       int64
}

// setSchedule sets the fiber order of later launches ("forward", "reverse",
// "random:SEED").
func setSchedule(spec string) error {
	return call(func() int32 { return api.setSchedule(spec) })
}

func switchIsAsm() bool {
	mustLoad()
	return api.switchIsAsm() != 0
}

func indices(grid, block [3]uint32) ([]int32, error) {
	n := int(grid[0] * grid[1] * grid[2] * block[0] * block[1] * block[2])
	out := make([]int32, n*12)
	err := call(func() int32 { return api.indices(p(out), grid[0], grid[1], grid[2], block[0], block[1], block[2]) })
	return out, err
}

func softmax(x, y []float32, rows, n, threads int) error {
	return call(func() int32 { return api.softmax(p(x), p(y), int32(rows), int32(n), int32(threads)) })
}

func matmul(a, b, c []float32, m, n, k int, secondSync bool) error {
	return call(func() int32 { return api.matmul(p(a), p(b), p(c), int32(m), int32(n), int32(k), b2i(secondSync)) })
}

func wkv4(b, t, c int, w, u, k, v, y []float32) error {
	return call(func() int32 { return api.wkv4(int32(b), int32(t), int32(c), p(w), p(u), p(k), p(v), p(y)) })
}

func badKernel(which int) error {
	out := make([]float32, 64)
	return call(func() int32 { return api.badKernel(int32(which), p(out)) })
}

func shuffles(width int, mask uint32, delta int) ([]int32, error) {
	out := make([]int32, 32*6)
	err := call(func() int32 { return api.shuffles(p(out), int32(width), mask, int32(delta)) })
	return out, err
}

func votes() ([]uint32, error) {
	out := make([]uint32, 48*10)
	err := call(func() int32 { return api.votes(p(out)) })
	return out, err
}

func syncCount(threads int) ([]int32, error) {
	out := make([]int32, threads*4)
	err := call(func() int32 { return api.syncCount(p(out), int32(threads)) })
	return out, err
}

func atomics(blocks, threads int) (EmuAtomics, error) {
	var out EmuAtomics
	err := call(func() int32 {
		return api.atomics(int32(blocks), int32(threads), unsafe.Pointer(&out), unsafe.Sizeof(out))
	})
	return out, err
}

func dynamicShared(blocks, threads int, bytes int, raiseLimit bool) ([]uint32, error) {
	out := make([]uint32, blocks*threads*2)
	err := call(func() int32 {
		return api.dynamicShared(p(out), int32(blocks), int32(threads), uintptr(bytes), b2i(raiseLimit))
	})
	return out, err
}

func staticShared(blocks, threads, salt int) ([]int32, error) {
	out := make([]int32, blocks*threads)
	err := call(func() int32 { return api.staticShared(p(out), int32(blocks), int32(threads), int32(salt)) })
	return out, err
}

func neighbour(x []float32, blocks, threads int, sync bool) ([]float32, error) {
	y := make([]float32, len(x))
	err := call(func() int32 { return api.neighbour(p(x), p(y), int32(blocks), int32(threads), b2i(sync)) })
	return y, err
}

func f16ToF32(in []uint16) []float32 {
	mustLoad()
	out := make([]float32, len(in))
	api.f16ToF32(p(in), p(out), uintptr(len(in)))
	return out
}

func f32ToF16(in []float32) []uint16 {
	mustLoad()
	out := make([]uint16, len(in))
	api.f32ToF16(p(in), p(out), uintptr(len(in)))
	return out
}

func f64ToF16(in []float64) []uint16 {
	mustLoad()
	out := make([]uint16, len(in))
	api.f64ToF16(p(in), p(out), uintptr(len(in)))
	return out
}

func bf16ToF32(in []uint16) []float32 {
	mustLoad()
	out := make([]float32, len(in))
	api.bf16ToF32(p(in), p(out), uintptr(len(in)))
	return out
}

func f32ToBF16(in []float32) []uint16 {
	mustLoad()
	out := make([]uint16, len(in))
	api.f32ToBF16(p(in), p(out), uintptr(len(in)))
	return out
}

// halfOps returns, per element, add, sub, mul, div, fma and a __half2 fma
// (see k_half_ops).
func halfOps(a, b, c []uint16, bf16 bool) ([]uint16, error) {
	out := make([]uint16, len(a)*6)
	err := call(func() int32 { return api.halfOps(p(a), p(b), p(c), p(out), int32(len(a)), b2i(bf16)) })
	return out, err
}

func mmaTile(a, b []uint16, c []float32, bf16 bool) ([]float32, error) {
	d := make([]float32, 16*8)
	err := call(func() int32 { return api.mmaTile(p(a), p(b), p(c), p(d), b2i(bf16)) })
	return d, err
}

func mmaGemm(a, b []uint16, m, n, k int, bf16 bool) ([]float32, error) {
	c := make([]float32, m*n)
	err := call(func() int32 { return api.mmaGemm(p(a), p(b), p(c), int32(m), int32(n), int32(k), b2i(bf16)) })
	return c, err
}

func ldmatrix() ([]uint32, error) {
	out := make([]uint32, 6*32*4)
	err := call(func() int32 { return api.ldmatrix(p(out)) })
	return out, err
}

func cpAsync(src []uint32) ([]uint32, error) {
	out := make([]uint32, 17)
	err := call(func() int32 { return api.cpAsync(p(src), p(out)) })
	return out, err
}

func mathKernel(x []float32) ([]float32, []uint32, error) {
	out := make([]float32, len(x)*12)
	bits := make([]uint32, len(x)*6)
	err := call(func() int32 { return api.math(p(x), p(out), p(bits), int32(len(x))) })
	return out, bits, err
}

func runtimeChecks() string { mustLoad(); return selfCheck(api.runtimeChecks) }

func captureErrors() string { mustLoad(); return selfCheck(api.captureErrors) }

func checkMode() string { mustLoad(); return selfCheck(api.checkMode) }

func faults() string { mustLoad(); return selfCheck(api.faults) }

func graph(n, replays int) ([]float32, int, error) {
	out := make([]float32, n*replays)
	var nodes uintptr
	err := call(func() int32 { return api.graph(p(out), int32(n), int32(replays), &nodes) })
	return out, int(nodes), err
}

func benchSoftmax(rows, n, threads, reps int) float64 {
	mustLoad()
	return api.benchSoftmax(int32(rows), int32(n), int32(threads), int32(reps))
}

func benchMatmul(m, n, k, reps int) float64 {
	mustLoad()
	return api.benchMatmul(int32(m), int32(n), int32(k), int32(reps))
}
