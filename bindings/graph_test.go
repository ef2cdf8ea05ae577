package bindings

import (
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// decodeStep is a small decode step over every kind of staged input: the
// step's batch (BeginStep, read by Shift and WKV5), token ids (Embed) and
// row indices (GatherRows); and a product group (MatMulGroup, whose table of
// products a captured graph keeps), one product interpolating into its
// output, which carries over from step to step.
type decodeStep struct {
	emb, mix, w, u, wt, state    backend.Tensor
	x, prev, xm, r, y, out, gath backend.Tensor
	g, lerped                    backend.Tensor
}

func newDecodeStep(b *Backend, rng *rand.Rand, state []float32) *decodeStep {
	const V, C, slots = 11, 32, 3
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
		}
		return v
	}
	d := &decodeStep{
		emb: b.UploadF32(V, C, vals(V*C)), mix: b.UploadF32(1, C, vals(C)),
		w: b.UploadF32(1, C, vals(C)), u: b.UploadF32(1, C, vals(C)), wt: b.UploadF32(C, C, vals(C*C)),
		state: b.UploadF32(slots, C+2*16*16, state),
	}
	for i, p := range []*backend.Tensor{&d.x, &d.prev, &d.xm, &d.r, &d.y, &d.out, &d.gath, &d.g, &d.lerped} {
		_ = i
		*p = b.New(2, C)
	}
	return d
}

func (d *decodeStep) run(b *Backend, tokens []int32, bt backend.Batch, rows []int) {
	b.BeginStep(bt)
	b.Embed(d.x, d.emb, tokens)
	b.Shift(d.prev, d.x, d.state, 0)
	b.Mix(d.xm, d.x, d.prev, d.mix, backend.MixDelta)
	b.MatMulGroup([]backend.Product{
		{Out: d.g, In: d.xm, W: d.wt, Bias: d.mix, Act: backend.Activate(backend.Sigmoid)},
		{Out: d.lerped, In: d.x, W: d.wt, Act: backend.Activate(backend.Tanh), Lerp: d.prev},
	})
	b.Map(d.r, d.xm, backend.Tanh)
	b.WKV5(d.y, d.r, d.xm, d.x, d.w, d.u, d.state, 32, 2)
	b.MatMulT(d.out, d.y, d.wt)
	b.GatherRows(d.gath, d.out, rows)
}

func readAll(b *Backend, ts ...backend.Tensor) []float32 {
	var out []float32
	for _, t := range ts {
		v := make([]float32, t.Rows()*t.Cols())
		b.Read(t, 0, v)
		out = append(out, v...)
	}
	return out
}

// testGraph captures a two-sequence decode step, replays it, and checks
// outputs and states against direct execution, also after replacing the
// token ids, the batch (slots swapped) and the gathered rows through
// SetInput (TestGraph on the cgo bindings, TestPuregoGraph through purego).
func testGraph(t *testing.T, b *Backend) {
	rng := rand.New(rand.NewPCG(5, 6))
	state := make([]float32, 3*(32+2*16*16))
	for i := range state {
		state[i] = float32(rng.NormFloat64() * 0.3)
	}
	direct := newDecodeStep(b, rand.New(rand.NewPCG(1, 2)), state)
	graph := newDecodeStep(b, rand.New(rand.NewPCG(1, 2)), state)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		tokens []int32
		bt     backend.Batch
		rows   []int
	}{
		{[]int32{3, 7}, backend.Batch{Offsets: []int{0, 1, 2}, Slots: []int{0, 2}}, []int{1, 0}},
		{[]int32{3, 7}, backend.Batch{Offsets: []int{0, 1, 2}, Slots: []int{0, 2}}, []int{1, 0}},
		{[]int32{10, 0}, backend.Batch{Offsets: []int{0, 1, 2}, Slots: []int{2, 1}}, []int{0, 0}},
	}
	if err := b.BeginGraph(0); err != nil {
		t.Fatal(err)
	}
	graph.run(b, steps[0].tokens, steps[0].bt, steps[0].rows)
	g, err := b.EndGraph()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if n := g.Inputs(); n != 3 {
		t.Fatalf("graph has %d inputs, want 3 (batch, tokens, rows)", n)
	}
	for i, st := range steps {
		direct.run(b, st.tokens, st.bt, st.rows)
		if i > 0 {
			batch := []int32{0, 1, 2, int32(st.bt.Slots[0]), int32(st.bt.Slots[1])}
			for in, v := range [][]int32{batch, st.tokens, {int32(st.rows[0]), int32(st.rows[1])}} {
				if err := g.SetInput(in, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		g.Launch()
		want := readAll(b, direct.gath, direct.out, direct.state, direct.g, direct.lerped)
		got := readAll(b, graph.gath, graph.out, graph.state, graph.g, graph.lerped)
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("step %d: value %d replayed %g, direct %g", i, j, got[j], want[j])
			}
		}
	}
	// Operations other than kernels are refused during a capture.
	if err := b.BeginGraph(0); err != nil {
		t.Fatal(err)
	}
	b.New(1, 1)
	if _, err := b.EndGraph(); err == nil {
		t.Fatal("New during a capture: no error")
	}
	b.Map(direct.r, direct.xm, backend.Tanh)
	if err := b.Err(); err != nil {
		t.Fatalf("after a failed capture: %v", err)
	}
}
