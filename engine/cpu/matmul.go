package cpu

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// minRowsPerChunk is the fewest weight rows one parallel work item covers;
// chunksPerThread work items per goroutine balance the load while keeping
// each item a long sequential stream of weights.
const (
	minRowsPerChunk = 32
	chunksPerThread = 8
)

// matmulTask computes rows [c*chunk, (c+1)*chunk) of out = x @ w^T.
type matmulTask struct {
	out, x, w *tensor
	chunk     int
}

func (m *matmulTask) do(c int) {
	r0 := c * m.chunk
	r1 := min(r0+m.chunk, m.w.rows)
	gemm(m.out.f32, m.out.cols, m.w, r0, r1, m.x.f32, m.x.rows)
}

// MatMul sets out = x @ w^T.
func (b *Backend) MatMul(out, x, w backend.Tensor) {
	xt, wt := b.t(x), b.t(w)
	if xt == nil || wt == nil || !b.ok("MatMul", xt.rows, wt.rows, out) || !b.ok("MatMul", -1, wt.cols, x) {
		return
	}
	chunk := max(minRowsPerChunk, (wt.rows+b.pool.threads()*chunksPerThread-1)/(b.pool.threads()*chunksPerThread))
	b.mm = matmulTask{out: b.t(out), x: xt, w: wt, chunk: chunk}
	b.runSized(&b.mm, (wt.rows+chunk-1)/chunk, xt.rows*wt.rows*wt.cols)
	b.mm = matmulTask{}
}

// MatMulT work items cover a range of output columns for all tokens. With one
// token a work item is one SparseRows call over the columns of one thread (at
// least colsPerChunk), which
// walks all non-zero inputs with the outputs in registers; the weight rows are
// read once in all. With several tokens it is one GemmT call over
// colsPerChunkMulti columns, which keeps blocks of that width of the weight in
// L2 while the tokens pass. Either way each output is one multiply-add chain
// over the inputs in increasing order (see package vec), so a sequence gives
// bitwise the results of its tokens one at a time.
const (
	colsPerChunk      = 192
	colsPerChunkMulti = 192
)

// matmulTTask computes columns [c*chunk, ...) of out = x @ wt.
type matmulTTask struct {
	out, x, wt *tensor
	idx        []int32   // one token: the indices of its non-zero inputs
	vals       []float32 // and their values (I8: times their rows' scales)
	xs         []float32 // I8, several tokens: x with each entry times its row's scale
	chunk      int
}

func (m *matmulTTask) do(c int) {
	O := m.wt.cols
	c0 := c * m.chunk
	cw := min(m.chunk, O-c0)
	if m.x.rows == 1 {
		dst := m.out.f32[c0 : c0+cw]
		switch m.wt.dt {
		case backend.F32:
			vec.SparseRowsF32(dst, m.idx, m.vals, m.wt.f32[c0:], O)
		case backend.F16:
			vec.SparseRowsF16(dst, m.idx, m.vals, m.wt.u16[c0:], O)
		case backend.BF16:
			vec.SparseRowsBF16(dst, m.idx, m.vals, m.wt.u16[c0:], O)
		case backend.I8:
			vec.SparseRowsI8(dst, m.idx, m.vals, m.wt.i8[c0:], O)
		}
		return
	}
	N, I := m.x.rows, m.x.cols
	dst := m.out.f32[c0:]
	switch m.wt.dt {
	case backend.I8:
		vec.GemmTI8(dst, O, m.xs, I, N, I, m.wt.i8[c0:], O, cw)
	case backend.F32:
		vec.GemmTF32(dst, O, m.x.f32, I, N, I, m.wt.f32[c0:], O, cw)
	case backend.F16:
		vec.GemmTF16(dst, O, m.x.f32, I, N, I, m.wt.u16[c0:], O, cw)
	case backend.BF16:
		vec.GemmTBF16(dst, O, m.x.f32, I, N, I, m.wt.u16[c0:], O, cw)
	}
}

// MatMulT sets out = x @ wt. With one token only the weight rows of its
// non-zero inputs are read; several tokens are multiplied densely, which
// gives the same bits (zero inputs add nothing to the chains). For I8 the
// scale of weight row i (an input) multiplies x[t, i] first, with one
// rounding (a zero entry stays zero), and the codes enter the chains.
func (b *Backend) MatMulT(out, x, wt backend.Tensor) {
	xt, wtt := b.t(x), b.t(wt)
	if xt == nil || wtt == nil || !b.ok("MatMulT", xt.rows, wtt.cols, out) || !b.ok("MatMulT", -1, wtt.rows, x) {
		return
	}
	if wtt.dt.Quantized() {
		// Blocks run along rows; a transposed quantized matrix is multiplied
		// with MatMul on its untransposed layout instead.
		b.fail("MatMulT: %v: block-quantized weights are not supported transposed", wtt)
		return
	}
	chunk := colsPerChunkMulti
	var idx []int32
	var vals []float32
	if xt.rows == 1 {
		// One work item per thread: each reads its columns of every
		// listed row as one run (a multiple of 32 columns for the AVX-512
		// kernels), the longer the faster from memory.
		chunk = max(colsPerChunk, (wtt.cols+32*b.pool.threads()-1)/(32*b.pool.threads())*32)
		idx, vals = b.nzIdx[:0], b.nzVal[:0]
		for i, v := range xt.f32[:xt.cols] {
			if v != 0 {
				if wtt.dt == backend.I8 {
					v *= wtt.scl[i]
				}
				idx = append(idx, int32(i))
				vals = append(vals, v)
			}
		}
		b.nzIdx, b.nzVal = idx, vals
	}
	var xs []float32
	if wtt.dt == backend.I8 && xt.rows > 1 {
		n := xt.rows * xt.cols
		if cap(b.xScaled) < n {
			b.xScaled = make([]float32, n)
		}
		xs = b.xScaled[:n]
		for t := 0; t < xt.rows; t++ {
			for i, v := range xt.f32[t*xt.cols : (t+1)*xt.cols] {
				if v != 0 {
					v *= wtt.scl[i]
				}
				xs[t*xt.cols+i] = v
			}
		}
	}
	b.mmT = matmulTTask{out: b.t(out), x: xt, wt: wtt, idx: idx, vals: vals, xs: xs, chunk: chunk}
	work := xt.rows * wtt.rows * wtt.cols
	if xt.rows == 1 {
		work = len(idx) * wtt.cols
	}
	b.runSized(&b.mmT, (wtt.cols+chunk-1)/chunk, work)
	b.mmT = matmulTTask{}
}
