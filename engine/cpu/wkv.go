package cpu

import (
	"math"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// wkvTask runs one recurrence for one (sequence, head) pair per chunk.
type wkvTask struct {
	version              int
	out, r, w, k, v, u   *tensor
	kk, a, st            *tensor
	off, heads, headSize int
	b                    backend.Batch
}

func (t *wkvTask) do(c int) {
	s, h := c/t.heads, c%t.heads
	slot := t.b.Slots[s]
	lo, hi := t.b.Offsets[s], t.b.Offsets[s+1]
	switch t.version {
	case 4:
		t.wkv4(slot, lo, hi, h)
	case 5:
		t.wkv5(slot, lo, hi, h)
	case 7:
		t.wkv7(slot, lo, hi, h)
	}
}

// wkv4: "head" h is a block of channels; state holds aa, bb, pp.
func (t *wkvTask) wkv4(slot, lo, hi, h int) {
	c := t.k.cols
	c0, c1 := h*t.headSize, min((h+1)*t.headSize, c)
	base := slot*t.st.cols + t.off
	aa := t.st.f32[base : base+c]
	bb := t.st.f32[base+c : base+2*c]
	pp := t.st.f32[base+2*c : base+3*c]
	w, u := t.w.f32, t.u.f32
	for r := lo; r < hi; r++ {
		kr, vr, or := t.k.row(r), t.v.row(r), t.out.row(r)
		for i := c0; i < c1; i++ {
			k, v := float64(kr[i]), float64(vr[i])
			a, b, p := float64(aa[i]), float64(bb[i]), float64(pp[i])
			ww := float64(u[i]) + k
			q := math.Max(p, ww)
			e1, e2 := math.Exp(p-q), math.Exp(ww-q)
			or[i] = float32((e1*a + e2*v) / (e1*b + e2))
			ww = p + float64(w[i])
			q = math.Max(ww, k)
			e1, e2 = math.Exp(ww-q), math.Exp(k-q)
			aa[i] = float32(e1*a + e2*v)
			bb[i] = float32(e1*b + e2)
			pp[i] = float32(q)
		}
	}
}

// wkv5: S[i=key][j=value]; y_j = sum_i r_i (u_i k_i v_j + S_ij); S_ij = k_i v_j + w_i S_ij.
func (t *wkvTask) wkv5(slot, lo, hi, h int) {
	n := t.headSize
	c0 := h * n
	base := slot*t.st.cols + t.off + h*n*n
	S := t.st.f32[base : base+n*n]
	u := t.u.f32[c0 : c0+n]
	for r := lo; r < hi; r++ {
		rr, kr, vr := t.r.row(r)[c0:c0+n], t.k.row(r)[c0:c0+n], t.v.row(r)[c0:c0+n]
		w := t.w.broadcast(r)[c0 : c0+n]
		or := t.out.row(r)[c0 : c0+n]
		for j := range or {
			or[j] = 0
		}
		for i := 0; i < n; i++ {
			ri, ki, ui, wi := rr[i], kr[i], u[i], w[i]
			Si := S[i*n : (i+1)*n]
			for j, vj := range vr {
				kv := ki * vj
				or[j] += ri * (ui*kv + Si[j])
				Si[j] = kv + wi*Si[j]
			}
		}
	}
}

// wkv7: S[i=value][j=key]; sa = S @ -kk; S = S*diag(w) + v k^T + sa (kk*a)^T; y = S r
// (vec.WKV7Head, SIMD where the CPU has AVX-512).
func (t *wkvTask) wkv7(slot, lo, hi, h int) {
	n := t.headSize
	c0 := h * n
	base := slot*t.st.cols + t.off + h*n*n
	S := t.st.f32[base : base+n*n]
	var kab [256]float32
	ka := kab[:min(n, len(kab))]
	if n > len(kab) {
		ka = make([]float32, n)
	}
	for r := lo; r < hi; r++ {
		rr, wr, kr := t.r.row(r)[c0:c0+n], t.w.row(r)[c0:c0+n], t.k.row(r)[c0:c0+n]
		vr, kkr, ar := t.v.row(r)[c0:c0+n], t.kk.row(r)[c0:c0+n], t.a.row(r)[c0:c0+n]
		for j := range ka {
			ka[j] = kkr[j] * ar[j]
		}
		vec.WKV7Head(S, wr, kr, vr, kkr, ka, rr, t.out.row(r)[c0:c0+n])
	}
}

func (b *Backend) runWKV(t *wkvTask) {
	b.wkv = *t
	// Work: per token, a few passes over each head's state (the channel
	// blocks of WKV4 count one value per channel).
	work := 4 * t.b.Rows() * t.heads * t.headSize * t.headSize
	if t.version == 4 {
		work = 16 * t.b.Rows() * t.k.cols
	}
	b.runSized(&b.wkv, t.b.Seqs()*t.heads, work)
	b.wkv = wkvTask{}
}

// WKV4 runs the RWKV-4 recurrence.
func (b *Backend) WKV4(out, k, v, w, u, state backend.Tensor, off int) {
	kt := b.t(k)
	if kt == nil || !b.ok("WKV4", kt.rows, kt.cols, out, k, v) || !b.ok("WKV4", 1, kt.cols, w, u) || !b.ok("WKV4", -1, -1, state) {
		return
	}
	st := b.t(state)
	bt, ok := b.batch("WKV4", kt.rows, st)
	if !ok || b.stateRow(st, 0, off, 3*kt.cols) == nil {
		return
	}
	// channels are independent: split them into blocks for parallelism.
	const block = 256
	b.runWKV(&wkvTask{version: 4, out: b.t(out), k: kt, v: b.t(v), w: b.t(w), u: b.t(u), st: st,
		off: off, heads: (kt.cols + block - 1) / block, headSize: block, b: bt})
}

// WKV5 runs the RWKV-5/6 recurrence.
func (b *Backend) WKV5(out, r, k, v, w, u, state backend.Tensor, off, heads int) {
	kt := b.t(k)
	if kt == nil || !b.ok("WKV5", kt.rows, kt.cols, out, r, k, v) || !b.okRow("WKV5", kt.rows, kt.cols, w) ||
		!b.ok("WKV5", 1, kt.cols, u) || !b.ok("WKV5", -1, -1, state) {
		return
	}
	if heads <= 0 || kt.cols%heads != 0 {
		b.fail("WKV5: %d heads do not divide %d", heads, kt.cols)
		return
	}
	n := kt.cols / heads
	st := b.t(state)
	bt, ok := b.batch("WKV5", kt.rows, st)
	if !ok || b.stateRow(st, 0, off, heads*n*n) == nil {
		return
	}
	b.runWKV(&wkvTask{version: 5, out: b.t(out), r: b.t(r), k: kt, v: b.t(v), w: b.t(w), u: b.t(u), st: st,
		off: off, heads: heads, headSize: n, b: bt})
}

// WKV7 runs the RWKV-7 recurrence.
func (b *Backend) WKV7(out, r, w, k, v, kk, a, state backend.Tensor, off, heads int) {
	kt := b.t(k)
	if kt == nil || !b.ok("WKV7", kt.rows, kt.cols, out, r, w, k, v, kk, a) || !b.ok("WKV7", -1, -1, state) {
		return
	}
	if heads <= 0 || kt.cols%heads != 0 {
		b.fail("WKV7: %d heads do not divide %d", heads, kt.cols)
		return
	}
	n := kt.cols / heads
	st := b.t(state)
	bt, ok := b.batch("WKV7", kt.rows, st)
	if !ok || b.stateRow(st, 0, off, heads*n*n) == nil {
		return
	}
	b.runWKV(&wkvTask{version: 7, out: b.t(out), r: b.t(r), w: b.t(w), k: kt, v: b.t(v), kk: b.t(kk), a: b.t(a),
		st: st, off: off, heads: heads, headSize: n, b: bt})
}
