package bindings

import "github.com/rwkvgo/rwkvgo/engine/backend"

// The C function's limit is backend.MaxGroup.
var _ = [1]struct{}{}[backend.MaxGroup-cGroupMax]

var _ backend.FusedProducts = (*Backend)(nil)

// MatMulGroup implements backend.FusedProducts with rwkvcu_matmul_group, one
// kernel launch for the whole group (every weight type librwkvcu takes: F32,
// F16 and BF16 from Upload, I8 and F8E4M3; the block-quantized types never reach
// the device, see Supports). Written by hand: the C function takes one
// host array per field of backend.Product (a nil Bias or Lerp as NULL, the
// activation as an RWKVCU_SIGMOID ... code or RWKVCU_NO_FUNCTION), a mapping
// abigen's mechanical rules do not express. The arrays are the backend's
// scratch (no allocation per call).
func (b *Backend) MatMulGroup(entries []backend.Product) {
	if !b.live() {
		return
	}
	n := len(entries)
	if n < 1 || n > backend.MaxGroup {
		b.failf("MatMulGroup: %d products, want 1 to %d", n, backend.MaxGroup)
		return
	}
	g := &b.grp
	if g.outs == nil {
		// one allocation each, holding only C pointers (cgo's pointer checks)
		g.outs, g.xs, g.ws = make([]ptr, backend.MaxGroup), make([]ptr, backend.MaxGroup), make([]ptr, backend.MaxGroup)
		g.biases, g.lerps = make([]ptr, backend.MaxGroup), make([]ptr, backend.MaxGroup)
		g.acts = make([]int32, backend.MaxGroup)
	}
	opt := func(t backend.Tensor) ptr {
		if t == nil {
			return nil
		}
		return b.h(t)
	}
	for j, e := range entries {
		g.outs[j], g.xs[j], g.ws[j] = b.h(e.Out), b.h(e.In), b.h(e.W)
		g.biases[j], g.lerps[j] = opt(e.Bias), opt(e.Lerp)
		g.acts[j] = cNoFunction
		if f, ok := e.Act.Unary(); ok {
			g.acts[j] = int32(f)
		}
	}
	if !b.live() {
		return
	}
	b.check("rwkvcu_matmul_group", b.api.matmulGroup(b.ctx, &g.outs[0], &g.xs[0], &g.ws[0], &g.biases[0], &g.acts[0], &g.lerps[0], int32(n)))
}
