//go:build cuda

package bindings

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeLaunches returns the kernel launches of one steady-state decode step
// of a synthetic RWKV-7 model with the given number of layers, through the
// fused decode operations or (fused false: the backend seen only through
// the Backend interface, none of the optional fused operations) the
// op-level graph.
func decodeLaunches(t *testing.T, b *Backend, layers int, fused bool) uint64 {
	return versionDecodeLaunches(t, b, weights.V7, layers, fused)
}

// versionDecodeLaunches is decodeLaunches for a synthetic model of version v.
func versionDecodeLaunches(t *testing.T, b *Backend, v weights.Version, layers int, fused bool) uint64 {
	t.Helper()
	const steps = 4
	f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: layers, Embd: 64, Vocab: 32, HeadSize: 32, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	wm, err := weights.Canonicalize(f, weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var be backend.Backend = b
	if !fused {
		be = struct{ backend.Backend }{b}
	}
	m, err := engine.New(wm, engine.Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Feed([]int{3, 1, 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Feed([]int{1}); err != nil { // warm-up: the decode shapes exist
		t.Fatal(err)
	}
	c0 := b.Stats()
	for range steps {
		if _, err := s.Feed([]int{5}); err != nil {
			t.Fatal(err)
		}
	}
	d := b.Stats().Sub(c0)
	if d.KernelLaunches%steps != 0 {
		t.Fatalf("%d launches over %d identical steps", d.KernelLaunches, steps)
	}
	return d.KernelLaunches / steps
}

// batchDecodeLaunches is the number of kernel launches of one decode step
// of a batch of sequences (Model.Step, one token each) on a synthetic model
// of version v (fused operations where the backend has them).
func batchDecodeLaunches(t *testing.T, b *Backend, v weights.Version, layers, batch int) uint64 {
	t.Helper()
	const steps = 2
	f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: layers, Embd: 64, Vocab: 32, HeadSize: 32, Seed: 5})
	require.NoError(t, err)
	wm, err := weights.Canonicalize(f, weights.Options{})
	require.NoError(t, err)
	m, err := engine.New(wm, engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	reqs := make([]*engine.Request, batch)
	for i := range reqs {
		s, err := m.NewSession()
		require.NoError(t, err)
		defer s.Close()
		reqs[i] = &engine.Request{Session: s}
	}
	step := func(tokens ...int) {
		for i, r := range reqs {
			r.Tokens = append(r.Tokens[:0], tokens...)
			r.Tokens[0] = (tokens[0] + i) % 32
		}
		require.NoError(t, m.Step(reqs))
	}
	step(3, 1, 4)
	step(1) // warm-up: the decode shapes exist
	c0 := b.Stats()
	for range steps {
		step(5)
	}
	d := b.Stats().Sub(c0)
	require.Zero(t, d.KernelLaunches%steps, "%d launches over %d identical steps", d.KernelLaunches, steps)
	return d.KernelLaunches / steps
}

// TestDecodeLaunchesPerLayerBatch: the launches per layer of a decode step
// do not grow with the batch: at 8 and 64 sequences (the tokens of a batch
// share each launch; batches above 8 take the 64-token group kernel and the
// split products, finished in the same launch) RWKV-7 and RWKV-6 take 8
// launches per layer, RWKV-5.2 7, as at batch 1.
func TestDecodeLaunchesPerLayerBatch(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	for _, c := range []struct {
		v    weights.Version
		want uint64
	}{{weights.V7, 8}, {weights.V6, 8}, {weights.V52, 7}} {
		for _, batch := range []int{8, 64} {
			l2, l3 := batchDecodeLaunches(t, b, c.v, 2, batch), batchDecodeLaunches(t, b, c.v, 3, batch)
			t.Logf("%s decode step at batch %d: %d kernel launches per layer", c.v, batch, l3-l2)
			assert.Equal(t, c.want, l3-l2, "%s at batch %d: launches per layer", c.v, batch)
		}
	}
}

// TestDecodeLaunchesPerLayer: an RWKV-7 decode step costs a fixed number of
// kernel launches per layer, fewer with the fused decode operations
// (backend.FusedV7, FusedElementwise, FusedNorm, FusedProducts) than with
// the op-level graph. Layer 0 differs from the others (its value residual is
// a copy of v; its time mix adds no residual), so the count per layer is
// measured between models of two and three layers, and layer 0's through
// the one-layer model.
func TestDecodeLaunchesPerLayer(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	perLayer := func(fused bool) (one, layer uint64) {
		l1, l2, l3 := decodeLaunches(t, b, 1, fused), decodeLaunches(t, b, 2, fused), decodeLaunches(t, b, 3, fused)
		if l3-l2 != l2-l1 {
			t.Errorf("fused=%v: launches per step %d, %d, %d for 1, 2, 3 layers: not linear in the layers", fused, l1, l2, l3)
		}
		return l1, l3 - l2
	}
	op1, op := perLayer(false)
	f1, f := perLayer(true)
	t.Logf("RWKV-7 decode step, kernel launches per layer: op-level %d, fused %d (1-layer model, whole step: %d and %d)", op, f, op1, f1)
	// The fused decode attention (backend.FusedV7) replaces KeyV7, WKV7,
	// GroupNorm, BonusV7 and the gate's Zip: 5 launches -> 1.
	// AddNormShiftMix (backend.FusedNorm) the residual add of the sublayer
	// before, the LayerNorm, Shift and MixN that open each sublayer: 2 x
	// (4 -> 1). The grouped products (backend.FusedProducts) replace the 7
	// products of the mixed inputs with the LoRA-downs' 2 activations
	// (9 -> 1), the LoRA-ups with their biases, activations and the value
	// residual (W2 + ZipMap, A2 + ZipMap, G2, V2 + Zip + ValueV7: 8 -> 1) and
	// the channel mix's key with its squared ReLU (2 -> 1). What remains per
	// layer: 2 norms, 3 groups, the fused attention, the output product and
	// the channel mix's value product.
	const wantOp, wantFused = 36, 8
	// Layer 0 of the op-level graph copies v into vFirst (1 launch) instead
	// of the value residual's V1, V2, Zip and ValueV7 (4); the fused graph
	// computes layer 0's v into vFirst directly, and the residual is inside
	// the other layers' groups. Layer 0's time mix has no residual to add
	// (its opening saves 2 launches, not 3), and the last layer's residual
	// add stays after the loop on both graphs: a 1-layer step saves one
	// launch less than the per-layer counts say.
	const wantOp0, wantFused0 = wantOp - 3, wantFused
	if op != wantOp || f != wantFused || op1-f1 != wantOp0-wantFused0-1 {
		t.Errorf("launches per layer: op-level %d, fused %d, want %d and %d; 1-layer step %d -> %d, want %d fewer",
			op, f, wantOp, wantFused, op1, f1, wantOp0-wantFused0-1)
	}
}

// TestDecodeLaunchesPerLayerV6V5: the fused decode operations on RWKV-6,
// RWKV-5.2 and RWKV-5.1 decode steps, per layer.
func TestDecodeLaunchesPerLayerV6V5(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	for _, c := range []struct {
		v                 weights.Version
		wantOp, wantFused uint64
		why               string
	}{
		// All: each sublayer opens with AddNormShiftMix (backend.FusedNorm):
		// the residual add, LayerNorm, Shift and mixes, 2 x (4 -> 1), the
		// time mix's opening also multiplying the channel mix's output by
		// its receptance (the channel mix's Zip(Mul), 1 -> 0); the
		// attention core is AttnDecodeV5 (backend.FusedV5): WKV5, GroupNorm
		// and the gate's Zip (3 -> 1, v5.1 without a gate 2 -> 1); the
		// channel mix's key and receptance with their activations are one
		// group (4 -> 1). What remains per layer: 2 openings, the groups,
		// the fused attention, the output product and the channel mix's
		// value product.
		// RWKV-6: the opening also leaves the normalised rows in the five
		// data-dependent mixes' outputs (zero mixes) and computes the
		// mixes' five LoRA-downs with their tanh (backend.FusedNormLoRA:
		// op-level 5 x (MatMul + Map) -> 0); then their five LoRA-ups with the static mixes and the token
		// shift's interpolation as epilogues (5 x (MatMul + Zip) + MixN ->
		// 1), r, k, v, g with the gate's SiLU and the decay's LoRA-down with
		// its tanh (7 -> 1); the decay's LoRA-up with its bias and
		// activation is inside the fused attention, AttnDecodeV6
		// (backend.FusedV6: 3 + 3 -> 1).
		{weights.V6, 49, 8, "v6"},
		// RWKV-5.2: k, v, r, g with the gate's SiLU (5 -> 1).
		{weights.V52, 23, 7, "v5.2"},
		// RWKV-5.1: k, v, r (3 -> 1).
		{weights.V51, 20, 7, "v5.1"},
	} {
		var got [2]uint64
		for i, fused := range []bool{false, true} {
			l1, l2 := versionDecodeLaunches(t, b, c.v, 1, fused), versionDecodeLaunches(t, b, c.v, 2, fused)
			got[i] = l2 - l1
		}
		t.Logf("%s decode step, kernel launches per layer: op-level %d, fused %d", c.why, got[0], got[1])
		if got[0] != c.wantOp || got[1] != c.wantFused {
			t.Errorf("%s: launches per layer: op-level %d, fused %d, want %d and %d", c.why, got[0], got[1], c.wantOp, c.wantFused)
		}
	}
}
