package cpu

import (
	"math"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// attnTask runs causal attention for one head per chunk.
type attnTask struct {
	out, q, kc, vc *tensor
	pos, heads     int
	scores         []float32 // heads * (pos+N) scratch
}

// Attention runs causal softmax attention over a KV cache (the benchmark
// baseline's kernel): the step's keys and values are stored at rows pos... of
// the caches, then each head's scores are computed with the SIMD dot product,
// normalised with a float32 softmax, and the values accumulated with Axpy.
// Heads are split across goroutines.
func (b *Backend) Attention(out, q, k, v, kc, vc backend.Tensor, pos, heads int) {
	qt := b.t(q)
	if qt == nil || !b.ok("Attention", qt.rows, qt.cols, q, k, v, out) || !b.ok("Attention", -1, qt.cols, kc) {
		return
	}
	kct := b.t(kc)
	if !b.ok("Attention", kct.rows, qt.cols, vc) {
		return
	}
	if heads <= 0 || qt.cols%heads != 0 {
		b.fail("Attention: %d heads do not divide %d", heads, qt.cols)
		return
	}
	n, c := qt.rows, qt.cols
	if pos < 0 || pos+n > kct.rows {
		b.fail("Attention: positions [%d, %d) outside a cache of %d rows", pos, pos+n, kct.rows)
		return
	}
	copy(kct.f32[pos*c:(pos+n)*c], b.t(k).f32[:n*c])
	copy(b.t(vc).f32[pos*c:(pos+n)*c], b.t(v).f32[:n*c])
	need := heads * (pos + n)
	if cap(b.attnScores) < need {
		b.attnScores = make([]float32, need)
	}
	b.attn = attnTask{out: b.t(out), q: qt, kc: kct, vc: b.t(vc), pos: pos, heads: heads, scores: b.attnScores[:need]}
	b.runSized(&b.attn, heads, 2*n*(pos+n)*c)
	b.attn = attnTask{}
}

func (t *attnTask) do(h int) {
	c := t.q.cols
	d := c / t.heads
	n := t.q.rows
	span := t.pos + n
	s := t.scores[h*span : (h+1)*span]
	scale := float32(1 / math.Sqrt(float64(d)))
	kc, vc := t.kc.f32, t.vc.f32
	lo, hi := h*d, (h+1)*d
	for i := 0; i < n; i++ {
		m := t.pos + i + 1 // keys visible to row i
		qh := t.q.row(i)[lo:hi]
		mx := float32(math.Inf(-1))
		for j := 0; j < m; j++ {
			vec.GemmF32(s[j:j+1], 1, kc[j*c+lo:j*c+hi], 1, d, qh, 1)
			v := s[j] * scale
			s[j] = v
			mx = max(mx, v)
		}
		var sum float32
		for j := 0; j < m; j++ {
			e := float32(math.Exp(float64(s[j] - mx)))
			s[j] = e
			sum += e
		}
		oh := t.out.row(i)[lo:hi]
		clear(oh)
		inv := 1 / sum
		for j := 0; j < m; j++ {
			vec.Axpy(oh, s[j]*inv, vc[j*c+lo:j*c+hi])
		}
	}
}
