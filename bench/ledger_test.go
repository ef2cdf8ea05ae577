package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
)

// countingBackend is the pure-Go backend with runtime counters: every
// MatMul is one launch, every Read one host sync and its bytes.
type countingBackend struct {
	backend.Backend
	s backend.Stats
}

func (b *countingBackend) MatMul(out, x, w backend.Tensor) {
	b.s.KernelLaunches++
	b.Backend.MatMul(out, x, w)
}

func (b *countingBackend) MatMulT(out, x, wt backend.Tensor) {
	b.s.KernelLaunches++
	b.Backend.MatMulT(out, x, wt)
}

func (b *countingBackend) Read(t backend.Tensor, row int, dst []float32) {
	b.s.HostSyncs++
	b.s.D2HBytes += 4 * uint64(len(dst))
	b.Backend.Read(t, row, dst)
}

func (b *countingBackend) Stats() backend.Stats { return b.s }

func TestLedger(t *testing.T) {
	p, _ := LookupPreset("v7-tiny")
	be := &countingBackend{Backend: cpu.New(1)}
	m, err := SyntheticModel(p.SynthConfig(3), be, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := RunLedger(m, "synthetic:v7-tiny", LedgerConfig{Batches: []int{1, 3}, Steps: 2, Warmup: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Runs) != 2 || l.Runs[0].Batch != 1 || l.Runs[1].Batch != 3 {
		t.Fatalf("runs %+v", l.Runs)
	}
	nw, wb := m.MatMulWeights()
	if nw == 0 || wb != 4*nw || l.WeightDType != "F32" {
		t.Fatalf("matmul weights %d, %d bytes, type %s", nw, wb, l.WeightDType)
	}
	// The head alone is vocab x width; the layers add more.
	if nw <= int64(p.Vocab*p.Embd) {
		t.Errorf("%d matmul weights, no more than the head", nw)
	}
	for _, r := range l.Runs {
		if !r.Steady || r.Steps != 2 {
			t.Errorf("batch %d: steady %v, %d steps", r.Batch, r.Steady, r.Steps)
		}
		if r.Launches < float64(p.Layers) || r.LaunchesPerLayer != r.Launches/float64(p.Layers) {
			t.Errorf("batch %d: %g launches, %g per layer", r.Batch, r.Launches, r.LaunchesPerLayer)
		}
		if r.HostSyncs < 1 || r.D2HBytes < float64(4*p.Vocab*r.Batch) {
			t.Errorf("batch %d: %g syncs, %g bytes to the host (the logits are %d)", r.Batch, r.HostSyncs, r.D2HBytes, 4*p.Vocab*r.Batch)
		}
		if r.WeightBytesPerStep != wb || r.FlopsPerStep != 2*float64(nw)*float64(r.Batch) {
			t.Errorf("batch %d: %d weight bytes, %g flops", r.Batch, r.WeightBytesPerStep, r.FlopsPerStep)
		}
		if len(r.Projection) != 2 || r.Projection[0].Device != "H100 SXM" || r.Projection[1].Device != "H200" {
			t.Fatalf("projection %+v", r.Projection)
		}
		h100, h200 := r.Projection[0], r.Projection[1]
		// Same launch costs, more bandwidth: the H200 is faster, by less
		// than the bandwidth ratio once the overheads count.
		if !(h200.ProjectedTokS > h100.ProjectedTokS) || h200.ProjectedTokS/h100.ProjectedTokS >= 4.8/3.35 {
			t.Errorf("batch %d: H100 %g tok/s, H200 %g tok/s", r.Batch, h100.ProjectedTokS, h200.ProjectedTokS)
		}
		want := float64(r.Batch) / (max(h200.MemorySeconds, h200.ComputeSecs) + h200.OverheadSecs)
		if d := h200.ProjectedTokS - want; d > 1e-6*want || d < -1e-6*want {
			t.Errorf("batch %d: projected %g tok/s, want %g", r.Batch, h200.ProjectedTokS, want)
		}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(l); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, run := range raw["runs"].([]any) {
		r := run.(map[string]any)
		for _, k := range []string{"launches", "launches_per_layer", "graph_launches", "host_syncs", "h2d_bytes", "d2h_bytes", "allocations", "weight_bytes_per_step", "projection"} {
			if _, ok := r[k]; !ok {
				t.Errorf("run without %q: %v", k, r)
			}
		}
		if _, ok := r["projection"].([]any)[0].(map[string]any)["projected_tok_s"]; !ok {
			t.Errorf("projection without projected_tok_s")
		}
	}
	if !strings.Contains(raw["kind"].(string), "not a measurement") || len(raw["assumptions"].([]any)) == 0 {
		t.Errorf("kind %q, assumptions %v", raw["kind"], raw["assumptions"])
	}
	buf.Reset()
	l.Markdown(&buf)
	if !strings.Contains(buf.String(), "not a measurement") || !strings.Contains(buf.String(), "| 3 |") {
		t.Errorf("markdown:\n%s", buf.String())
	}
}

func TestLedgerErrors(t *testing.T) {
	p, _ := LookupPreset("v7-tiny")
	m, err := SyntheticModel(p.SynthConfig(3), cpu.New(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := RunLedger(m, "x", LedgerConfig{Batches: []int{1}, Steps: 1}); !errors.Is(err, ErrNoCounters) {
		t.Errorf("pure-Go backend: %v", err)
	}
	cm, err := SyntheticModel(p.SynthConfig(3), &countingBackend{Backend: cpu.New(1)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	for _, c := range []LedgerConfig{{Steps: 1}, {Batches: []int{0}, Steps: 1}, {Batches: []int{1}}, {Batches: []int{1}, Steps: 1, Warmup: -1}} {
		if _, err := RunLedger(cm, "x", c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
