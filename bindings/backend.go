package bindings

import (
	"errors"
	"fmt"
	"os"
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
	// int32 scratch for row indices and the step's batch (no allocation per step).
	i32a, i32b []int32
	// librwkvcu_bench (benchmark extras), loaded on first use; benchErr says
	// why it is unavailable.
	bench      *benchAPI
	benchErr   error
	benchTried bool
	// Host-clock fallback of the timers without librwkvcu_bench.
	hostT0 time.Time
	// MixN's arrays of handles: outputs in [0, MaxMixN), mixes from
	// MaxMixN. An allocation of its own holding only C pointers, so that
	// cgo's pointer checks allow passing it to C.
	mixH []ptr
}

// Open opens device `device` with the cgo bindings when the binary has
// them, otherwise through the library named by $RWKVGO_CUDA_LIB (or
// librwkvcu.so) loaded at run time. Without either the error wraps
// ErrNotBuilt.
func Open(device int) (*Backend, error) {
	if cgoAPI != nil {
		return open(cgoAPI, device)
	}
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		lib = "librwkvcu.so"
	}
	api, err := loadLibrary(lib)
	if err != nil {
		return nil, fmt.Errorf("%w: no cgo bindings in this binary, and %v", ErrNotBuilt, err)
	}
	return open(api, device)
}

// OpenLibrary loads the librwkvcu shared library at path at run time
// (purego; no cgo needed) and opens device `device` with it.
func OpenLibrary(path string, device int) (*Backend, error) {
	api, err := loadLibrary(path)
	if err != nil {
		return nil, err
	}
	return open(api, device)
}

func open(api *capi, device int) (*Backend, error) {
	if v := api.abiVersion(); v != abiVersion {
		return nil, fmt.Errorf("cuda: librwkvcu has ABI version %d, these bindings need %d", v, abiVersion)
	}
	var ctx ptr
	if rc := api.contextCreate(int32(device), &ctx); rc != 0 {
		return nil, &Error{Op: "rwkvcu_context_create", Status: int(rc), Msg: api.lastError(nil)}
	}
	return &Backend{api: api, ctx: ctx, name: "cuda"}, nil
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
	if rc == 0 {
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

func dtypeCode(dt backend.DType) int32 { return int32(dt) } // F32, F16, BF16 = RWKVCU_F32, _F16, _BF16

// newTensor allocates a tensor; on failure it returns a placeholder whose
// handle is nil (operations on it report errors).
func (b *Backend) newTensor(dt backend.DType, rows, cols int) *tensor {
	t := &tensor{rows: rows, cols: cols, dt: dt}
	if !b.live() {
		return t
	}
	var h ptr
	if b.check("rwkvcu_tensor_new", b.api.tensorNew(b.ctx, dtypeCode(dt), int64(rows), int64(cols), &h)) {
		t.h = h
	}
	return t
}

// Upload copies a [rows, cols] array encoded as dt into a new tensor.
func (b *Backend) Upload(dt backend.DType, rows, cols int, data []byte) backend.Tensor {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols*dt.Size() {
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

// BeginStep sends the step's batch to the device once
// (rwkvcu_begin_step); the step's Shift and WKV operations read it there.
// A malformed batch is recorded as an error, and the operations that follow
// fail (a step with a slot outside an operation's state tensor fails that
// operation).
func (b *Backend) BeginStep(bt backend.Batch) {
	if !b.live() {
		return
	}
	if len(bt.Slots) == 0 || len(bt.Offsets) != len(bt.Slots)+1 {
		b.failf("BeginStep: batch has %d offsets for %d sequences", len(bt.Offsets), len(bt.Slots))
		return
	}
	o, s := ints(&b.i32a, bt.Offsets), ints(&b.i32b, bt.Slots)
	b.check("rwkvcu_begin_step", b.api.beginStep(b.ctx, &o[0], &s[0], int32(len(s))))
}

// Embed sets out[i] = emb[tokens[i]].
func (b *Backend) Embed(out, emb backend.Tensor, tokens []int32) {
	o, e := b.h(out), b.h(emb)
	if !b.live() {
		return
	}
	if len(tokens) == 0 {
		b.failf("Embed: no tokens")
		return
	}
	b.check("rwkvcu_embed", b.api.embed(b.ctx, o, e, &tokens[0], int64(len(tokens))))
}

// LayerNorm normalises each row of x.
func (b *Backend) LayerNorm(out, x, w, bias backend.Tensor, eps float32) {
	b.GroupNorm(out, x, w, bias, 1, eps)
}

// GroupNorm normalises each of groups slices of each row.
func (b *Backend) GroupNorm(out, x, w, bias backend.Tensor, groups int, eps float32) {
	o, xh, wh, bh := b.h(out), b.h(x), b.h(w), b.h(bias)
	if b.live() {
		b.check("rwkvcu_group_norm", b.api.groupNorm(b.ctx, o, xh, wh, bh, int32(groups), eps))
	}
}

// MatMul sets out = x @ w^T.
func (b *Backend) MatMul(out, x, w backend.Tensor) {
	o, xh, wh := b.h(out), b.h(x), b.h(w)
	if b.live() {
		b.check("rwkvcu_matmul", b.api.matmul(b.ctx, o, xh, wh))
	}
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
		return &Error{Op: "rwkvcu_vendor_matmul", Status: -6 /* RWKVCU_ERR_NOT_SUPPORTED */, Msg: b.benchErr.Error()}
	}
	rc := ba.vendorMatmul(b.ctx, o, xh, wh)
	if rc == 0 {
		return nil
	}
	err := &Error{Op: "rwkvcu_vendor_matmul", Status: int(rc), Msg: b.api.lastError(b.ctx)}
	if !errors.Is(err, ErrNotSupported) {
		b.err = err
	}
	return err
}

// MatMulT sets out = x @ wt.
func (b *Backend) MatMulT(out, x, wt backend.Tensor) {
	o, xh, wh := b.h(out), b.h(x), b.h(wt)
	if b.live() {
		b.check("rwkvcu_matmul_t", b.api.matmulT(b.ctx, o, xh, wh))
	}
}

// Map sets out = f(x) elementwise.
func (b *Backend) Map(out, x backend.Tensor, f backend.Unary) {
	o, xh := b.h(out), b.h(x)
	if b.live() {
		b.check("rwkvcu_map", b.api.mapFn(b.ctx, o, xh, int32(f)))
	}
}

// Zip sets out = f(a, b) elementwise with b broadcast over rows if [1, cols].
func (b *Backend) Zip(out, a, bb backend.Tensor, f backend.Binary) {
	o, ah, bh := b.h(out), b.h(a), b.h(bb)
	if b.live() {
		b.check("rwkvcu_zip", b.api.zip(b.ctx, o, ah, bh, int32(f)))
	}
}

// Slice copies columns [col, col+out.Cols()) of x into out.
func (b *Backend) Slice(out, x backend.Tensor, col int) {
	o, xh := b.h(out), b.h(x)
	if b.live() {
		b.check("rwkvcu_slice", b.api.slice(b.ctx, o, xh, int64(col)))
	}
}

// GatherRows copies rows rows[i] of x into row i of out.
func (b *Backend) GatherRows(out, x backend.Tensor, rows []int) {
	o, xh := b.h(out), b.h(x)
	if !b.live() {
		return
	}
	if len(rows) == 0 {
		b.failf("GatherRows: no rows")
		return
	}
	r := ints(&b.i32a, rows)
	b.check("rwkvcu_gather_rows", b.api.gatherRows(b.ctx, o, xh, &r[0], int64(len(r))))
}

// Shift is the token shift (see backend.Backend).
func (b *Backend) Shift(prev, x, state backend.Tensor, off int) {
	p, xh, st := b.h(prev), b.h(x), b.h(state)
	if !b.live() {
		return
	}
	b.check("rwkvcu_shift", b.api.shift(b.ctx, p, xh, st, int64(off)))
}

// Mix interpolates between x and prev.
func (b *Backend) Mix(out, x, prev, mix backend.Tensor, style backend.MixStyle) {
	o, xh, p, m := b.h(out), b.h(x), b.h(prev), b.h(mix)
	if b.live() {
		b.check("rwkvcu_mix", b.api.mix(b.ctx, o, xh, p, m, int32(style)))
	}
}

// MixN computes several mixes of x and prev in one launch (rwkvcu_mix_n).
func (b *Backend) MixN(outs []backend.Tensor, x, prev backend.Tensor, mixes []backend.Tensor, style backend.MixStyle) {
	if len(outs) != len(mixes) || len(outs) > backend.MaxMixN {
		b.failf("MixN: %d outputs and %d mixes, want the same number in [1, %d]", len(outs), len(mixes), backend.MaxMixN)
		return
	}
	if b.mixH == nil {
		b.mixH = make([]ptr, 2*backend.MaxMixN)
	}
	xh, p := b.h(x), b.h(prev)
	hs, hm := b.mixH[:backend.MaxMixN], b.mixH[backend.MaxMixN:]
	for j := range outs {
		hs[j], hm[j] = b.h(outs[j]), b.h(mixes[j])
	}
	if b.live() {
		b.check("rwkvcu_mix_n", b.api.mixN(b.ctx, &hs[0], xh, p, &hm[0], int32(len(outs)), int32(style)))
	}
}

// WKV4 runs the RWKV-4 recurrence.
func (b *Backend) WKV4(out, k, v, w, u, state backend.Tensor, off int) {
	o, kh, vh, wh, uh, st := b.h(out), b.h(k), b.h(v), b.h(w), b.h(u), b.h(state)
	if !b.live() {
		return
	}
	b.check("rwkvcu_wkv4", b.api.wkv4(b.ctx, o, kh, vh, wh, uh, st, int64(off)))
}

// WKV5 runs the RWKV-5/6 recurrence.
func (b *Backend) WKV5(out, r, k, v, w, u, state backend.Tensor, off, heads int) {
	o, rh, kh, vh, wh, uh, st := b.h(out), b.h(r), b.h(k), b.h(v), b.h(w), b.h(u), b.h(state)
	if !b.live() {
		return
	}
	b.check("rwkvcu_wkv5", b.api.wkv5(b.ctx, o, rh, kh, vh, wh, uh, st, int64(off), int32(heads)))
}

// WKV7 runs the RWKV-7 recurrence.
func (b *Backend) WKV7(out, r, w, k, v, kk, a, state backend.Tensor, off, heads int) {
	o, rh, wh, kh, vh, kkh, ah, st := b.h(out), b.h(r), b.h(w), b.h(k), b.h(v), b.h(kk), b.h(a), b.h(state)
	if !b.live() {
		return
	}
	b.check("rwkvcu_wkv7", b.api.wkv7(b.ctx, o, rh, wh, kh, vh, kkh, ah, st, int64(off), int32(heads)))
}

// KeyV7 computes RWKV-7's key preprocessing.
func (b *Backend) KeyV7(kk, k, a, kK, kA backend.Tensor, heads int) {
	kkh, kh, ah, kKh, kAh := b.h(kk), b.h(k), b.h(a), b.h(kK), b.h(kA)
	if b.live() {
		b.check("rwkvcu_key_v7", b.api.keyV7(b.ctx, kkh, kh, ah, kKh, kAh, int32(heads)))
	}
}

// ValueV7 applies RWKV-7's value residual.
func (b *Backend) ValueV7(v, first, gate backend.Tensor) {
	vh, fh, gh := b.h(v), b.h(first), b.h(gate)
	if b.live() {
		b.check("rwkvcu_value_v7", b.api.valueV7(b.ctx, vh, fh, gh))
	}
}

// BonusV7 adds RWKV-7's bonus term.
func (b *Backend) BonusV7(out, r, k, v, rK backend.Tensor, heads int) {
	o, rh, kh, vh, rKh := b.h(out), b.h(r), b.h(k), b.h(v), b.h(rK)
	if b.live() {
		b.check("rwkvcu_bonus_v7", b.api.bonusV7(b.ctx, o, rh, kh, vh, rKh, int32(heads)))
	}
}

// benchLib returns librwkvcu_bench, loading it on first use; nil (and
// b.benchErr set, wrapping ErrNotSupported) when it is unavailable.
func (b *Backend) benchLib() *benchAPI {
	if !b.benchTried {
		b.benchTried = true
		path := ""
		if b.api.path != nil {
			path = b.api.path()
		}
		b.bench, b.benchErr = loadBench(path)
	}
	return b.bench
}

// Attention is causal softmax attention over a KV cache (backend.Attender),
// run by librwkvcu_bench (rwkvcu_attention); without that library it
// records an error wrapping ErrNotSupported.
func (b *Backend) Attention(out, q, k, v, kc, vc backend.Tensor, pos, heads int) {
	o, qh, kh, vh, kch, vch := b.h(out), b.h(q), b.h(k), b.h(v), b.h(kc), b.h(vc)
	if !b.live() {
		return
	}
	ba := b.benchLib()
	if ba == nil {
		b.err = &Error{Op: "rwkvcu_attention", Status: -6 /* RWKVCU_ERR_NOT_SUPPORTED */, Msg: b.benchErr.Error()}
		return
	}
	b.check("rwkvcu_attention", ba.attention(b.ctx, o, qh, kh, vh, kch, vch, int64(pos), int32(heads)))
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

// statCount is RWKVCU_STAT_COUNT; the indices below are RWKVCU_STAT_*.
const statCount = 8

// Stats returns the context's counters (backend.StatsReporter); zero after
// Close.
func (b *Backend) Stats() backend.Stats {
	var v [statCount]uint64
	if b.ctx == nil || b.api.stats(b.ctx, &v[0], int32(len(v))) != 0 {
		return backend.Stats{}
	}
	return backend.Stats{
		LiveTensors: v[0], LiveDeviceBytes: v[1], Allocations: v[2], KernelLaunches: v[3],
		GraphLaunches: v[4], HostSyncs: v[5], H2DBytes: v[6], D2HBytes: v[7],
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
