package ref

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// rowsPerChunk is the number of weight rows one parallel work item covers.
const rowsPerChunk = 32

// matmulTask computes rows [c*rowsPerChunk, ...) of out = x @ w^T.
type matmulTask struct {
	out, x, w *tensor
}

func (m *matmulTask) do(c int) {
	r0 := c * rowsPerChunk
	r1 := min(r0+rowsPerChunk, m.w.rows)
	gemm(m.out.f32, m.out.cols, m.w, r0, r1, m.x.f32, m.x.rows)
}

// MatMul sets out = x @ w^T.
func (b *Backend) MatMul(out, x, w backend.Tensor) {
	xt, wt := b.t(x), b.t(w)
	if xt == nil || wt == nil || !b.ok("MatMul", xt.rows, wt.rows, out) || !b.ok("MatMul", -1, wt.cols, x) {
		return
	}
	b.mm = matmulTask{out: b.t(out), x: xt, w: wt}
	b.pool.run(&b.mm, (wt.rows+rowsPerChunk-1)/rowsPerChunk)
	b.mm = matmulTask{}
}

// MatMulT work items cover colsPerChunk output columns for a single token;
// with several tokens they cover colsPerChunkMulti so that the chunk of the
// weight (inputs x columns) stays in a core's L2 cache across the tokens.
const (
	colsPerChunk      = 128
	colsPerChunkMulti = 128
)

// matmulTTask computes columns [c*colsPerChunk, ...) of out = x @ wt, reading
// only the rows of wt whose input is non-zero.
type matmulTTask struct {
	out, x, wt *tensor
	nz         [][]int32 // per token, the indices of non-zero inputs
	chunk      int
}

func (m *matmulTTask) do(c int) {
	c0 := c * m.chunk
	c1 := min(c0+m.chunk, m.wt.cols)
	O := m.wt.cols
	for t := 0; t < m.x.rows; t++ {
		dst := m.out.f32[t*O+c0 : t*O+c1]
		clear(dst)
		xr := m.x.row(t)
		for _, i := range m.nz[t] {
			a := xr[i]
			switch m.wt.dt {
			case backend.F32:
				vec.Axpy(dst, a, m.wt.f32[int(i)*O+c0:int(i)*O+c1])
			case backend.F16:
				vec.AxpyF16(dst, a, m.wt.u16[int(i)*O+c0:int(i)*O+c1])
			case backend.BF16:
				vec.AxpyBF16(dst, a, m.wt.u16[int(i)*O+c0:int(i)*O+c1])
			}
		}
	}
}

// MatMulT sets out = x @ wt, skipping zero inputs.
func (b *Backend) MatMulT(out, x, wt backend.Tensor) {
	xt, wtt := b.t(x), b.t(wt)
	if xt == nil || wtt == nil || !b.ok("MatMulT", xt.rows, wtt.cols, out) || !b.ok("MatMulT", -1, wtt.rows, x) {
		return
	}
	if cap(b.nz) < xt.rows {
		b.nz = make([][]int32, xt.rows)
	}
	nz := b.nz[:xt.rows]
	for t := range nz {
		idx := nz[t][:0]
		for i, v := range xt.row(t) {
			if v != 0 {
				idx = append(idx, int32(i))
			}
		}
		nz[t] = idx
	}
	chunk := colsPerChunk
	if xt.rows > 1 {
		chunk = colsPerChunkMulti
	}
	b.mmT = matmulTTask{out: b.t(out), x: xt, wt: wtt, nz: nz, chunk: chunk}
	b.pool.run(&b.mmT, (wtt.cols+chunk-1)/chunk)
	b.mmT = matmulTTask{}
}
