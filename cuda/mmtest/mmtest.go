// Package mmtest tests the matrix-product kernels of cuda/matmul.cu under
// `go test`, on the CPU.
//
// harness.cu, built at test time by package kerneltest, compiles
// cuda/matmul.cu with the kernel-language emulator (cuda/emu; its shadow
// headers come first on the include path) and calls its launch functions on
// emulated device memory; the tests compare the results with float64
// references computed in Go. The tensor-core kernel runs through the
// emulator's exact mma.sync, ldmatrix and cp.async, so the code under test
// is the GPU code itself.
package mmtest

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/cuda/kerneltest"
)

// The harness's entry points (mmtest.h), bound when first needed.
var (
	loadOnce sync.Once
	loadErr  error
	api      struct {
		run           func(family, trans, dtype int32, x unsafe.Pointer, xlen uintptr, ldx int64, xoff int32, w unsafe.Pointer, wbytes uintptr, woff int32, wscale unsafe.Pointer, nscale uintptr, out unsafe.Pointer, outlen uintptr, ldo, n, o, k int64, variant, splits *int32) int32
		setSchedule   func(spec string) int32
		detail        func() string
		clearErrors   func()
		invalidChecks func() int32
		group         func(dtype int32, x unsafe.Pointer, n, k int64, w unsafe.Pointer, wbytes uintptr, woff int32, wscale unsafe.Pointer, nscale uintptr, o int64, out0, out1 unsafe.Pointer) int32
	}
)

// load builds harness.cu with package kerneltest and binds its functions.
func load() error {
	loadOnce.Do(func() {
		loadErr = kerneltest.LoadFuncs("harness.cu",
			kerneltest.Func{Ptr: &api.run, Name: "mm_run"}, kerneltest.Func{Ptr: &api.setSchedule, Name: "mm_set_schedule"}, kerneltest.Func{Ptr: &api.detail, Name: "mm_detail"},
			kerneltest.Func{Ptr: &api.clearErrors, Name: "mm_clear_errors"}, kerneltest.Func{Ptr: &api.invalidChecks, Name: "mm_invalid_checks"},
			kerneltest.Func{Ptr: &api.group, Name: "mm_group"},
		)
	})
	return loadErr
}

// Weight element types (csrc/include/rwkvcu.h).
const (
	dtF32  = 0
	dtF16  = 1
	dtBF16 = 2
	dtI8   = 3
	dtF8   = 4 // RWKVCU_F8E4M3
)

// Kernel families and variants (cuda/matmul.cuh).
const (
	famAuto    = 0
	famGEMV    = 1
	famSIMT    = 2
	famTC      = 3
	famSparseT = 4

	varNone          = 0
	varGEMVVec       = 1
	varGEMVVecXS     = 2
	varGEMVScalar    = 3
	varSIMT          = 4
	varSIMTT         = 5
	varTCF16         = 6
	varTCBF16        = 7
	varTCTF16        = 8
	varTCTBF16       = 9
	varSparseTVec    = 10
	varSparseTScalar = 11
	varCount         = 12
)

var variantNames = [varCount]string{"none", "gemv-vec", "gemv-vec-xs", "gemv-scalar", "simt", "simt-t",
	"tc-f16", "tc-bf16", "tc-t-f16", "tc-t-bf16", "sparse-t-vec", "sparse-t-scalar"}

// cudaError is a failed CUDA call: its cudaError_t value and the emulator's
// explanation.
type cudaError struct {
	code   int
	detail string
}

func (e *cudaError) Error() string { return fmt.Sprintf("CUDA error %d: %s", e.code, e.detail) }

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

// call runs f (a harness call returning a cudaError_t) and reads the error
// detail on the same OS thread (the emulator keeps error state per thread).
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

// problem is one product: out[t*ldo + c] for t < n, c < o from x [n, ldx]
// and a weight of o*k elements ([o, k], or [k, o] when trans).
type problem struct {
	trans      bool
	dtype      int
	n, o, k    int
	ldx, ldo   int
	xoff, woff int // misalignment of the device copies (floats, bytes)
	x          []float32
	w          []byte // little-endian elements
	scale      []float32
}

// run launches the product with the given family on a copy of out and
// returns the result and the variant that ran.
func (p *problem) run(family int, out []float32) ([]float32, int, error) {
	res, v, _, err := p.runSplits(family, out)
	return res, v, err
}

// runSplits is run that also returns the row splits of the last SPARSE_T
// launch (rwkvcu_matmul_last_splits).
func (p *problem) runSplits(family int, out []float32) ([]float32, int, int, error) {
	res := append([]float32(nil), out...)
	var variant, splits int32
	var scale unsafe.Pointer
	if len(p.scale) > 0 {
		scale = unsafe.Pointer(&p.scale[0])
	}
	trans := int32(0)
	if p.trans {
		trans = 1
	}
	err := call(func() int32 {
		return api.run(int32(family), trans, int32(p.dtype),
			unsafe.Pointer(&p.x[0]), uintptr(len(p.x)), int64(p.ldx), int32(p.xoff),
			unsafe.Pointer(&p.w[0]), uintptr(len(p.w)), int32(p.woff),
			scale, uintptr(len(p.scale)),
			unsafe.Pointer(&res[0]), uintptr(len(res)), int64(p.ldo),
			int64(p.n), int64(p.o), int64(p.k), &variant, &splits)
	})
	runtime.KeepAlive(p)
	return res, int(variant), int(splits), err
}

// setSchedule sets the emulator's schedule mode.
func setSchedule(spec string) error {
	return call(func() int32 { return api.setSchedule(spec) })
}

// invalidChecks runs the argument-validation checks of harness.cu and
// returns the number of the first failed one (0: all passed).
func invalidChecks() int {
	if err := load(); err != nil {
		panic(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return int(api.invalidChecks())
}

// runGroup runs the product of p (whose x must be contiguous: ldx == k) as
// two identical products of one rwkvcu_launch_matmul_group launch and
// returns both outputs ([n, o] each).
func (p *problem) runGroup() (out0, out1 []float32, err error) {
	out0, out1 = make([]float32, p.n*p.o), make([]float32, p.n*p.o)
	var scale unsafe.Pointer
	if len(p.scale) > 0 {
		scale = unsafe.Pointer(&p.scale[0])
	}
	err = call(func() int32 {
		return api.group(int32(p.dtype), unsafe.Pointer(&p.x[0]), int64(p.n), int64(p.k), unsafe.Pointer(&p.w[0]),
			uintptr(len(p.w)), int32(p.woff), scale, uintptr(len(p.scale)), int64(p.o), unsafe.Pointer(&out0[0]),
			unsafe.Pointer(&out1[0]))
	})
	runtime.KeepAlive(p)
	return out0, out1, err
}
