//go:build cuda

package bindings

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// decodeModels are the shared models of the device decode tests: RWKV-7
// (one per weight type the CUDA backend keeps), then RWKV-6, 5.2 and 5.1.
var decodeModels = []string{
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin",
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP16.bin",
	"pth/tiny-rwkv-7v0-834K-BF16.safetensors",
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-Q5_1.bin",
	// RWKV-6, 5.2 and 5.1: the loop is the version's layer graph (its fused decode operations).
	"pth/tiny-rwkv-6v0-1m-FP32.safetensors",
	"rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v1-730K-FP32.bin",
}

// decodeConfigs are sampler settings the device sampler implements, in
// float32-exact values (the device keeps its settings in float32).
func decodeConfigs() map[string]sampler.Config {
	greedy := sampler.DefaultConfig()
	greedy.Temperature = 0
	sampled := sampler.DefaultConfig()
	sampled.Temperature, sampled.TopK, sampled.TopP, sampled.Seed = 0.75, 40, 0.875, 7
	penalized := sampler.DefaultConfig()
	penalized.RepetitionPenalty, penalized.PresencePenalty, penalized.FrequencyPenalty, penalized.MinP, penalized.Seed = 1.25, 0.5, 0.25, 0.0625, 11
	penalized.LogitBias = map[int]float64{101: 1.5, 32: -2}
	stopped := sampler.DefaultConfig()
	stopped.Seed, stopped.StopTokens = 3, []int{32, 101} // space, 'e': stops early
	return map[string]sampler.Config{"greedy": greedy, "sampled": sampled, "penalized": penalized, "stop-tokens": stopped}
}

// TestDeviceDecodeTokens: Session.Generate on the device-resident decode
// loop gives the tokens, stop reason and final state of sampler.Generate on
// the host for the same settings, seed and sequence id, on every shared
// RWKV-7 model and on RWKV-6, 5.2 and 5.1 models, greedy and sampled.
func TestDeviceDecodeTokens(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	prompt := []int{73, 110, 32, 97} // "In a"
	for mi, rel := range decodeModels {
		m, err := engine.Load(testdata.Path(t, rel), engine.Options{Backend: b})
		require.NoError(t, err)
		cfgs := decodeConfigs()
		// In this order: the one-row decoder the generations share captures
		// its graph with no row biased, which a later row's bias must not
		// depend on.
		for _, name := range []string{"greedy", "sampled", "penalized", "stop-tokens"} {
			cfg := cfgs[name]
			if mi > 0 && name != "sampled" {
				continue // the emulator is slow: every setting on one model, one setting on the others
			}
			t.Run(fmt.Sprintf("%s/%s", rel, name), func(t *testing.T) {
				smp, err := sampler.New(cfg)
				require.NoError(t, err)
				host, err := m.NewSession()
				require.NoError(t, err)
				defer host.Close()
				dev, err := m.NewSession()
				require.NoError(t, err)
				defer dev.Close()
				const maxTokens = 8
				want, err := sampler.Generate(host.SamplerModel(), prompt, smp, sampler.Options{MaxTokens: maxTokens, Seq: 5})
				require.NoError(t, err)
				s0 := b.Stats()
				got, err := dev.Generate(context.Background(), prompt, smp, engine.GenerateOptions{MaxTokens: maxTokens, Seq: 5})
				require.NoError(t, err)
				d := b.Stats().Sub(s0)
				assert.Equal(t, want.Tokens, got.Tokens)
				assert.Equal(t, want.Reason, got.Reason)
				// Every token crossed as a 16-byte entry: no logits.
				assert.Less(t, d.D2HBytes, uint64(4*m.Config().Vocab), "bytes to the host: %+v", d)
				hs, err := host.State()
				require.NoError(t, err)
				ds, err := dev.State()
				require.NoError(t, err)
				assert.Equal(t, hs.Data, ds.Data, "final state")
			})
		}
		require.NoError(t, m.Close())
	}
}

// TestDeviceDecodeBatch: a decoder of 8 rows generating for sequences with
// different prompts, settings, budgets and stop tokens gives each the
// tokens of sampler.Generate at the same batch size (the host path runs the
// same 8 sequences in lockstep batched steps, so that the matrix products
// see the same batch shapes).
func TestDeviceDecodeBatch(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	const rows = 8
	cfgs := decodeConfigs()
	names := []string{"greedy", "sampled", "penalized", "stop-tokens"}
	reqs := make([]engine.DecodeRequest, rows)
	for i := range reqs {
		s, err := m.NewSession()
		require.NoError(t, err)
		defer s.Close()
		reqs[i] = engine.DecodeRequest{Session: s, Prompt: []int{65 + i, 32, 98 + i}, Sampler: cfgs[names[i%4]], Seq: uint64(i), MaxTokens: 3 + i}
	}
	want := hostLockstep(t, m, reqs)
	d, err := m.NewDecoder(rows)
	require.NoError(t, err)
	defer d.Close()
	_, err = d.Add(reqs)
	require.NoError(t, err)
	got := make([][]int, rows)
	done := 0
	for done < rows {
		require.NoError(t, d.Launch())
		toks, err := d.Read()
		require.NoError(t, err)
		for _, tk := range toks {
			require.NoError(t, tk.Err)
			require.Equal(t, len(got[tk.Row]), tk.Index)
			if tk.Reason != sampler.StopToken {
				got[tk.Row] = append(got[tk.Row], tk.Token)
			}
			if tk.Done {
				done++
			}
		}
	}
	for i := range got {
		assert.Equal(t, want[i], got[i], "row %d (%s)", i, names[i%4])
	}
}

// hostLockstep generates for reqs on the host, all sequences advancing in
// one batched step per token as a decoder does (sequences that finished
// drop out), and returns each sequence's tokens (without a final stop
// token). The sessions are forked, so reqs' sessions are unchanged.
func hostLockstep(t *testing.T, m *engine.Model, reqs []engine.DecodeRequest) [][]int {
	t.Helper()
	n := len(reqs)
	smps, hist, out := make([]*sampler.Sampler, n), make([][]int, n), make([][]int, n)
	ereqs := make([]*engine.Request, n)
	for i, q := range reqs {
		f, err := q.Session.Fork()
		require.NoError(t, err)
		defer f.Close()
		smps[i], err = sampler.New(q.Sampler)
		require.NoError(t, err)
		hist[i] = append([]int(nil), q.Prompt...)
		ereqs[i] = &engine.Request{Session: f, Tokens: q.Prompt}
	}
	require.NoError(t, m.Step(ereqs))
	live := append([]*engine.Request(nil), ereqs...)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for step := 0; len(live) > 0; step++ {
		var next []*engine.Request
		var nidx []int
		for j, r := range live {
			i := idx[j]
			id, err := smps[i].Sample(r.Logits, hist[i], reqs[i].Seq, uint64(step))
			require.NoError(t, err)
			if smps[i].IsStopToken(id) {
				continue
			}
			out[i] = append(out[i], id)
			hist[i] = append(hist[i], id)
			if len(out[i]) < reqs[i].MaxTokens {
				r.Tokens = []int{id}
				next = append(next, r)
				nidx = append(nidx, i)
			}
		}
		if len(next) > 0 {
			require.NoError(t, m.Step(next))
		}
		live, idx = next, nidx
	}
	return out
}

// TestDeviceDecodeLedger: steady-state decode steps of the device loop at
// batch 1, 8 and 64 on a shared RWKV-7 model cost, per step, one graph
// launch and no other kernel launch, at most one host synchronization, at
// most 16 bytes to the host per sequence, nothing to the device, and no
// allocation (the runtime's counters, and Go's).
func TestDeviceDecodeLedger(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	for _, batch := range []int{1, 8, 64} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			d, err := m.NewDecoder(batch)
			require.NoError(t, err)
			defer d.Close()
			cfg := sampler.DefaultConfig()
			cfg.Seed = 9
			reqs := make([]engine.DecodeRequest, batch)
			for i := range reqs {
				s, err := m.NewSession()
				require.NoError(t, err)
				defer s.Close()
				reqs[i] = engine.DecodeRequest{Session: s, Prompt: []int{40 + i%50}, Sampler: cfg, Seq: uint64(i), MaxTokens: 1000}
			}
			_, err = d.Add(reqs)
			require.NoError(t, err)
			step := func() {
				require.NoError(t, d.Launch())
				toks, err := d.Read()
				require.NoError(t, err)
				require.Len(t, toks, batch)
			}
			step() // the first step of this size captures its graph
			const steps = 2
			var sum backend.Stats
			for range steps {
				s0 := b.Stats()
				step()
				dl := b.Stats().Sub(s0)
				assert.LessOrEqual(t, dl.HostSyncs, uint64(1), "host syncs: %+v", dl)
				assert.LessOrEqual(t, dl.D2HBytes, uint64(16*batch), "bytes to the host: %+v", dl)
				assert.Zero(t, dl.Allocations, "allocations: %+v", dl)
				assert.Equal(t, uint64(1), dl.GraphLaunches, "graph launches: %+v", dl)
				assert.Zero(t, dl.KernelLaunches, "kernel launches outside the graph: %+v", dl)
				assert.Zero(t, dl.H2DBytes, "bytes to the device: %+v", dl)
				sum.HostSyncs += dl.HostSyncs
				sum.D2HBytes += dl.D2HBytes
			}
			// Nor does a step allocate Go memory (through cgo).
			allocs := testing.AllocsPerRun(2, func() {
				if d.Launch() == nil {
					d.Read()
				}
			})
			assert.Zero(t, allocs, "Go allocations per step")
			t.Logf("batch %d: per step %d graph launch, %.2f host syncs, %.1f bytes to the host (%.1f per sequence), %v Go allocations",
				batch, 1, float64(sum.HostSyncs)/steps, float64(sum.D2HBytes)/steps, float64(sum.D2HBytes)/steps/float64(batch), allocs)
		})
	}
}

// eagerBackend is the CUDA backend without graph capture (nor the fused
// operations): the device loop then launches its steps operation by
// operation.
type eagerBackend struct {
	backend.Backend
	backend.DeviceDecoder
	backend.StatsReporter
}

// TestDeviceDecodeEager: without graphs the device loop gives the same
// tokens as host sampling, still without logits or synchronizations per
// step: only its kernel launches are counted one by one.
func TestDeviceDecodeEager(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: eagerBackend{b, b, b}})
	require.NoError(t, err)
	defer m.Close()
	cfg := decodeConfigs()["sampled"]
	smp, err := sampler.New(cfg)
	require.NoError(t, err)
	prompt := []int{84, 104, 101}
	host, err := m.NewSession()
	require.NoError(t, err)
	defer host.Close()
	want, err := sampler.Generate(host.SamplerModel(), prompt, smp, sampler.Options{MaxTokens: 5, Seq: 2})
	require.NoError(t, err)
	d, err := m.NewDecoder(1)
	require.NoError(t, err)
	defer d.Close()
	s, err := m.NewSession()
	require.NoError(t, err)
	defer s.Close()
	_, err = d.Add([]engine.DecodeRequest{{Session: s, Prompt: prompt, Sampler: cfg, Seq: 2, MaxTokens: 5}})
	require.NoError(t, err)
	var got []int
	for len(got) < 5 {
		s0 := b.Stats()
		require.NoError(t, d.Launch())
		dl := b.Stats().Sub(s0)
		if len(got) > 0 { // steps after the first: the loop's steady state
			assert.Zero(t, dl.GraphLaunches)
			assert.NotZero(t, dl.KernelLaunches)
			assert.Zero(t, dl.HostSyncs)
			assert.Zero(t, dl.Allocations)
			assert.LessOrEqual(t, dl.D2HBytes, uint64(16))
		}
		toks, err := d.Read()
		require.NoError(t, err)
		for _, tk := range toks {
			got = append(got, tk.Token)
		}
	}
	assert.Equal(t, want.Tokens, got)
}
