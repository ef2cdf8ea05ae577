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
// clock after a synchronization. Importing the
// package registers the "cuda" backend with backend.Register.
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

// Errors wrapped by the errors of the CUDA backend, one per rwkvcu status.
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

// abiVersion is the RWKVCU_ABI_VERSION these bindings are written for.
const abiVersion = 2

// Error is a failed librwkvcu call.
type Error struct {
	Op     string // the C function
	Status int    // its RWKVCU_ERR_* status
	Msg    string // the library's last-error text
}

func (e *Error) Error() string { return fmt.Sprintf("cuda: %s: %s", e.Op, e.Msg) }

// Unwrap returns the sentinel error of the status.
func (e *Error) Unwrap() error {
	switch e.Status {
	case -1:
		return ErrInvalidArgument
	case -2:
		return ErrNoDevice
	case -3:
		return ErrOutOfMemory
	case -4:
		return ErrLaunch
	case -5:
		return ErrCUDA
	case -6:
		return ErrNotSupported
	}
	return ErrInternal
}

// ptr is an opaque C handle (context, tensor, graph, sampler).
type ptr = unsafe.Pointer

// capi is the C ABI as Go functions, filled by the cgo bindings or by the
// purego loader. Functions return the rwkvcu status.
type capi struct {
	abiVersion     func() uint32
	lastError      func(ctx ptr) string
	contextCreate  func(dev int32, out *ptr) int32
	contextDestroy func(ctx ptr)
	synchronize    func(ctx ptr) int32
	deviceInfo     func(ctx ptr, name *byte, nameLen uintptr, major, minor, sms *int32, mem *uint64, bw, f32, f16 *float64) int32
	stats          func(ctx ptr, out *uint64, n int32) int32

	tensorNew    func(ctx ptr, dt int32, rows, cols int64, out *ptr) int32
	tensorView   func(ctx, t ptr, rows int64, out *ptr) int32
	tensorFree   func(t ptr)
	tensorUpload func(ctx, t ptr, data unsafe.Pointer, n uintptr) int32
	tensorRead   func(ctx, t ptr, row int64, dst *float32, n uintptr) int32
	tensorWrite  func(ctx, t ptr, row int64, src *float32, n uintptr) int32

	embed      func(ctx, out, emb ptr, tokens *int32, n int64) int32
	groupNorm  func(ctx, out, x, w, b ptr, groups int32, eps float32) int32
	matmul     func(ctx, out, x, w ptr) int32
	matmulT    func(ctx, out, x, wt ptr) int32
	mapFn      func(ctx, out, x ptr, fn int32) int32
	zip        func(ctx, out, a, b ptr, fn int32) int32
	slice      func(ctx, out, x ptr, col int64) int32
	gatherRows func(ctx, out, x ptr, rows *int32, n int64) int32
	beginStep  func(ctx ptr, offsets, slots *int32, nseq int32) int32
	shift      func(ctx, prev, x, state ptr, off int64) int32
	mix        func(ctx, out, x, prev, mix ptr, style int32) int32
	mixN       func(ctx ptr, outs *ptr, x, prev ptr, mixes *ptr, count, style int32) int32
	wkv4       func(ctx, out, k, v, w, u, state ptr, off int64) int32
	wkv5       func(ctx, out, r, k, v, w, u, state ptr, off int64, heads int32) int32
	wkv7       func(ctx, out, r, w, k, v, kk, a, state ptr, off int64, heads int32) int32
	keyV7      func(ctx, kk, k, a, kK, kA ptr, heads int32) int32
	valueV7    func(ctx, v, first, gate ptr) int32
	bonusV7    func(ctx, out, r, k, v, rK ptr, heads int32) int32

	samplerCreate  func(ctx ptr, rows, vocab int32, out *ptr) int32
	samplerDestroy func(s ptr)
	samplerSetRow  func(s ptr, row int32, temperature float32, topK int32, topP, minP, repetition, presence, frequency, decay float32, seed, seq uint64) int32
	samplerSetBias func(s ptr, row int32, ids *int32, values *float32, n int32) int32
	samplerObserve func(s ptr, row int32, tokens *int32, n int32) int32
	sample         func(s, logits ptr, step uint64, tokens *int32, probs *float32) int32

	graphBegin    func(ctx ptr, staging uintptr) int32
	graphEnd      func(ctx ptr, out *ptr) int32
	graphInputs   func(g ptr, n *int32) int32
	graphSetInput func(ctx, g ptr, index int32, data unsafe.Pointer, n uintptr) int32
	graphLaunch   func(ctx, g ptr) int32
	graphDestroy  func(g ptr)

	// path returns the file the library was loaded from ("" if unknown).
	path func() string
}

// benchAPI is librwkvcu_bench's C ABI (rwkvcu_bench.h), loaded with purego.
type benchAPI struct {
	abiVersion   func() uint32
	vendorMatmul func(ctx, out, x, w ptr) int32
	timerStart   func(ctx ptr) int32
	timerStop    func(ctx ptr, ms *float32) int32
	flushL2      func(ctx ptr) int32
	attention    func(ctx, out, q, k, v, kc, vc ptr, pos int64, heads int32) int32
}

// cgoAPI is set by the cgo bindings (build tag cuda); nil otherwise.
var cgoAPI *capi
