package bindings

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// tensor is a CUDA tensor: a librwkvcu handle and its shape.
type tensor struct {
	h          ptr
	rows, cols int
	dt         backend.DType
	view       bool
}

func (t *tensor) Rows() int            { return t.rows }
func (t *tensor) Cols() int            { return t.cols }
func (t *tensor) DType() backend.DType { return t.dt }

// Backend runs the RWKV operations on one CUDA device (or the emulator)
// through librwkvcu. Operations are queued on the context's stream; Read
// waits for them. It is not safe for concurrent use.
type Backend struct {
	api  *capi
	ctx  ptr
	err  error
	name string
	// lib is the file the library was loaded from ("" if unknown).
	lib string
	// int32 scratch for the generated operations' []int and Batch
	// arguments (no allocation per step).
	i32 [2][]int32
	// The generated operations' arrays of handles ([]Tensor arguments),
	// each an allocation of its own holding only C pointers, so that
	// cgo's pointer checks allow passing it to C.
	hs [4][]ptr
	// MatMulGroup's arrays (products.go), allocated on first use.
	grp struct {
		outs, xs, ws, biases, lerps []ptr
		acts                        []int32
	}
	// librwkvcu_bench (benchmark extras), loaded on first use; benchErr says
	// why it is unavailable.
	bench      *benchAPI
	benchErr   error
	benchTried bool
	// Host-clock fallback of the timers without librwkvcu_bench.
	hostT0 time.Time
	// fp8: the device takes F8E4M3 weights (rwkvcu_dtype_supported).
	fp8 bool
}

// Open opens device `device` with the cgo bindings when the binary has
// them, otherwise through the library named by $RWKVGO_CUDA_LIB (or
// librwkvcu.so) loaded at run time. Without either the error wraps
// ErrNotBuilt.
func Open(device int) (*Backend, error) {
	if cgoAPI != nil {
		return open(cgoAPI, cgoLibraryPath(), device)
	}
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		lib = "librwkvcu.so"
	}
	api, err := loadLibrary(lib)
	if err != nil {
		return nil, fmt.Errorf("%w: no cgo bindings in this binary, and %v", ErrNotBuilt, err)
	}
	return open(api, lib, device)
}

// OpenLibrary loads the librwkvcu shared library at path at run time
// (purego; no cgo needed) and opens device `device` with it.
func OpenLibrary(path string, device int) (*Backend, error) {
	api, err := loadLibrary(path)
	if err != nil {
		return nil, err
	}
	return open(api, path, device)
}

// createContext calls rwkvcu_context_create and, when it fails, reads the
// library's message on the same OS thread: without a context the library
// keeps it per thread, and a goroutine may move to another thread between
// two calls into C.
func createContext(api *capi, device int, ctx *ptr) (rc int32, msg string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc = api.contextCreate(int32(device), ctx); rc != StatusOK {
		msg = api.lastError(nil)
	}
	return rc, msg
}

// open creates a context on device with the library's functions api
// loaded from the file lib.
func open(api *capi, lib string, device int) (*Backend, error) {
	if v := api.abiVersion(); v != cABIVersion {
		return nil, fmt.Errorf("cuda: librwkvcu has ABI version %d, these bindings need %d", v, cABIVersion)
	}
	var ctx ptr
	if rc, msg := createContext(api, device, &ctx); rc != StatusOK {
		return nil, &Error{Op: "rwkvcu_context_create", Status: int(rc), Msg: msg}
	}
	b := &Backend{api: api, lib: lib, ctx: ctx, name: "cuda"}
	var ok int32
	if api.dtypeSupported(ctx, cF8E4M3, &ok) == StatusOK {
		b.fp8 = ok != 0
	}
	return b, nil
}

func init() {
	backend.Register("cuda", func(int) (backend.Backend, error) {
		b, err := Open(0)
		if errors.Is(err, ErrNotBuilt) {
			return nil, fmt.Errorf("cuda %w: %s", backend.ErrNotBuilt, strings.TrimPrefix(err.Error(), ErrNotBuilt.Error()+": "))
		}
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// Name returns "cuda".
func (b *Backend) Name() string { return b.name }

// Err returns and clears the first recorded error.
func (b *Backend) Err() error {
	err := b.err
	b.err = nil
	return err
}

// Close destroys the context. Every tensor must have been freed or be
// abandoned; the device memory of abandoned tensors is not reclaimed.
func (b *Backend) Close() error {
	if b.ctx == nil {
		return nil
	}
	b.api.contextDestroy(b.ctx)
	b.ctx = nil
	return nil
}

// check records the error of a call that returned rc.
func (b *Backend) check(op string, rc int32) bool {
	if rc == StatusOK {
		return true
	}
	if b.err == nil {
		b.err = &Error{Op: op, Status: int(rc), Msg: b.api.lastError(b.ctx)}
	}
	return false
}

func (b *Backend) failf(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("cuda: "+format, args...)
	}
}

// h returns the handle of x (nil, and an error recorded, for a foreign tensor).
func (b *Backend) h(x backend.Tensor) ptr {
	t, ok := x.(*tensor)
	if !ok || t == nil {
		b.failf("tensor %T does not belong to the cuda backend", x)
		return nil
	}
	return t.h
}

// live reports whether operations should run (no error pending, context open).
func (b *Backend) live() bool {
	if b.ctx == nil {
		b.failf("backend is closed")
	}
	return b.err == nil
}

// newTensor allocates a tensor; on failure it returns a placeholder whose
// handle is nil (operations on it report errors).
func (b *Backend) newTensor(dt backend.DType, rows, cols int) *tensor {
	t := &tensor{rows: rows, cols: cols, dt: dt}
	if !b.live() {
		return t
	}
	code, ok := dtypeCode(dt)
	if !ok {
		b.failf("element type %s not supported", dt)
		return t
	}
	var h ptr
	if b.check("rwkvcu_tensor_new", b.api.tensorNew(b.ctx, code, int64(rows), int64(cols), &h)) {
		t.h = h
	}
	return t
}

// Supports reports whether Upload takes weights of type dt: F32, F16, BF16,
// I8 (RWKVCU_I8: the same planar encoding, codes then row scales) and, on
// devices of compute capability 8.9 or later and in the emulated library,
// F8E4M3 (RWKVCU_F8E4M3, the same layout), and the block-quantized types
// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 (RWKVCU_Q4_0 ...: the file's blocks,
// kept as they are on the device and decoded in registers by Embed, MatMul
// and MatMulGroup; MatMulT refuses them).
func (b *Backend) Supports(dt backend.DType) bool {
	switch dt {
	case backend.F32, backend.F16, backend.BF16, backend.I8,
		backend.Q4_0, backend.Q4_1, backend.Q5_0, backend.Q5_1, backend.Q8_0:
		return true
	case backend.F8E4M3:
		return b.fp8
	}
	return false
}

var _ backend.DTypeSupporter = (*Backend)(nil)

// Upload copies a [rows, cols] array encoded as dt into a new tensor.
func (b *Backend) Upload(dt backend.DType, rows, cols int, data []byte) backend.Tensor {
	if !b.Supports(dt) {
		b.failf("Upload: %s weights: %w", dt, ErrNotSupported)
		return &tensor{rows: max(rows, 1), cols: max(cols, 1)}
	}
	if rb := dt.RowBytes(cols); rows <= 0 || cols <= 0 || rb <= 0 || len(data) != rows*rb {
		b.failf("Upload: %d bytes for %s[%d, %d]", len(data), dt, rows, cols)
		return &tensor{rows: max(rows, 1), cols: max(cols, 1)}
	}
	t := b.newTensor(dt, rows, cols)
	if t.h != nil {
		b.check("rwkvcu_tensor_upload", b.api.tensorUpload(b.ctx, t.h, unsafe.Pointer(&data[0]), uintptr(len(data))))
	}
	return t
}

// UploadF32 copies float32 values into a new F32 tensor.
func (b *Backend) UploadF32(rows, cols int, data []float32) backend.Tensor {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols {
		b.failf("UploadF32: %d values for [%d, %d]", len(data), rows, cols)
		return &tensor{rows: max(rows, 1), cols: max(cols, 1)}
	}
	return b.Upload(backend.F32, rows, cols, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
}

// New returns a zeroed F32 tensor.
func (b *Backend) New(rows, cols int) backend.Tensor {
	if rows <= 0 || cols <= 0 {
		b.failf("New: shape [%d, %d]", rows, cols)
		return &tensor{rows: max(rows, 1), cols: max(cols, 1)}
	}
	return b.newTensor(backend.F32, rows, cols)
}

// View returns the first rows rows of t.
func (b *Backend) View(x backend.Tensor, rows int) backend.Tensor {
	h := b.h(x)
	v := &tensor{rows: rows, cols: x.Cols(), dt: x.DType(), view: true}
	if h == nil || !b.live() {
		return v
	}
	var out ptr
	if b.check("rwkvcu_tensor_view", b.api.tensorView(b.ctx, h, int64(rows), &out)) {
		v.h = out
	}
	return v
}

// Read copies rows starting at row of an F32 tensor into dst (waits for queued work).
func (b *Backend) Read(x backend.Tensor, row int, dst []float32) {
	h := b.h(x)
	if h == nil || !b.live() || len(dst) == 0 {
		return
	}
	b.check("rwkvcu_tensor_read", b.api.tensorRead(b.ctx, h, int64(row), &dst[0], uintptr(len(dst))))
}

// Write copies src into rows starting at row of an F32 tensor.
func (b *Backend) Write(x backend.Tensor, row int, src []float32) {
	h := b.h(x)
	if h == nil || !b.live() || len(src) == 0 {
		return
	}
	b.check("rwkvcu_tensor_write", b.api.tensorWrite(b.ctx, h, int64(row), &src[0], uintptr(len(src))))
}

// Free releases a tensor (nil-safe).
func (b *Backend) Free(x backend.Tensor) {
	t, ok := x.(*tensor)
	if !ok || t == nil || t.h == nil {
		return
	}
	b.api.tensorFree(t.h)
	t.h = nil
}

// handles returns the handles of ts in scratch array i (grown as needed);
// a foreign tensor records an error.
func (b *Backend) handles(i int, ts []backend.Tensor) []ptr {
	if cap(b.hs[i]) < len(ts) {
		b.hs[i] = make([]ptr, len(ts))
	}
	hs := b.hs[i][:len(ts)]
	for j, t := range ts {
		hs[j] = b.h(t)
	}
	return hs
}

// ints converts v to int32 in buf (grown as needed).
func ints(buf *[]int32, v []int) []int32 {
	if cap(*buf) < len(v) {
		*buf = make([]int32, len(v))
	}
	out := (*buf)[:len(v)]
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// VendorMatMul sets out = x @ w^T like MatMul, computed by cuBLAS
// (rwkvcu_vendor_matmul): the vendor baseline of the kernel benchmarks
// (backend.VendorMatMuler). When the library cannot run it at all (the
// emulated library has no cuBLAS; I8 weights; librwkvcu_bench not found)
// it queues nothing, records nothing and returns an
// error wrapping ErrNotSupported. Other failures are recorded like
// MatMul's and also returned.
func (b *Backend) VendorMatMul(out, x, w backend.Tensor) error {
	o, xh, wh := b.h(out), b.h(x), b.h(w)
	if !b.live() {
		return b.err
	}
	ba := b.benchLib()
	if ba == nil {
		return &Error{Op: "rwkvcu_vendor_matmul", Status: StatusNotSupported, Msg: b.benchErr.Error()}
	}
	rc := ba.vendorMatmul(b.ctx, o, xh, wh)
	if rc == StatusOK {
		return nil
	}
	err := &Error{Op: "rwkvcu_vendor_matmul", Status: int(rc), Msg: b.api.lastError(b.ctx)}
	if !errors.Is(err, ErrNotSupported) {
		b.err = err
	}
	return err
}

// benchLib returns librwkvcu_bench, loading it on first use; nil (and
// b.benchErr set, wrapping ErrNotSupported) when it is unavailable.
func (b *Backend) benchLib() *benchAPI {
	if !b.benchTried {
		b.benchTried = true
		b.bench, b.benchErr = loadBench(b.lib)
	}
	return b.bench
}

// Sync waits for all queued work and returns its error (backend.Syncer).
func (b *Backend) Sync() error {
	if b.live() {
		b.check("rwkvcu_synchronize", b.api.synchronize(b.ctx))
	}
	return b.Err()
}

// StartTimer records a start event (backend.EventTimer). Without
// librwkvcu_bench it waits for the queued work and reads the host clock.
func (b *Backend) StartTimer() {
	if !b.live() {
		return
	}
	if ba := b.benchLib(); ba != nil {
		b.check("rwkvcu_timer_start", ba.timerStart(b.ctx))
		return
	}
	if b.check("rwkvcu_synchronize", b.api.synchronize(b.ctx)) {
		b.hostT0 = time.Now()
	}
}

// StopTimer records a stop event and returns the device time since
// StartTimer (without librwkvcu_bench: the host time, after waiting for the
// queued work).
func (b *Backend) StopTimer() (time.Duration, error) {
	if !b.live() {
		return 0, b.Err()
	}
	if ba := b.benchLib(); ba != nil {
		var ms float32
		b.check("rwkvcu_timer_stop", ba.timerStop(b.ctx, &ms))
		return time.Duration(float64(ms) * float64(time.Millisecond)), b.Err()
	}
	b.check("rwkvcu_synchronize", b.api.synchronize(b.ctx))
	return time.Since(b.hostT0), b.Err()
}

// FlushL2 evicts the device's L2 cache (nothing without librwkvcu_bench).
func (b *Backend) FlushL2() {
	if !b.live() {
		return
	}
	if ba := b.benchLib(); ba != nil {
		b.check("rwkvcu_flush_l2", ba.flushL2(b.ctx))
	}
}

// Stats returns the context's counters (backend.StatsReporter); zero after
// Close.
func (b *Backend) Stats() backend.Stats {
	var v [cStatCount]uint64
	if b.ctx == nil || b.api.stats(b.ctx, &v[0], int32(len(v))) != StatusOK {
		return backend.Stats{}
	}
	return backend.Stats{
		LiveTensors: v[cStatLiveTensors], LiveDeviceBytes: v[cStatLiveDeviceBytes], Allocations: v[cStatAllocations],
		KernelLaunches: v[cStatKernelLaunches], GraphLaunches: v[cStatGraphLaunches], HostSyncs: v[cStatHostSyncs],
		H2DBytes: v[cStatH2DBytes], D2HBytes: v[cStatD2HBytes],
	}
}

// DeviceInfo describes the device (backend.DeviceReporter).
func (b *Backend) DeviceInfo() backend.DeviceInfo {
	var d backend.DeviceInfo
	if !b.live() {
		return d
	}
	name := make([]byte, 256)
	var major, minor, sms int32
	var mem uint64
	var bw, f32, f16 float64
	if b.check("rwkvcu_device_info", b.api.deviceInfo(b.ctx, &name[0], uintptr(len(name)), &major, &minor, &sms, &mem, &bw, &f32, &f16)) {
		d.Name = strings.TrimRight(string(name), "\x00")
		d.PeakBytesPerSec, d.PeakFLOPs = bw, f32
		d.PeakSource = fmt.Sprintf("device attributes (sm_%d%d, %d SMs)", major, minor, sms)
	}
	return d
}

var (
	_ backend.Backend        = (*Backend)(nil)
	_ backend.Syncer         = (*Backend)(nil)
	_ backend.EventTimer     = (*Backend)(nil)
	_ backend.DeviceReporter = (*Backend)(nil)
	_ backend.VendorMatMuler = (*Backend)(nil)
	_ backend.Attender       = (*Backend)(nil)
	_ backend.StatsReporter  = (*Backend)(nil)
)
