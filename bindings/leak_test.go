//go:build cuda

package bindings

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestDecodeLeak runs 1000 greedy decode steps of a tiny synthetic RWKV-7
// model through the engine on the CUDA backend and checks, after a warm-up,
// that nothing accumulates: live tensor handles, live device bytes and
// device/pinned allocations (the library's counters), and the Go heap and
// its allocations. It also checks that every step costs the same (kernel
// launches, host synchronizations, bytes each way) and logs that ledger.
func TestDecodeLeak(t *testing.T) {
	const steps, warmup, embd, vocab = 1000, 20, 32, 64
	path := filepath.Join(t.TempDir(), "tiny-v7.st")
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 1, Embd: embd, Vocab: vocab, HeadSize: 32, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteSafetensors(fh, f.Tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}

	b := openTest(t)
	defer b.Close()
	// A context that has run a step holds its staging ring and the step's
	// batch array; the model's memory comes on top.
	b.BeginStep(backend.Batch{Offsets: []int{0, 1}, Slots: []int{0}})
	fresh := b.Stats()
	m, err := engine.Load(path, engine.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	tok := []int{1}
	step := func() {
		logits, err := s.Feed(tok)
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		tok[0] = best
	}
	if _, err := s.Feed([]int{3, 1, 4, 1, 5}); err != nil { // a prompt: the prefill shapes exist too
		t.Fatal(err)
	}
	for range warmup {
		step()
	}

	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	c0 := b.Stats()
	for range steps {
		step()
	}
	c1 := b.Stats()
	runtime.GC()
	runtime.ReadMemStats(&ms1)

	d := c1.Sub(c0)
	t.Logf("%d decode steps: live tensors %d, live device bytes %d; per step: %.1f kernel launches, %.1f host syncs, %.1f bytes to the device, %.1f bytes to the host",
		steps, c1.LiveTensors, c1.LiveDeviceBytes, float64(d.KernelLaunches)/steps, float64(d.HostSyncs)/steps,
		float64(d.H2DBytes)/steps, float64(d.D2HBytes)/steps)
	t.Logf("Go: %d allocations (%.2f per step), heap in use %d -> %d bytes", ms1.Mallocs-ms0.Mallocs,
		float64(ms1.Mallocs-ms0.Mallocs)/steps, ms0.HeapAlloc, ms1.HeapAlloc)

	if c1.LiveTensors != c0.LiveTensors || c1.LiveDeviceBytes != c0.LiveDeviceBytes || d.Allocations != 0 {
		t.Errorf("device resources grew over %d steps: live tensors %d -> %d, live bytes %d -> %d, %d allocations",
			steps, c0.LiveTensors, c1.LiveTensors, c0.LiveDeviceBytes, c1.LiveDeviceBytes, d.Allocations)
	}
	for _, c := range []struct {
		name string
		n    uint64
	}{{"kernel launches", d.KernelLaunches}, {"host syncs", d.HostSyncs}, {"bytes to the device", d.H2DBytes}, {"bytes to the host", d.D2HBytes}} {
		if c.n == 0 || c.n%steps != 0 {
			t.Errorf("%s: %d over %d identical steps, not the same number per step", c.name, c.n, steps)
		}
	}
	// Per step, the host reads the logits and the last hidden row.
	if want := uint64(steps * 4 * (vocab + embd)); d.D2HBytes != want {
		t.Errorf("bytes to the host: %d, want %d (the logits and hidden row of each step)", d.D2HBytes, want)
	}
	// The Go side: no allocation per step in steady state, and the heap
	// does not grow (a little slack for the runtime's own bookkeeping).
	if mallocs := ms1.Mallocs - ms0.Mallocs; mallocs > steps/10 {
		t.Errorf("Go allocations: %d over %d steps", mallocs, steps)
	}
	if ms1.HeapAlloc > ms0.HeapAlloc+64<<10 {
		t.Errorf("Go heap grew from %d to %d bytes over %d steps", ms0.HeapAlloc, ms1.HeapAlloc, steps)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the model returns all its device memory.
	c := b.Stats()
	if c.LiveDeviceBytes != fresh.LiveDeviceBytes {
		t.Errorf("after closing the model: %d live device bytes, before loading it %d", c.LiveDeviceBytes, fresh.LiveDeviceBytes)
	}
	t.Logf("after closing the model: %d live tensor handles", c.LiveTensors)
}
