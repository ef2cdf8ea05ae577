package ref

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
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
