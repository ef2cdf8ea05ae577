// Package bindings is rwkvgo's CUDA backend: a backend.Backend over the C ABI
// of librwkvcu (csrc/include/rwkvcu.h), the project's CUDA kernels.
//
// Two ways reach the library:
//
//   - cgo, with the build tag cuda: the binary links librwkvcu (the real
//     library, build/cuda, made by `make cuda`) or, with the tags cuda and
//     cuemu, librwkvcu_emu (the same kernels on the CPU emulator, build/emu,
//     made by `make emu`). This is the only package with `import "C"`.
//   - purego, in any build (also CGO_ENABLED=0): OpenLibrary loads the
//     library at run time; Open does so from $RWKVGO_CUDA_LIB (or
//     librwkvcu.so on the default search path) when the binary has no cgo
//     bindings.
//
// Without either, Open returns an error wrapping ErrNotBuilt.
//
// The benchmarks' extras (cuBLAS baseline, event timers, L2 flush,
// attention) are in a separate library, librwkvcu_bench
// (csrc/include/rwkvcu_bench.h), always opened with purego on first use:
// from $RWKVGO_CUDA_BENCH_LIB, or next to the product library
// (librwkvcu_bench.so beside librwkvcu.so, librwkvcu_bench_emu.so beside
// librwkvcu_emu.so). Without it VendorMatMul reports ErrNotSupported,
// Attention fails with ErrNotSupported, and the timers fall back to the host
// clock after a synchronization. Importing the package registers the "cuda"
// backend with backend.Register.
//
// Errors follow the backend package's sticky convention; each carries the
// library's last-error text and wraps one of ErrInvalidArgument,
// ErrNoDevice, ErrOutOfMemory, ErrLaunch, ErrCUDA, ErrNotSupported or
// ErrInternal.
package bindings

import (
	"errors"
	"fmt"
	"unsafe"
)

// The C ABI's Go mirror is generated from csrc/include/rwkvcu.h (and
// rwkvcu_bench.h when present) and the interfaces of engine/backend:
// zapi.go (constants, status codes, Error.Unwrap, the function table capi),
// zpurego.go (the purego binding tables), zcgo.go (the cgo bindings) and
// zops.go (every operation not written by hand in this package). See
// internal/cmd/abigen for the rules.
//go:generate go run ../internal/cmd/abigen bindings -header ../csrc/include/rwkvcu.h -bench-header ../csrc/include/rwkvcu_bench.h -backend ../engine/backend -iface Backend,Attender,FusedV7,FusedV5,FusedV6,FusedElementwise,FusedNorm,FusedNormLoRA,FusedProducts

// Errors wrapped by the errors of the CUDA backend, one per rwkvcu status:
// an Error with status RWKVCU_ERR_NAME unwraps to ErrName (a status code
// added to rwkvcu.h needs its sentinel here).
var (
	ErrNotBuilt        = errors.New("cuda backend not built")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrNoDevice        = errors.New("no CUDA device")
	ErrOutOfMemory     = errors.New("out of device memory")
	ErrLaunch          = errors.New("kernel launch failed")
	ErrCUDA            = errors.New("CUDA error")
	ErrNotSupported    = errors.New("not supported")
	ErrInternal        = errors.New("internal error in librwkvcu")
)

// Error is a failed librwkvcu call.
type Error struct {
	Op     string // the C function
	Status int    // its RWKVCU_ERR_* status (StatusInvalidArgument, ...)
	Msg    string // the library's last-error text
}

func (e *Error) Error() string { return fmt.Sprintf("cuda: %s: %s", e.Op, e.Msg) }

// ptr is an opaque C handle (context, tensor, graph, sampler).
type ptr = unsafe.Pointer

// cgoAPI is set by the cgo bindings (build tag cuda); nil otherwise.
var cgoAPI *capi

// cgoLibraryPath names the file of the library the cgo bindings link ("" if
// unknown or without them).
var cgoLibraryPath = func() string { return "" }
