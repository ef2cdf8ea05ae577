// Package mmtest tests the matrix-product kernels of cuda/matmul.cu under
// `go test`, on the CPU.
//
// harness.cc compiles cuda/matmul.cu with the kernel-language emulator
// (cuda/emu; its shadow headers come first on the include path) and calls
// its launch functions on emulated device memory; the tests compare the
// results with float64 references computed in Go. The tensor-core kernel
// runs through the emulator's exact mma.sync, ldmatrix and cp.async, so the
// code under test is the GPU code itself.
//
// matmul_cu.h and matmul_cuh.h are links to ../matmul.cu and ../matmul.cuh:
// the go tool hashes the headers of a cgo package's directory, so the
// package is rebuilt when the kernel sources change (TestBuildIsFresh
// checks it).
package mmtest

/*
#cgo CXXFLAGS: -std=c++20 -O2 -I${SRCDIR}/../emu/include -I${SRCDIR}/..
#include <stdlib.h>
#include "mmtest.h"
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

// Weight element types (csrc/include/rwkvcu.h).
const (
	dtF32  = 0
	dtF16  = 1
	dtBF16 = 2
	dtI8   = 3
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

// call runs f (a cgo call returning a cudaError_t) and reads the error
// detail on the same OS thread (the emulator keeps error state per thread).
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := int(f()); code != 0 {
		err := &cudaError{code, C.GoString(C.mm_detail())}
		C.mm_clear_errors()
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
	res := append([]float32(nil), out...)
	var variant C.int
	var scale *C.float
	if len(p.scale) > 0 {
		scale = (*C.float)(unsafe.Pointer(&p.scale[0]))
	}
	trans := 0
	if p.trans {
		trans = 1
	}
	err := call(func() C.int {
		return C.mm_run(C.int(family), C.int(trans), C.int(p.dtype),
			(*C.float)(unsafe.Pointer(&p.x[0])), C.size_t(len(p.x)), C.int64_t(p.ldx), C.int(p.xoff),
			unsafe.Pointer(&p.w[0]), C.size_t(len(p.w)), C.int(p.woff),
			scale, C.size_t(len(p.scale)),
			(*C.float)(unsafe.Pointer(&res[0])), C.size_t(len(res)), C.int64_t(p.ldo),
			C.int64_t(p.n), C.int64_t(p.o), C.int64_t(p.k), &variant)
	})
	return res, int(variant), err
}

// setSchedule sets the emulator's schedule mode.
func setSchedule(spec string) error {
	cs := C.CString(spec)
	defer C.free(unsafe.Pointer(cs))
	return call(func() C.int { return C.mm_set_schedule(cs) })
}

// compiledSource returns the copy of ../matmul.cu (0), ../matmul.cuh (1) or
// ../ptx_wrappers.cuh (2) assembled into the test binary.
func compiledSource(which int) string {
	var n C.size_t
	p := C.mm_source(C.int(which), &n)
	return C.GoStringN(p, C.int(n))
}

// invalidChecks runs the argument-validation checks of harness.cc and
// returns the number of the first failed one (0: all passed).
func invalidChecks() int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return int(C.mm_invalid_checks())
}
