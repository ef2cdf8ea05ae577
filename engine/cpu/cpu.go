// Package cpu is the production CPU backend: pure Go with SIMD kernels
// (AVX2/FMA/F16C assembly selected at run time, a portable fallback
// elsewhere). It is the default backend and the correctness oracle for every
// other backend. Activations and state are float32; weight matrices stay in
// their stored type (F32, F16, BF16, a block-quantized type: Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, or I8: int8 with a scale per row) and are widened on the
// fly inside the matrix kernels.
// Weights can be used in place from the caller's memory, such as a
// memory-mapped file (Borrow); a read of such memory that faults (the file
// shrank under its mapping) is recorded as an error wrapping
// backend.ErrWeightsUnreadable instead of crashing the process. Matrix
// products are split across goroutines; sums inside norms are accumulated
// in float64. Steady-state decoding allocates nothing.
package cpu

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// tensor is the cpu backend's Tensor: a row-major array in host memory.
type tensor struct {
	rows, cols int
	dt         backend.DType
	f32        []float32 // F32 data
	u16        []uint16  // F16 / BF16 data
	q          []byte    // block-quantized data: rows of dt.RowBytes(cols) bytes
	i8         []int8    // I8 codes, row-major
	scl        []float32 // I8 row scales
	view       bool
	// borrowed: the data is the caller's memory (Borrow), read-only.
	borrowed bool
}

func (t *tensor) Rows() int            { return t.rows }
func (t *tensor) Cols() int            { return t.cols }
func (t *tensor) DType() backend.DType { return t.dt }
func (t *tensor) row(i int) []float32  { return t.f32[i*t.cols : (i+1)*t.cols] }
func (t *tensor) String() string       { return fmt.Sprintf("%s[%d, %d]", t.dt, t.rows, t.cols) }

// HostBytes returns the tensor's memory as bytes (for tests and diagnostics:
// it shows whether a weight was borrowed in place).
func (t *tensor) HostBytes() []byte {
	switch {
	case t.i8 != nil:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.i8))), len(t.i8))
	case t.q != nil:
		return t.q
	case t.u16 != nil:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.u16))), 2*len(t.u16))
	case t.f32 != nil:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.f32))), 4*len(t.f32))
	}
	return nil
}
func (t *tensor) broadcast(i int) []float32 { // row i, or the only row of a [1, C] vector
	if t.rows == 1 {
		return t.f32[:t.cols]
	}
	return t.row(i)
}

// Backend is the pure-Go backend. It is not safe for concurrent use: one graph
// step at a time (matrix products run in parallel inside a step).
type Backend struct {
	pool *pool
	err  error
	mm   matmulTask
	mmT  matmulTTask
	// MatMulT with one token: indices and values of its non-zero inputs.
	nzIdx []int32
	nzVal []float32
	// MatMulT of an I8 weight with several tokens: x times the row scales.
	xScaled []float32
	wkv     wkvTask
	attn    attnTask
	// group is MatMulGroup's task; groupTmp holds the products of its
	// Lerp entries (grown as needed).
	group    groupTask
	groupTmp []float32
	// attnScores is Attention's score scratch, grown as needed.
	attnScores []float32
	// step is the batch set by BeginStep (stepSet: one was set).
	step    backend.Batch
	stepSet bool
}

// Option configures a Backend.
type Option func(*Backend)

// New returns a pure-Go backend using threads goroutines for matrix work
// (threads <= 0 means runtime.GOMAXPROCS(0)).
func New(threads int) *Backend {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	b := &Backend{pool: newPool(threads)}
	return b
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Err returns and clears the first recorded error.
func (b *Backend) Err() error {
	err := b.err
	b.err = nil
	return err
}

// Close stops the worker goroutines.
func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

// runSized runs a task on the pool (see pool.runSized) and records a memory
// fault one of its chunks hit (reading a borrowed weight whose file shrank).
func (b *Backend) runSized(t rangeTask, chunks, work int) {
	b.pool.runSized(t, chunks, work)
	if err := b.pool.takeFault(); err != nil && b.err == nil {
		b.err = fmt.Errorf("cpu: %w", err)
	}
}

// recoverFault is deferred, with the goroutine's previous
// debug.SetPanicOnFault setting, by operations that read borrowed weights on
// the calling goroutine: it restores the setting and records a memory fault
// as the backend's error; any other panic goes on.
func (b *Backend) recoverFault(old bool) {
	debug.SetPanicOnFault(old)
	r := recover()
	if r == nil {
		return
	}
	err := backend.FaultError(r)
	if err == nil {
		panic(r)
	}
	if b.err == nil {
		b.err = fmt.Errorf("cpu: %w", err)
	}
}

func (b *Backend) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("cpu: "+format, args...)
	}
}

func (b *Backend) t(x backend.Tensor) *tensor {
	t, ok := x.(*tensor)
	if !ok || t == nil {
		if b.err == nil {
			b.err = errors.New("cpu: tensor does not belong to the cpu backend")
		}
		return nil
	}
	return t
}

// ok checks that every tensor belongs to this backend, is F32, has cols
// columns (cols < 0: any) and rows rows (rows < 0: any).
func (b *Backend) ok(op string, rows, cols int, ts ...backend.Tensor) bool {
	if b.err != nil {
		return false
	}
	for _, x := range ts {
		t := b.t(x)
		if t == nil {
			return false
		}
		if t.dt != backend.F32 {
			b.fail("%s: operand %v must be F32", op, t)
			return false
		}
		if t.borrowed {
			b.fail("%s: operand %v is a borrowed (read-only) weight", op, t)
			return false
		}
		if (cols >= 0 && t.cols != cols) || (rows >= 0 && t.rows != rows) {
			b.fail("%s: operand %v, want [%d, %d]", op, t, rows, cols)
			return false
		}
	}
	return true
}

// okRow is ok for an operand that may also be a [1, cols] vector broadcast over rows.
func (b *Backend) okRow(op string, rows, cols int, x backend.Tensor) bool {
	if t := b.t(x); t != nil && t.rows == 1 {
		rows = 1
	}
	return b.ok(op, rows, cols, x)
}

// Supports reports whether Upload and Borrow take weights of type dt: F32,
// F16, BF16, every block-quantized type and I8 (not F8E4M3).
func (b *Backend) Supports(dt backend.DType) bool { return dt.BlockBytes() > 0 && dt != backend.F8E4M3 }

// checkEncoded reports whether data is the encoding of a [rows, cols] array
// of type dt, recording an error otherwise.
func (b *Backend) checkEncoded(op string, dt backend.DType, rows, cols int, data []byte) bool {
	if !b.Supports(dt) {
		b.fail("%s: unsupported dtype %s", op, dt)
		return false
	}
	rb := dt.RowBytes(cols)
	if rows <= 0 || rb <= 0 || rows > math.MaxInt/rb || len(data) != rows*rb {
		b.fail("%s: %d bytes for %s[%d, %d]", op, len(data), dt, rows, cols)
		return false
	}
	return true
}

// placeholder is what a failed Upload returns: a tensor of the asked shape
// (at least 1x1) that operations can touch harmlessly.
func placeholder(rows, cols int) *tensor {
	rows, cols = max(rows, 1), max(cols, 1)
	if rows > 1<<16 || cols > 1<<16 {
		rows, cols = 1, 1
	}
	return &tensor{rows: rows, cols: cols, dt: backend.F32, f32: make([]float32, rows*cols)}
}

// Upload copies encoded data into a new tensor.
func (b *Backend) Upload(dt backend.DType, rows, cols int, data []byte) backend.Tensor {
	if !b.checkEncoded("Upload", dt, rows, cols, data) {
		return placeholder(rows, cols)
	}
	n := rows * cols
	t := &tensor{rows: rows, cols: cols, dt: dt}
	switch dt {
	case backend.F32:
		t.f32 = make([]float32, n)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&t.f32[0])), 4*n), data)
	case backend.F16, backend.BF16:
		t.u16 = make([]uint16, n)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&t.u16[0])), 2*n), data)
	case backend.I8:
		t.i8 = make([]int8, n)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&t.i8[0])), n), data)
		t.scl = i8Scales(data, rows, cols)
	default:
		t.q = append([]byte(nil), data...)
	}
	return t
}

// unalignedOK: the CPU loads float32 and 16-bit values from any address (Go
// allows unaligned slices of pointer-free types), so Borrow takes F32 and
// 16-bit data at any offset, as rwkv.cpp's format (which does not align
// tensors) needs.
const unalignedOK = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// Borrow returns a read-only tensor over data without copying it (see
// backend.Borrower). On CPUs other than amd64 and arm64, F32 data must be
// 4-byte aligned and F16 and BF16 data 2-byte aligned, else ok is false and
// the caller uploads a copy. A malformed shape or length is recorded as an
// error, as Upload does.
func (b *Backend) Borrow(dt backend.DType, rows, cols int, data []byte) (backend.Tensor, bool) {
	if !b.checkEncoded("Borrow", dt, rows, cols, data) {
		return placeholder(rows, cols), true
	}
	n := rows * cols
	p := unsafe.Pointer(unsafe.SliceData(data))
	t := &tensor{rows: rows, cols: cols, dt: dt, borrowed: true}
	switch dt {
	case backend.F32:
		if !unalignedOK && uintptr(p)%4 != 0 {
			return nil, false
		}
		t.f32 = unsafe.Slice((*float32)(p), n)
	case backend.F16, backend.BF16:
		if !unalignedOK && uintptr(p)%2 != 0 {
			return nil, false
		}
		t.u16 = unsafe.Slice((*uint16)(p), n)
	case backend.I8:
		// The codes in place; the scales (4 bytes a row) are copied.
		t.i8 = unsafe.Slice((*int8)(p), n)
		t.scl = i8Scales(data, rows, cols)
	default:
		t.q = data[:len(data):len(data)]
	}
	return t, true
}

// i8Scales decodes the row scales of an encoded I8 [rows, cols] matrix.
func i8Scales(data []byte, rows, cols int) []float32 {
	_, s := blockfmt.SplitI8(data, rows, cols)
	return s
}

// UploadF32 copies float32 values into a new tensor.
func (b *Backend) UploadF32(rows, cols int, data []float32) backend.Tensor {
	t := b.New(rows, cols).(*tensor)
	if len(data) != rows*cols {
		b.fail("UploadF32: %d values for [%d, %d]", len(data), rows, cols)
		return t
	}
	copy(t.f32, data)
	return t
}

// New returns a zeroed F32 tensor.
func (b *Backend) New(rows, cols int) backend.Tensor {
	if rows <= 0 || cols <= 0 {
		b.fail("New: bad shape [%d, %d]", rows, cols)
		rows, cols = 1, 1
	}
	return &tensor{rows: rows, cols: cols, dt: backend.F32, f32: make([]float32, rows*cols)}
}

// View returns the first rows rows of x.
func (b *Backend) View(x backend.Tensor, rows int) backend.Tensor {
	t := b.t(x)
	if t == nil {
		return &tensor{rows: 1, cols: 1, f32: make([]float32, 1)}
	}
	if rows <= 0 || rows > t.rows {
		b.fail("View: %d rows of %v", rows, t)
		rows = t.rows
	}
	v := *t
	v.rows = rows
	v.view = true
	if v.f32 != nil {
		v.f32 = v.f32[:rows*t.cols]
	}
	if v.u16 != nil {
		v.u16 = v.u16[:rows*t.cols]
	}
	if v.q != nil {
		v.q = v.q[:rows*t.dt.RowBytes(t.cols)]
	}
	if v.i8 != nil {
		v.i8, v.scl = v.i8[:rows*t.cols], v.scl[:rows]
	}
	return &v
}

// Read copies rows of an F32 tensor into dst.
func (b *Backend) Read(x backend.Tensor, row int, dst []float32) {
	t := b.t(x)
	if t == nil || !b.ok("Read", -1, -1, x) {
		return
	}
	if row < 0 || row*t.cols+len(dst) > len(t.f32) {
		b.fail("Read: %d values from row %d of %v", len(dst), row, t)
		return
	}
	copy(dst, t.f32[row*t.cols:])
}

// Write copies src into rows of an F32 tensor.
func (b *Backend) Write(x backend.Tensor, row int, src []float32) {
	t := b.t(x)
	if t == nil || !b.ok("Write", -1, -1, x) {
		return
	}
	if row < 0 || row*t.cols+len(src) > len(t.f32) {
		b.fail("Write: %d values at row %d of %v", len(src), row, t)
		return
	}
	copy(t.f32[row*t.cols:], src)
}

// Free drops the tensor's memory.
func (b *Backend) Free(x backend.Tensor) {
	if t, ok := x.(*tensor); ok && t != nil && !t.view {
		t.f32, t.u16, t.q, t.i8, t.scl = nil, nil, nil, nil, nil
	}
}

// Embed gathers embedding rows.
func (b *Backend) Embed(out, emb backend.Tensor, tokens []int32) {
	o, e := b.t(out), b.t(emb)
	if o == nil || e == nil || !b.ok("Embed", len(tokens), e.cols, out) {
		return
	}
	// The embedding may be borrowed from a memory-mapped file.
	defer b.recoverFault(debug.SetPanicOnFault(true))
	for i, tok := range tokens {
		if tok < 0 || int(tok) >= e.rows {
			b.fail("Embed: token %d out of range [0, %d)", tok, e.rows)
			return
		}
		decodeRow(o.row(i), e, int(tok))
	}
}

// decodeRow widens row r of any-dtype tensor t into dst.
func decodeRow(dst []float32, t *tensor, r int) {
	c := t.cols
	switch t.dt {
	case backend.F32:
		copy(dst, t.f32[r*c:(r+1)*c])
	case backend.F16:
		decodeF16(dst, t.u16[r*c:(r+1)*c])
	case backend.BF16:
		for i, h := range t.u16[r*c : (r+1)*c] {
			dst[i] = math.Float32frombits(uint32(h) << 16)
		}
	case backend.I8:
		s := t.scl[r]
		for i, q := range t.i8[r*c : (r+1)*c] {
			dst[i] = float32(q) * s
		}
	default:
		rb := t.dt.RowBytes(c)
		vec.Dequantize(qtype(t.dt), dst, t.q[r*rb:(r+1)*rb])
	}
}

// LayerNorm normalises rows.
func (b *Backend) LayerNorm(out, x, w, bias backend.Tensor, eps float32) {
	b.GroupNorm(out, x, w, bias, 1, eps)
}

// GroupNorm normalises groups within rows.
func (b *Backend) GroupNorm(out, x, w, bias backend.Tensor, groups int, eps float32) {
	xt := b.t(x)
	if xt == nil || !b.ok("GroupNorm", xt.rows, xt.cols, x, out) || !b.ok("GroupNorm", 1, xt.cols, w, bias) {
		return
	}
	if groups <= 0 || xt.cols%groups != 0 {
		b.fail("GroupNorm: %d groups do not divide %d columns", groups, xt.cols)
		return
	}
	o, wt, bt := b.t(out), b.t(w), b.t(bias)
	g := xt.cols / groups
	r := 0
	// Four rows at a time (a prefill): their sums are four independent
	// chains, each in the order of a single row, so the bits are those of
	// the rows one by one.
	for ; r+4 <= xt.rows; r += 4 {
		x0, x1, x2, x3 := xt.row(r), xt.row(r+1), xt.row(r+2), xt.row(r+3)
		for s := 0; s < xt.cols; s += g {
			var m, inv [4]float64
			normStats4(&m, &inv, x0[s:s+g], x1[s:s+g], x2[s:s+g], x3[s:s+g], eps)
			for j := range 4 {
				normAffine(o.row(r + j)[s:s+g], xt.row(r + j)[s:s+g], wt.f32[s:s+g], bt.f32[s:s+g], m[j], inv[j])
			}
		}
	}
	for ; r < xt.rows; r++ {
		xr, or := xt.row(r), o.row(r)
		for s := 0; s < xt.cols; s += g {
			var sum float64
			for _, v := range xr[s : s+g] {
				sum += float64(v)
			}
			mean := sum / float64(g)
			var sq float64
			for _, v := range xr[s : s+g] {
				d := float64(v) - mean
				sq += d * d
			}
			inv := 1 / math.Sqrt(sq/float64(g)+float64(eps))
			normAffine(or[s:s+g], xr[s:s+g], wt.f32[s:s+g], bt.f32[s:s+g], mean, inv)
		}
	}
}

// normStats4 sets the means and inverse deviations of four groups of the
// same length with the operations, in the same order, of GroupNorm's single
// row.
func normStats4(mean, inv *[4]float64, x0, x1, x2, x3 []float32, eps float32) {
	g := len(x0)
	x1, x2, x3 = x1[:g], x2[:g], x3[:g]
	var s0, s1, s2, s3 float64
	for i, v := range x0 {
		s0 += float64(v)
		s1 += float64(x1[i])
		s2 += float64(x2[i])
		s3 += float64(x3[i])
	}
	m0, m1, m2, m3 := s0/float64(g), s1/float64(g), s2/float64(g), s3/float64(g)
	var q0, q1, q2, q3 float64
	for i, v := range x0 {
		d0 := float64(v) - m0
		q0 += d0 * d0
		d1 := float64(x1[i]) - m1
		q1 += d1 * d1
		d2 := float64(x2[i]) - m2
		q2 += d2 * d2
		d3 := float64(x3[i]) - m3
		q3 += d3 * d3
	}
	*mean = [4]float64{m0, m1, m2, m3}
	for j, q := range [4]float64{q0, q1, q2, q3} {
		inv[j] = 1 / math.Sqrt(q/float64(g)+float64(eps))
	}
}

// normAffine sets out = float32((x - mean) * inv) * w + b.
func normAffine(out, x, w, b []float32, mean, inv float64) {
	x, w, b = x[:len(out)], w[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = float32((float64(x[i])-mean)*inv)*w[i] + b[i]
	}
}

// Map applies f elementwise.
func (b *Backend) Map(out, x backend.Tensor, f backend.Unary) {
	xt := b.t(x)
	if xt == nil || !b.ok("Map", xt.rows, xt.cols, x, out) {
		return
	}
	if !mapInto(b.t(out).f32, xt.f32, f) {
		b.fail("Map: unknown function %d", f)
	}
}

// mapInto sets dst[i] = f(src[i]) (dst may be src) and reports whether f is
// a known function (nothing is written otherwise). Map and MatMulGroup's
// epilogue share it, so they give the same bits. The functions are vec's
// (float32, SIMD): each element gets the bits of the scalar
// function whatever its position in the slice, so a sequence and its tokens
// one by one give the same numbers.
func mapInto(dst, src []float32, f backend.Unary) bool {
	dst = dst[:len(src)]
	switch f {
	case backend.Sigmoid:
		vec.Map(vec.FSigmoid, dst, src)
	case backend.Tanh:
		vec.Map(vec.FTanh, dst, src)
	case backend.SiLU:
		vec.Map(vec.FSiLU, dst, src)
	case backend.ReLUSquare:
		vec.Map(vec.FReLUSquare, dst, src)
	case backend.NegExpExp:
		vec.Map(vec.FNegExpExp, dst, src)
	case backend.V7Decay:
		vec.Map(vec.FV7Decay, dst, src)
	default:
		return false
	}
	return true
}

// Zip applies f elementwise with row broadcasting of b.
func (b *Backend) Zip(out, a, bb backend.Tensor, f backend.Binary) {
	at := b.t(a)
	if at == nil || !b.ok("Zip", at.rows, at.cols, a, out) || !b.okRow("Zip", at.rows, at.cols, bb) {
		return
	}
	o, bt := b.t(out), b.t(bb)
	for r := 0; r < at.rows; r++ {
		ar, br, or := at.row(r), bt.broadcast(r), o.row(r)
		switch f {
		case backend.Add:
			for i := range or {
				or[i] = ar[i] + br[i]
			}
		case backend.Sub:
			for i := range or {
				or[i] = ar[i] - br[i]
			}
		case backend.Mul:
			for i := range or {
				or[i] = ar[i] * br[i]
			}
		default:
			b.fail("Zip: unknown function %d", f)
			return
		}
	}
}

// Slice copies a column range.
func (b *Backend) Slice(out, x backend.Tensor, col int) {
	o, xt := b.t(out), b.t(x)
	if o == nil || xt == nil || !b.ok("Slice", xt.rows, -1, out, x) {
		return
	}
	if col < 0 || col+o.cols > xt.cols {
		b.fail("Slice: columns [%d, %d) of %v", col, col+o.cols, xt)
		return
	}
	for r := 0; r < xt.rows; r++ {
		copy(o.row(r), xt.row(r)[col:col+o.cols])
	}
}

// GatherRows copies selected rows.
func (b *Backend) GatherRows(out, x backend.Tensor, rows []int) {
	o, xt := b.t(out), b.t(x)
	if o == nil || xt == nil || !b.ok("GatherRows", len(rows), xt.cols, out) || !b.ok("GatherRows", -1, o.cols, x) {
		return
	}
	for i, r := range rows {
		if r < 0 || r >= xt.rows {
			b.fail("GatherRows: row %d of %v", r, xt)
			return
		}
		copy(o.row(i), xt.row(r))
	}
}

// CopyRows copies n whole rows from src to dst.
func (b *Backend) CopyRows(dst backend.Tensor, dstRow int, src backend.Tensor, srcRow, n int) {
	d, st := b.t(dst), b.t(src)
	if d == nil || st == nil || !b.ok("CopyRows", -1, st.cols, dst, src) {
		return
	}
	if n < 1 || dstRow < 0 || srcRow < 0 || dstRow+n > d.rows || srcRow+n > st.rows {
		b.fail("CopyRows: %d rows from row %d of %v to row %d of %v", n, srcRow, st, dstRow, d)
		return
	}
	copy(d.f32[dstRow*d.cols:(dstRow+n)*d.cols], st.f32[srcRow*st.cols:(srcRow+n)*st.cols])
}

// stateRow returns state[slot][off:off+n] after checking bounds.
func (b *Backend) stateRow(st *tensor, slot, off, n int) []float32 {
	if off < 0 || off+n > st.cols || slot < 0 || slot >= st.rows {
		b.fail("state access [%d][%d:%d] outside %v", slot, off, off+n, st)
		return nil
	}
	return st.f32[slot*st.cols+off : slot*st.cols+off+n]
}

// BeginStep sets the batch of the step's Shift and WKV operations (copied;
// the caller may reuse bt's slices).
func (b *Backend) BeginStep(bt backend.Batch) {
	b.step.Offsets = append(b.step.Offsets[:0], bt.Offsets...)
	b.step.Slots = append(b.step.Slots[:0], bt.Slots...)
	b.stepSet = true
}

// batch returns the step's batch after checking it against the operation's
// rows and the state tensor st.
func (b *Backend) batch(op string, rows int, st *tensor) (backend.Batch, bool) {
	bt := b.step
	if !b.stepSet {
		b.fail("%s: no step begun (BeginStep)", op)
		return bt, false
	}
	if err := bt.Validate(st.rows); err != nil {
		b.fail("%s: %v", op, err)
		return bt, false
	}
	if bt.Rows() != rows {
		b.fail("%s: batch has %d rows, tensors %d", op, bt.Rows(), rows)
		return bt, false
	}
	return bt, true
}

// Shift produces the previous-token rows and updates the shift state.
func (b *Backend) Shift(prev, x, state backend.Tensor, off int) {
	xt := b.t(x)
	if xt == nil || !b.ok("Shift", xt.rows, xt.cols, x, prev) || !b.ok("Shift", -1, -1, state) {
		return
	}
	p, st := b.t(prev), b.t(state)
	bt, ok := b.batch("Shift", xt.rows, st)
	if !ok {
		return
	}
	c := xt.cols
	for s, slot := range bt.Slots {
		sv := b.stateRow(st, slot, off, c)
		if sv == nil {
			return
		}
		lo, hi := bt.Offsets[s], bt.Offsets[s+1]
		copy(p.row(lo), sv)
		for r := lo + 1; r < hi; r++ {
			copy(p.row(r), xt.row(r-1))
		}
		copy(sv, xt.row(hi-1))
	}
}

// Mix interpolates x and prev.
func (b *Backend) Mix(out, x, prev, mix backend.Tensor, style backend.MixStyle) {
	xt := b.t(x)
	if xt == nil || !b.ok("Mix", xt.rows, xt.cols, x, out, prev) || !b.okRow("Mix", xt.rows, xt.cols, mix) {
		return
	}
	o, p, m := b.t(out), b.t(prev), b.t(mix)
	for r := 0; r < xt.rows; r++ {
		xr, pr, mr, or := xt.row(r), p.row(r), m.broadcast(r), o.row(r)
		if style == backend.MixLerp {
			for i := range or {
				or[i] = xr[i]*mr[i] + pr[i]*(1-mr[i])
			}
		} else {
			for i := range or {
				or[i] = xr[i] + (pr[i]-xr[i])*mr[i]
			}
		}
	}
}

// MixN computes len(outs) mixes of x and prev, row by row: each row of x and
// prev is read while it is in cache and feeds every output.
func (b *Backend) MixN(outs []backend.Tensor, x, prev backend.Tensor, mixes []backend.Tensor, style backend.MixStyle) {
	if b.err != nil {
		return
	}
	if len(outs) != len(mixes) || len(outs) < 1 || len(outs) > backend.MaxMixN {
		b.fail("MixN: %d outputs and %d mixes, want the same number in [1, %d]", len(outs), len(mixes), backend.MaxMixN)
		return
	}
	if style != backend.MixLerp && style != backend.MixDelta {
		b.fail("MixN: unknown style %d", style)
		return
	}
	xt := b.t(x)
	if xt == nil || !b.ok("MixN", xt.rows, xt.cols, x, prev) || !b.ok("MixN", xt.rows, xt.cols, outs...) {
		return
	}
	for _, m := range mixes {
		if !b.okRow("MixN", xt.rows, xt.cols, m) {
			return
		}
	}
	p := b.t(prev)
	for r := 0; r < xt.rows; r++ {
		xr, pr := xt.row(r), p.row(r)
		for j, out := range outs {
			or, mr := out.(*tensor).row(r), mixes[j].(*tensor).broadcast(r)
			mr = mr[:len(or)]
			if style == backend.MixLerp {
				for i := range or {
					or[i] = xr[i]*mr[i] + pr[i]*(1-mr[i])
				}
			} else {
				for i := range or {
					or[i] = xr[i] + (pr[i]-xr[i])*mr[i]
				}
			}
		}
	}
}

// KeyV7 computes kk and rescales k.
func (b *Backend) KeyV7(kk, k, a, kK, kA backend.Tensor, heads int) {
	kt := b.t(k)
	if kt == nil || !b.ok("KeyV7", kt.rows, kt.cols, k, kk, a) || !b.ok("KeyV7", 1, kt.cols, kK, kA) {
		return
	}
	if heads <= 0 || kt.cols%heads != 0 {
		b.fail("KeyV7: %d heads do not divide %d", heads, kt.cols)
		return
	}
	kkt, at, kkw, kaw := b.t(kk), b.t(a), b.t(kK).f32, b.t(kA).f32
	n := kt.cols / heads
	for r := 0; r < kt.rows; r++ {
		kr, kkr, ar := kt.row(r), kkt.row(r), at.row(r)
		for h := 0; h < kt.cols; h += n {
			var sq float64
			for i := h; i < h+n; i++ {
				v := kr[i] * kkw[i]
				kkr[i] = v
				sq += float64(v) * float64(v)
			}
			norm := math.Sqrt(sq)
			if norm < 1e-12 {
				norm = 1e-12
			}
			inv := 1 / norm
			for i := h; i < h+n; i++ {
				kkr[i] = float32(float64(kkr[i]) * inv)
			}
		}
		for i := range kr {
			kr[i] = kr[i] * (1 + (ar[i]-1)*kaw[i])
		}
	}
}

// ValueV7 applies the value residual.
func (b *Backend) ValueV7(v, first, gate backend.Tensor) {
	vt := b.t(v)
	if vt == nil || !b.ok("ValueV7", vt.rows, vt.cols, v, first, gate) {
		return
	}
	ft, gt := b.t(first), b.t(gate)
	var sb [512]float32 // the gate's sigmoids, a block at a time (vec.Map: the bits of sigmoid)
	for i0 := 0; i0 < len(vt.f32); i0 += len(sb) {
		v := vt.f32[i0:min(i0+len(sb), len(vt.f32))]
		f, sg := ft.f32[i0:i0+len(v)], sb[:len(v)]
		vec.Map(vec.FSigmoid, sg, gt.f32[i0:i0+len(v)])
		for i, x := range v {
			v[i] = lerpTo(x, f[i], sg[i])
		}
	}
}

// lerpTo is x + (to - x) * s, each operation rounded to float32 (the
// conversion keeps the compiler from fusing the multiply-add): ValueV7's
// interpolation, shared with the Lerp epilogue of MatMulGroup so that the
// two give the same bits.
func lerpTo(x, to, s float32) float32 { return x + float32((to-x)*s) }

// BonusV7 adds the per-head bonus.
func (b *Backend) BonusV7(out, r, k, v, rK backend.Tensor, heads int) {
	ot := b.t(out)
	if ot == nil || !b.ok("BonusV7", ot.rows, ot.cols, out, r, k, v) || !b.ok("BonusV7", 1, ot.cols, rK) {
		return
	}
	if heads <= 0 || ot.cols%heads != 0 {
		b.fail("BonusV7: %d heads do not divide %d", heads, ot.cols)
		return
	}
	rt, kt, vt, rk := b.t(r), b.t(k), b.t(v), b.t(rK).f32
	n := ot.cols / heads
	for row := 0; row < ot.rows; row++ {
		or, rr, kr, vr := ot.row(row), rt.row(row), kt.row(row), vt.row(row)
		for h := 0; h < ot.cols; h += n {
			var s float32
			for i := h; i < h+n; i++ {
				s += rr[i] * kr[i] * rk[i]
			}
			for i := h; i < h+n; i++ {
				or[i] += s * vr[i]
			}
		}
	}
}

var (
	_ backend.Backend        = (*Backend)(nil)
	_ backend.Attender       = (*Backend)(nil)
	_ backend.DTypeSupporter = (*Backend)(nil)
	_ backend.Borrower       = (*Backend)(nil)
)

// The registry knows this backend as "cpu"; "ref" is accepted as an alias
// (the command line's historical name for it).
func init() {
	backend.Register("cpu", func(threads int) (backend.Backend, error) { return New(threads), nil })
	backend.RegisterAlias("ref", "cpu")
}
