package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// The step ledger: what one steady-state decode step of engine.Model.Step
// costs in the device runtime's counters (backend.StatsReporter), and a
// roofline projection of its speed on named GPUs. The projection is a
// model, not a measurement; its assumptions travel with it in the JSON.

// LedgerConfig configures RunLedger.
type LedgerConfig struct {
	// Batches lists the numbers of concurrent sequences (each >= 1).
	Batches []int
	// Steps is the number of counted decode steps per batch size (>= 1).
	Steps int
	// Warmup decode steps run uncounted first, after a one-token prefill,
	// so that scratch buffers exist and the counters reach steady state.
	Warmup int
	// Seed draws the token ids.
	Seed uint64
	// Engine counts the steps of an engine.Engine (Submit) running Batch
	// requests instead of the model's step (or decoder) directly.
	Engine bool
	// Devices are the projection targets (nil: DefaultLedgerDevices).
	Devices []LedgerDevice
}

// LedgerDevice is one GPU of the roofline projection and its stated
// assumptions.
type LedgerDevice struct {
	Name string `json:"name"`
	// BandwidthBytesPerS is the memory bandwidth (bytes/s).
	BandwidthBytesPerS float64 `json:"bandwidth_bytes_per_s"`
	// PeakFlopsF16 is the dense FP16/BF16 tensor-core peak (FLOP/s), used
	// for 16-bit weights.
	PeakFlopsF16 float64 `json:"peak_flops_f16"`
	// PeakFlopsF32 is the FP32 (non-tensor) peak (FLOP/s), used for F32
	// weights.
	PeakFlopsF32 float64 `json:"peak_flops_f32"`
	// LaunchSeconds is charged per kernel launched one by one.
	LaunchSeconds float64 `json:"launch_s"`
	// GraphLaunchSeconds is charged per graph replay.
	GraphLaunchSeconds float64 `json:"graph_launch_s"`
	// HostSyncSeconds is charged per host synchronization (a round trip).
	HostSyncSeconds float64 `json:"host_sync_s"`
	// PCIeBytesPerS is the host link's bandwidth for h2d and d2h bytes.
	PCIeBytesPerS float64 `json:"pcie_bytes_per_s"`
}

// DefaultLedgerDevices are H100 SXM and H200 with NVIDIA's datasheet
// bandwidths and dense peaks, and typical launch, synchronization and PCIe
// Gen5 costs.
func DefaultLedgerDevices() []LedgerDevice {
	common := LedgerDevice{PeakFlopsF16: 989e12, PeakFlopsF32: 67e12, LaunchSeconds: 2.5e-6,
		GraphLaunchSeconds: 4e-6, HostSyncSeconds: 10e-6, PCIeBytesPerS: 50e9}
	h100, h200 := common, common
	h100.Name, h100.BandwidthBytesPerS = "H100 SXM", 3.35e12
	h200.Name, h200.BandwidthBytesPerS = "H200", 4.8e12
	return []LedgerDevice{h100, h200}
}

// LedgerRun is the ledger of one batch size: the counters per decode step
// (averages over the counted steps; Steady says whether every step counted
// the same) and the projection.
type LedgerRun struct {
	Batch int `json:"batch"`
	// Steps is the number of counted steps.
	Steps  int  `json:"steps"`
	Steady bool `json:"steady"`

	// DeviceLoop says the steps ran on the device-resident decode loop
	// (engine.Decoder: ids, sampling and stop checks on the device, a
	// graph per step size) rather than engine.Model.Step with the logits
	// copied to the host.
	DeviceLoop bool `json:"device_loop"`
	// Engine says the steps were an engine.Engine's (Submit; the device
	// loop's when DeviceLoop): the counters between two consecutive decode
	// steps of every sequence, the engine's host work included.
	Engine bool `json:"engine,omitempty"`

	Launches         float64 `json:"launches"`
	LaunchesPerLayer float64 `json:"launches_per_layer"`
	GraphLaunches    float64 `json:"graph_launches"`
	HostSyncs        float64 `json:"host_syncs"`
	H2DBytes         float64 `json:"h2d_bytes"`
	D2HBytes         float64 `json:"d2h_bytes"`
	Allocations      float64 `json:"allocations"`

	// WeightBytesPerStep is what the matmuls must read per step (every
	// weight matrix but the embedding, once).
	WeightBytesPerStep int64 `json:"weight_bytes_per_step"`
	// StateBytesPerStep is the recurrent state read and written per step
	// (twice the state of Batch sequences).
	StateBytesPerStep int64 `json:"state_bytes_per_step"`
	// FlopsPerStep is 2 multiply-adds per weight per sequence.
	FlopsPerStep float64 `json:"flops_per_step"`
	// Projection is the roofline model's figure for each device.
	Projection []LedgerProjection `json:"projection"`
}

// LedgerProjection is the modelled decode step on one device.
type LedgerProjection struct {
	Device string `json:"device"`
	// StepSeconds = max(bytes / bandwidth, flops / peak) + launches ×
	// launch cost + graph launches × graph cost + host syncs × sync cost +
	// (h2d + d2h bytes) / PCIe bandwidth.
	StepSeconds   float64 `json:"step_s"`
	MemorySeconds float64 `json:"memory_s"`
	ComputeSecs   float64 `json:"compute_s"`
	OverheadSecs  float64 `json:"overhead_s"`
	// ProjectedTokS is Batch / StepSeconds.
	ProjectedTokS float64 `json:"projected_tok_s"`
}

// Ledger is the report of `rwkvgo bench ledger`.
type Ledger struct {
	// Kind labels the figures: the counters are counted, the projection
	// is a model.
	Kind        string         `json:"kind"`
	Model       ModelInfo      `json:"model"`
	WeightDType string         `json:"weight_dtype"`
	Runs        []LedgerRun    `json:"runs"`
	Devices     []LedgerDevice `json:"devices"`
	Assumptions []string       `json:"assumptions"`
}

// ErrNoCounters is returned by RunLedger for a backend without runtime
// counters (the pure-Go backend).
var ErrNoCounters = errors.New("bench: this backend has no runtime counters (backend.StatsReporter); the ledger needs the CUDA backend (on a GPU or the emulated library)")

// RunLedger counts what each steady-state decode step of m costs at every
// batch size of cfg and projects its speed on cfg.Devices.
func RunLedger(m *engine.Model, source string, cfg LedgerConfig) (*Ledger, error) {
	sr, ok := m.Backend().(backend.StatsReporter)
	if !ok {
		return nil, ErrNoCounters
	}
	if len(cfg.Batches) == 0 {
		return nil, errors.New("bench: no batch sizes")
	}
	for _, b := range cfg.Batches {
		if b < 1 {
			return nil, fmt.Errorf("bench: batch size %d (want at least 1)", b)
		}
	}
	if cfg.Steps < 1 {
		return nil, fmt.Errorf("bench: %d ledger steps (want at least 1)", cfg.Steps)
	}
	if cfg.Warmup < 0 {
		return nil, fmt.Errorf("bench: %d warmup steps (want at least 0)", cfg.Warmup)
	}
	devs := cfg.Devices
	if devs == nil {
		devs = DefaultLedgerDevices()
	}
	c := m.Config()
	nw, wb := m.MatMulWeights()
	dt, half := "F32", false
	switch {
	case nw > 0 && wb == 2*nw:
		dt, half = "F16/BF16", true
	case nw > 0 && wb < 4*nw:
		dt, half = fmt.Sprintf("quantized or mixed (%.2f bytes per weight)", float64(wb)/float64(nw)), true
	case nw > 0 && wb != 4*nw:
		dt = fmt.Sprintf("mixed (%.2f bytes per weight)", float64(wb)/float64(nw))
	}
	l := &Ledger{
		Kind:        "counted per decode step by the runtime; projection is a roofline model, not a measurement",
		Model:       DescribeModel(source, c),
		WeightDType: dt,
		Devices:     devs,
		Assumptions: []string{
			"counters are read before and after each decode step (one new token per sequence) after a one-token prefill and warmup steps; figures are per step, averaged over the counted steps",
			"device_loop: the steps are those of the device-resident decode loop (engine.Decoder: token ids, the fused sampler and stop checks on the device, the next step launched before the previous one's tokens are read, one graph replay per step), sampling with the default settings; otherwise engine.Model.Step with random token ids, its logits copied to the host",
			"engine: with --engine, the steps are those of an engine.Engine serving batch requests of a one-token prompt (Submit, default sampling settings), counted between consecutive steps in which every sequence decodes",
			"launches_per_layer = launches / layers (the head, embedding and sampling launches are spread over the layers)",
			"weight_bytes_per_step: every weight matrix but the embedding, read once per step at its device type; flops_per_step = 2 x weights x batch",
			"step_s = max((weight + state bytes) / bandwidth, flops / peak) + launches x launch_s + graph_launches x graph_launch_s + host_syncs x host_sync_s + (h2d + d2h bytes) / pcie_bytes_per_s: the per-step bytes and flops are pooled rather than charged launch by launch, activations and caches are ignored, and nothing overlaps",
			"peaks: FP16/BF16 dense tensor-core peak for 16-bit and quantized weights, FP32 peak for F32 weights (datasheet figures, not measured)",
		},
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1ed9e5))
	for _, batch := range cfg.Batches {
		run, err := ledgerRun(m, sr, batch, cfg, rng)
		if err != nil {
			return nil, err
		}
		run.WeightBytesPerStep = wb
		run.StateBytesPerStep = 2 * int64(batch) * 4 * int64(c.StateSize())
		run.FlopsPerStep = 2 * float64(nw) * float64(batch)
		for _, d := range devs {
			run.Projection = append(run.Projection, project(run, d, half))
		}
		l.Runs = append(l.Runs, run)
	}
	return l, nil
}

func ledgerRun(m *engine.Model, sr backend.StatsReporter, batch int, cfg LedgerConfig, rng *rand.Rand) (LedgerRun, error) {
	if cfg.Engine {
		return ledgerEngineRun(m, sr, batch, cfg, rng)
	}
	if _, ok := m.Backend().(backend.DeviceDecoder); ok {
		return ledgerDeviceRun(m, sr, batch, cfg, rng)
	}
	V := m.Config().Vocab
	run := LedgerRun{Batch: batch, Steps: cfg.Steps, Steady: true}
	reqs := make([]*engine.Request, batch)
	for i := range reqs {
		s, err := m.NewSession()
		if err != nil {
			return run, err
		}
		defer s.Close()
		reqs[i] = &engine.Request{Session: s}
	}
	one := make([][]int, batch)
	for i := range one {
		one[i] = make([]int, 1)
	}
	step := func() error {
		for i, r := range reqs {
			one[i][0] = rng.IntN(V)
			r.Tokens = one[i]
		}
		return m.Step(reqs)
	}
	for i := 0; i < 1+cfg.Warmup; i++ { // the prefill of one token, then warmup
		if err := step(); err != nil {
			return run, err
		}
	}
	return countSteps(m, sr, run, cfg, step)
}

// ledgerDeviceRun is ledgerRun on the device-resident decode loop: batch
// sequences admitted with a one-token prompt, then decode steps (each
// launches the next step and reads the previous one's tokens).
func ledgerDeviceRun(m *engine.Model, sr backend.StatsReporter, batch int, cfg LedgerConfig, rng *rand.Rand) (LedgerRun, error) {
	run := LedgerRun{Batch: batch, Steps: cfg.Steps, Steady: true, DeviceLoop: true}
	if batch > 256 {
		return run, fmt.Errorf("bench: batch %d: the device decode loop takes at most 256 sequences", batch)
	}
	d, err := m.NewDecoder(batch)
	if err != nil {
		return run, err
	}
	defer d.Close()
	reqs := make([]engine.DecodeRequest, batch)
	sc := sampler.DefaultConfig()
	sc.Seed = cfg.Seed
	budget := 2 + cfg.Warmup + cfg.Steps
	for i := range reqs {
		s, err := m.NewSession()
		if err != nil {
			return run, err
		}
		defer s.Close()
		reqs[i] = engine.DecodeRequest{Session: s, Prompt: []int{rng.IntN(m.Config().Vocab)}, Sampler: sc, Seq: uint64(i), MaxTokens: budget}
	}
	if _, err := d.Add(reqs); err != nil {
		return run, err
	}
	step := func() error {
		if err := d.Launch(); err != nil {
			return err
		}
		_, err := d.Read()
		return err
	}
	for i := 0; i < cfg.Warmup; i++ {
		if err := step(); err != nil {
			return run, err
		}
	}
	return countSteps(m, sr, run, cfg, step)
}

// ledgerEngineRun is ledgerRun through an engine.Engine: batch requests
// of a one-token prompt submitted at once; the counters are read by the
// engine's goroutine after each step in which every sequence decodes (on
// the device loop when the backend has one), and a counted step is the
// difference of two consecutive readings.
func ledgerEngineRun(m *engine.Model, sr backend.StatsReporter, batch int, cfg LedgerConfig, rng *rand.Rand) (LedgerRun, error) {
	_, dev := m.Backend().(backend.DeviceDecoder)
	run := LedgerRun{Batch: batch, Steps: cfg.Steps, Steady: true, DeviceLoop: dev && batch <= 256, Engine: true}
	want := cfg.Warmup + cfg.Steps + 1
	var (
		mu    sync.Mutex
		reads []backend.Stats
	)
	full := make(chan struct{})
	onStep := func(info engine.StepInfo) {
		if info.DecodeTokens != batch || info.Device != run.DeviceLoop {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(reads) < want {
			reads = append(reads, sr.Stats())
			if len(reads) == want {
				close(full)
			}
		}
	}
	e, err := engine.NewEngine(m, engine.EngineOptions{MaxBatch: batch, MaxQueue: batch, OnStep: onStep})
	if err != nil {
		return run, err
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := sampler.DefaultConfig()
	sc.Seed = cfg.Seed
	streams := make([]*engine.Stream, batch)
	for i := range streams {
		streams[i], err = e.Submit(ctx, engine.SubmitRequest{Prompt: []int{rng.IntN(m.Config().Vocab)}, Sampler: sc, Seq: uint64(i),
			MaxTokens: 1 << 30})
		if err != nil {
			return run, err
		}
	}
	// Every request runs until cancelled: a stream that ends first is a
	// failure, reported instead of waiting for ever.
	ended := make(chan error, batch)
	for _, st := range streams {
		go func() {
			_, err := st.Result()
			ended <- err
		}()
	}
	select {
	case <-full:
	case err := <-ended:
		if err == nil {
			err = errors.New("a request ended before the counted steps")
		}
		return run, fmt.Errorf("bench: engine ledger at batch %d: %w", batch, err)
	}
	cancel()
	for range streams {
		<-ended
	}
	mu.Lock()
	defer mu.Unlock()
	i := cfg.Warmup
	return sumSteps(m, run, cfg, func() (backend.Stats, error) {
		d := reads[i+1].Sub(reads[i])
		i++
		return d, nil
	})
}

// countSteps runs cfg.Steps counted steps and fills run's per-step figures.
func countSteps(m *engine.Model, sr backend.StatsReporter, run LedgerRun, cfg LedgerConfig, step func() error) (LedgerRun, error) {
	return sumSteps(m, run, cfg, func() (backend.Stats, error) {
		s0 := sr.Stats()
		if err := step(); err != nil {
			return backend.Stats{}, err
		}
		return sr.Stats().Sub(s0), nil
	})
}

// sumSteps sums cfg.Steps counted steps (each returns its counters) into
// run's per-step figures.
func sumSteps(m *engine.Model, run LedgerRun, cfg LedgerConfig, step func() (backend.Stats, error)) (LedgerRun, error) {
	var sum, first backend.Stats
	for i := 0; i < cfg.Steps; i++ {
		d, err := step()
		if err != nil {
			return run, err
		}
		if i == 0 {
			first = d
		} else if d.KernelLaunches != first.KernelLaunches || d.GraphLaunches != first.GraphLaunches || d.HostSyncs != first.HostSyncs ||
			d.H2DBytes != first.H2DBytes || d.D2HBytes != first.D2HBytes || d.Allocations != first.Allocations {
			run.Steady = false
		}
		sum.KernelLaunches += d.KernelLaunches
		sum.GraphLaunches += d.GraphLaunches
		sum.HostSyncs += d.HostSyncs
		sum.H2DBytes += d.H2DBytes
		sum.D2HBytes += d.D2HBytes
		sum.Allocations += d.Allocations
	}
	n := float64(cfg.Steps)
	run.Launches = float64(sum.KernelLaunches) / n
	run.LaunchesPerLayer = run.Launches / float64(max(m.Config().Layers, 1))
	run.GraphLaunches = float64(sum.GraphLaunches) / n
	run.HostSyncs = float64(sum.HostSyncs) / n
	run.H2DBytes = float64(sum.H2DBytes) / n
	run.D2HBytes = float64(sum.D2HBytes) / n
	run.Allocations = float64(sum.Allocations) / n
	return run, nil
}

// project applies the roofline model of one device to a counted step.
func project(r LedgerRun, d LedgerDevice, half bool) LedgerProjection {
	peak := d.PeakFlopsF32
	if half {
		peak = d.PeakFlopsF16
	}
	p := LedgerProjection{Device: d.Name}
	if d.BandwidthBytesPerS > 0 {
		p.MemorySeconds = float64(r.WeightBytesPerStep+r.StateBytesPerStep) / d.BandwidthBytesPerS
	}
	if peak > 0 {
		p.ComputeSecs = r.FlopsPerStep / peak
	}
	p.OverheadSecs = r.Launches*d.LaunchSeconds + r.GraphLaunches*d.GraphLaunchSeconds + r.HostSyncs*d.HostSyncSeconds
	if d.PCIeBytesPerS > 0 {
		p.OverheadSecs += (r.H2DBytes + r.D2HBytes) / d.PCIeBytesPerS
	}
	p.StepSeconds = max(p.MemorySeconds, p.ComputeSecs) + p.OverheadSecs
	if p.StepSeconds > 0 {
		p.ProjectedTokS = float64(r.Batch) / p.StepSeconds
	}
	return p
}

// Markdown writes the ledger as tables.
func (l *Ledger) Markdown(w io.Writer) {
	fmt.Fprintf(w, "# Step ledger: %s (%d layers, width %d, vocabulary %d, %s weights)\n\n", l.Model.Source, l.Model.Layers, l.Model.Width, l.Model.Vocab, l.WeightDType)
	fmt.Fprintf(w, "Counted per decode step by the runtime (steady state):\n\n")
	fmt.Fprintf(w, "| batch | launches | per layer | graph launches | host syncs | h2d bytes | d2h bytes | allocations | weight bytes | steady | device loop |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|\n")
	for _, r := range l.Runs {
		fmt.Fprintf(w, "| %d | %g | %.2f | %g | %g | %g | %g | %g | %d | %v | %v |\n", r.Batch, r.Launches, r.LaunchesPerLayer, r.GraphLaunches,
			r.HostSyncs, r.H2DBytes, r.D2HBytes, r.Allocations, r.WeightBytesPerStep, r.Steady, r.DeviceLoop)
	}
	fmt.Fprintf(w, "\nProjected decode tok/s (a roofline model, not a measurement):\n\n| batch |")
	for _, d := range l.Devices {
		fmt.Fprintf(w, " %s |", d.Name)
	}
	fmt.Fprintf(w, "\n|---:|%s\n", strings.Repeat("---:|", len(l.Devices)))
	for _, r := range l.Runs {
		fmt.Fprintf(w, "| %d |", r.Batch)
		for _, p := range r.Projection {
			fmt.Fprintf(w, " %.0f |", p.ProjectedTokS)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nAssumptions:\n\n")
	for _, a := range l.Assumptions {
		fmt.Fprintf(w, "- %s\n", a)
	}
	for _, d := range l.Devices {
		fmt.Fprintf(w, "- %s: %.3g B/s, FP16 peak %.3g FLOP/s, FP32 peak %.3g FLOP/s, launch %.3g s, graph launch %.3g s, host sync %.3g s, PCIe %.3g B/s\n",
			d.Name, d.BandwidthBytesPerS, d.PeakFlopsF16, d.PeakFlopsF32, d.LaunchSeconds, d.GraphLaunchSeconds, d.HostSyncSeconds, d.PCIeBytesPerS)
	}
}
