package engine

import (
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

// opLevel hides the fused operations of a backend (it has only the Backend
// methods), so the layer graphs take the op-level path.
type opLevel struct{ backend.Backend }

// fusedCounter counts the fused calls it forwards.
type fusedCounter struct {
	backend.Backend
	calls, zipMaps int
}

func (f *fusedCounter) ZipMap(out, a, b backend.Tensor, fn backend.Binary, g backend.Unary) {
	f.zipMaps++
	f.Backend.(backend.FusedElementwise).ZipMap(out, a, b, fn, g)
}

func (f *fusedCounter) AttnDecodeV7(y, kk, r, w, k, v, a, g, kK, kA, rK, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	f.calls++
	f.Backend.(backend.FusedV7).AttnDecodeV7(y, kk, r, w, k, v, a, g, kK, kA, rK, lnW, lnB, state, off, heads, eps)
}

// TestFusedDecodeV7: on the CPU backend, whose fused operations compose its
// own, RWKV-7 steps through the fused operations give the same bits as the
// op-level path; the prompt (prefill) does not use the decode attention,
// every layer of a decode step does, and every step uses ZipMap.
func TestFusedDecodeV7(t *testing.T) {
	plain := &opLevel{cpu.New(1)}
	fused := &fusedCounter{Backend: cpu.New(1)}
	t.Cleanup(func() { plain.Close(); fused.Close() })
	mp := synthModel(t, weights.V7, Options{Backend: plain})
	mf := synthModel(t, weights.V7, Options{Backend: fused})
	sp, _ := mp.NewSession()
	sf, _ := mf.NewSession()
	lp, err := sp.FeedAll(prompt[:5])
	if err != nil {
		t.Fatal(err)
	}
	lf, err := sf.FeedAll(prompt[:5])
	if err != nil {
		t.Fatal(err)
	}
	if fused.calls != 0 {
		t.Fatalf("a prefill step used the fused decode operation %d times", fused.calls)
	}
	if want := 2 * mf.cfg.Layers; fused.zipMaps != want { // the decay and the in-context rate
		t.Fatalf("prefill step: %d ZipMap calls, want %d", fused.zipMaps, want)
	}
	same := func(what string, a, b []float32) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: %d values vs %d", what, len(a), len(b))
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: element %d: op-level %g, fused %g", what, i, a[i], b[i])
			}
		}
	}
	same("prefill logits", lp, lf)
	for i, tok := range prompt[5:] {
		lp, err := sp.Feed([]int{tok})
		if err != nil {
			t.Fatal(err)
		}
		lf, err := sf.Feed([]int{tok})
		if err != nil {
			t.Fatal(err)
		}
		same("decode logits", lp, lf)
		if want := (i + 1) * mf.cfg.Layers; fused.calls != want {
			t.Fatalf("after %d decode steps: %d fused calls, want %d", i+1, fused.calls, want)
		}
	}
	st1, _ := sp.State()
	st2, _ := sf.State()
	same("state", st1.Data, st2.Data)
}
