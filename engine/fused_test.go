package engine

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/weights"
)

// opLevel hides the fused operations of a backend (it has only the Backend
// methods), so the layer graphs take the op-level path.
type opLevel struct{ backend.Backend }

// fusedCounter counts the fused calls it forwards (every fused operation of
// the CPU backend).
type fusedCounter struct {
	backend.Backend
	calls, zipMaps, norms, groups int
	v5calls                       int // AttnDecodeV5
	v6calls                       int // AttnDecodeV6
	normLoRAs                     int // AddNormShiftMixLoRA
}

func (f *fusedCounter) AddNormShiftMixLoRA(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32, lo, w1 []backend.Tensor) {
	f.normLoRAs++
	f.Backend.(backend.FusedNormLoRA).AddNormShiftMixLoRA(outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style, eps, lo, w1)
}

func (f *fusedCounter) AttnDecodeV6(y, w, r, k, v, decayLo, decayW2, decay, u, g, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	f.v6calls++
	f.Backend.(backend.FusedV6).AttnDecodeV6(y, w, r, k, v, decayLo, decayW2, decay, u, g, lnW, lnB, state, off, heads, eps)
}

func (f *fusedCounter) AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	f.v5calls++
	f.Backend.(backend.FusedV5).AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state, off, heads, eps)
}

func (f *fusedCounter) AddNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	f.norms++
	f.Backend.(backend.FusedNorm).AddNormShiftMix(outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style, eps)
}

func (f *fusedCounter) MatMulGroup(entries []backend.Product) {
	f.groups++
	f.Backend.(backend.FusedProducts).MatMulGroup(entries)
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
// every layer of a decode step does, and every step uses ZipMap and
// AddNormShiftMix.
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
	if want := 2 * mf.cfg.Layers; fused.zipMaps != want || fused.groups != 0 { // the decay and the in-context rate
		t.Fatalf("prefill step: %d ZipMap calls, want %d, and %d grouped products, want none", fused.zipMaps, want, fused.groups)
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
		if want := (i + 1) * mf.cfg.Layers; fused.calls != want || fused.groups != 3*want {
			t.Fatalf("after %d decode steps: %d fused calls and %d product groups, want %d and %d", i+1, fused.calls,
				fused.groups, want, 3*want)
		}
		if want := (i + 2) * 2 * mf.cfg.Layers; fused.norms != want { // the prefill step's and each decode step's
			t.Fatalf("after %d decode steps: %d AddNormShiftMix calls, want %d", i+1, fused.norms, want)
		}
	}
	st1, _ := sp.State()
	st2, _ := sf.State()
	same("state", st1.Data, st2.Data)
}

// normOnly exposes a backend's Backend methods and its backend.FusedNorm
// (none of the other fused operations) and counts the fused calls.
type normOnly struct {
	backend.Backend
	calls, withResidual int
}

func (n *normOnly) AddNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	n.calls++
	if residual != nil {
		n.withResidual++
	}
	n.Backend.(backend.FusedNorm).AddNormShiftMix(outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style, eps)
}

// TestFusedNorm: for every version, on the CPU backend (whose AddNormShiftMix
// composes its own operations), steps that open every sublayer with the
// fused operation give the same bits as the op-level graph: ragged prefill
// steps of several sequences and batched decode steps, in the logits and in
// every sequence's state. Each step opens 2 sublayers per layer with it,
// all but layer 0's time mix with the residual of the sublayer before.
func TestFusedNorm(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			plain := &opLevel{cpu.New(1)}
			fused := &normOnly{Backend: cpu.New(1)}
			t.Cleanup(func() { plain.Close(); fused.Close() })
			mp := synthModel(t, v, Options{Backend: plain})
			mf := synthModel(t, v, Options{Backend: fused})
			L := mf.cfg.Layers
			var sp, sf []*Session
			for range 3 {
				a, _ := mp.NewSession()
				b, _ := mf.NewSession()
				sp, sf = append(sp, a), append(sf, b)
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
			// Steps over sessions 2, 0 and 1 (slots out of order), ragged
			// prefill first, then decode; session 1 joins late.
			steps := [][][]int{
				{{3, 14, 15, 92}, nil, {65, 35}},
				{{89}, {79, 32, 38}, {46}},
				{{26}, {43}, {38}},
				{{32}, {79}, {50}},
			}
			for i, st := range steps {
				var rp, rf []*Request
				for _, j := range []int{2, 0, 1} {
					if st[j] == nil {
						continue
					}
					rp = append(rp, &Request{Session: sp[j], Tokens: st[j], AllLogits: true})
					rf = append(rf, &Request{Session: sf[j], Tokens: st[j], AllLogits: true})
				}
				before := fused.calls
				if err := mp.Step(rp); err != nil {
					t.Fatal(err)
				}
				if err := mf.Step(rf); err != nil {
					t.Fatal(err)
				}
				if got := fused.calls - before; got != 2*L {
					t.Fatalf("step %d: %d fused calls, want %d (2 per layer)", i, got, 2*L)
				}
				for k := range rp {
					same(fmt.Sprintf("step %d request %d logits", i, k), rp[k].Logits, rf[k].Logits)
				}
			}
			if want := len(steps) * (2*L - 1); fused.withResidual != want {
				t.Fatalf("%d calls with a residual, want %d (all but layer 0's time mix)", fused.withResidual, want)
			}
			for j := range sp {
				a, _ := sp[j].State()
				b, _ := sf[j].State()
				same(fmt.Sprintf("session %d state", j), a.Data, b.Data)
			}
		})
	}
}

// TestFusedProductsSharedModels: on the CPU backend every shared model file
// (every version, weight type and container) gives the same bits through the
// grouped products (backend.FusedProducts, with the fused attention and
// elementwise operations, RWKV-5's and RWKV-6's decode attention) as through the op-level graph: logits and states
// after a prompt, after single-sequence decode steps (N = 1) and after
// batched decode steps of three sequences (N = 3), in which every layer runs
// its version's number of product groups.
func TestFusedProductsSharedModels(t *testing.T) {
	var files []string
	for _, pat := range []string{"rwkv.cpp/tests/tiny-rwkv-*.bin", "rwkv.cpp/tests-history/tiny-rwkv-*.bin",
		"rwkv.cpp/quantized-by-rwkv.cpp/tiny-rwkv-*.bin", "pth/tiny-rwkv-*"} {
		files = append(files, testdata.Glob(t, pat)...)
	}
	if len(files) < 40 {
		t.Fatalf("only %d shared model files: %v", len(files), files)
	}
	// Product groups per layer and decode step: RWKV-7's products of the
	// mixed inputs and LoRA-ups; RWKV-6's mix LoRA-ups and products of the
	// mixed inputs (its mix LoRA-downs are in the time mix's opening,
	// AddNormShiftMixLoRA, its decay's LoRA-up in the fused attention);
	// RWKV-5's products;
	// and every version's channel mix.
	groupsPerLayer := map[weights.Version]int{weights.V7: 3, weights.V6: 3, weights.V52: 2, weights.V51: 2, weights.V4: 1}
	seen := map[weights.Version]int{}
	same := func(t *testing.T, what string, a, b []float32) {
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
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			plain := &opLevel{cpu.New(2)}
			fused := &fusedCounter{Backend: cpu.New(2)}
			defer plain.Close()
			defer fused.Close()
			var models [2]*Model
			var sess [2][3]*Session
			for i, be := range []backend.Backend{plain, fused} {
				m, err := Load(path, Options{Backend: be})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				models[i] = m
				for j := range sess[i] {
					if sess[i][j], err = m.NewSession(); err != nil {
						t.Fatal(err)
					}
				}
			}
			perStep, ok := groupsPerLayer[models[1].cfg.Version]
			if !ok {
				t.Fatalf("%s: version %v", path, models[1].cfg.Version)
			}
			seen[models[1].cfg.Version]++
			perStep *= models[1].cfg.Layers
			// Prompts of different lengths (prefill: no groups).
			var logits [2][3][]float32
			for i := range models {
				for j, s := range sess[i] {
					l, err := s.FeedAll(prompt[:3+2*j])
					if err != nil {
						t.Fatal(err)
					}
					logits[i][j] = l
				}
			}
			if fused.groups != 0 || fused.v5calls != 0 || fused.v6calls != 0 || fused.normLoRAs != 0 {
				t.Fatalf("prefill used %d product groups and %d fused RWKV-5/6 attentions", fused.groups, fused.v5calls+fused.v6calls)
			}
			for j := range logits[0] {
				same(t, fmt.Sprintf("prompt %d logits", j), logits[0][j], logits[1][j])
			}
			// Decode steps of one sequence (N = 1), then of all three (N = 3).
			for step, tok := range prompt[10:14] {
				for i := range models {
					l, err := sess[i][0].Feed([]int{tok})
					if err != nil {
						t.Fatal(err)
					}
					logits[i][0] = l
				}
				same(t, fmt.Sprintf("decode step %d logits", step), logits[0][0], logits[1][0])
			}
			if want := 4 * perStep; fused.groups != want {
				t.Fatalf("4 decode steps ran %d product groups, want %d", fused.groups, want)
			}
			for step, tok := range prompt[14:18] {
				var reqs [2][]*Request
				for i := range models {
					for j, s := range sess[i] {
						reqs[i] = append(reqs[i], &Request{Session: s, Tokens: []int{(tok + j) % models[i].cfg.Vocab}})
					}
					if err := models[i].Step(reqs[i]); err != nil {
						t.Fatal(err)
					}
				}
				for j := range reqs[0] {
					same(t, fmt.Sprintf("batched step %d sequence %d logits", step, j), reqs[0][j].Logits, reqs[1][j].Logits)
				}
			}
			if want := 8 * perStep; fused.groups != want {
				t.Fatalf("8 decode steps ran %d product groups, want %d", fused.groups, want)
			}
			switch v := models[1].cfg.Version; v {
			case weights.V51, weights.V52: // one fused attention per layer and decode step
				if want := 8 * models[1].cfg.Layers; fused.v5calls != want {
					t.Fatalf("8 decode steps ran %d fused RWKV-5 attentions, want %d", fused.v5calls, want)
				}
			case weights.V6: // ... with the decay's LoRA-up
				if want := 8 * models[1].cfg.Layers; fused.v6calls != want || fused.v5calls != 0 {
					t.Fatalf("8 decode steps ran %d fused RWKV-6 attentions and %d RWKV-5 ones, want %d and none", fused.v6calls,
						fused.v5calls, want)
				}
				if want := 8 * models[1].cfg.Layers; fused.normLoRAs != want {
					t.Fatalf("8 decode steps ran %d openings with the LoRA-downs, want %d", fused.normLoRAs, want)
				}
			}
			for j := range sess[0] {
				st0, err0 := sess[0][j].State()
				st1, err1 := sess[1][j].State()
				if err0 != nil || err1 != nil {
					t.Fatal(err0, err1)
				}
				same(t, fmt.Sprintf("sequence %d state", j), st0.Data, st1.Data)
			}
		})
	}
	if len(seen) != len(groupsPerLayer) {
		t.Errorf("model files per version: %v, want every version of %v", seen, groupsPerLayer)
	}
}
