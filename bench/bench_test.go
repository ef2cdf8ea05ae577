package bench

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/bench/telemetry"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	cases := map[float64]float64{0: 1, 25: 2, 50: 3, 90: 4.6, 100: 5, -3: 1, 250: 5}
	for p, want := range cases {
		if got := Percentile(xs, p); math.Abs(got-want) > 1e-12 {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if xs[0] != 5 {
		t.Error("input modified")
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("empty percentile not NaN")
	}
	if Median([]float64{7}) != 7 || Median([]float64{1, 2}) != 1.5 {
		t.Error("median")
	}
	s := Summarize([]float64{4, 1, 3, 2})
	if s.N != 4 || s.Min != 1 || s.Max != 4 || s.Mean != 2.5 || s.P50 != 2.5 || math.Abs(s.P90-3.7) > 1e-12 {
		t.Errorf("summary %+v", s)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty summary")
	}
}

func TestPresets(t *testing.T) {
	p, err := LookupPreset("V7-0.1B")
	if err != nil || p.Layers != 12 || p.Embd != 768 || p.Vocab != 65536 || p.Version != weights.V7 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, n := range []string{"v7-0.4b", "v7-1.5b", "v7-3b", "v7-7b", "v4-tiny", "v5-tiny", "v6-tiny"} {
		if _, err := LookupPreset(n); err != nil {
			t.Error(err)
		}
	}
	if _, err := LookupPreset("v9-huge"); err == nil {
		t.Error("unknown preset accepted")
	}
}

func tinyE2E(t *testing.T, env *Env) *Report {
	t.Helper()
	p, _ := LookupPreset("v7-tiny")
	m, err := SyntheticModel(p.SynthConfig(1), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	runs, err := RunE2E(m, E2EConfig{PromptTokens: []int{8}, Batches: []int{1, 3}, DecodeTokens: 5, WarmupSteps: 1}, env)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport(KindE2E)
	info := DescribeModel("synthetic:"+p.Name, m.Config())
	r.Model = &info
	r.Device = Device{Backend: "cpu", Name: "test CPU", PeakBytesPerSec: 1e10, PeakFLOPs: 1e11, PeakSource: "test"}
	r.SetRuns(runs)
	return r
}

func TestE2E(t *testing.T) {
	var log bytes.Buffer
	smp := telemetry.NewSampler(nil, time.Hour)
	smp.Start()
	r := tinyE2E(t, &Env{Progress: NewProgress(&log, false), Sampler: smp})
	r.SetTelemetry(smp)
	if len(r.Runs) != 2 || r.Runs[1].Batch != 3 || r.Runs[1].DecodeSteps != 5 || len(r.Runs[1].StepMs) != 5 {
		t.Fatalf("runs %+v", r.Runs)
	}
	h := r.Headline
	if h == nil || h.Batch != 1 || h.PrefillTokS <= 0 || h.DecodeTokS <= 0 || h.DecodeMsP50 <= 0 || h.DecodeMsP90 < h.DecodeMsP50 {
		t.Fatalf("headline %+v", h)
	}
	if r.PeakRSSBytes == 0 {
		t.Error("no peak RSS")
	}
	phases := map[string]bool{}
	for _, p := range r.Phases {
		phases[p.Phase] = true
	}
	if !phases["prefill/batch=3/prompt=8"] || !phases["decode/batch=1/prompt=8"] {
		t.Errorf("phases %v", phases)
	}
	if !strings.Contains(log.String(), "decode batch=3/prompt=8 done in") {
		t.Errorf("progress:\n%s", log.String())
	}
}

// TestE2EPrefillRepeats: the reported prefill is the median of the timed
// prefills, after the untimed ones (their own telemetry phase), and decoding
// follows the last of them.
func TestE2EPrefillRepeats(t *testing.T) {
	p, _ := LookupPreset("v7-tiny")
	m, err := SyntheticModel(p.SynthConfig(1), nil, 1)
	require.NoError(t, err)
	defer m.Close()
	smp := telemetry.NewSampler(nil, time.Hour)
	smp.Start()
	env := &Env{Sampler: smp}
	runs, err := RunE2E(m, E2EConfig{PromptTokens: []int{8}, Batches: []int{2}, DecodeTokens: 3, PrefillWarmup: 1, PrefillRepeats: 3}, env)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	r := runs[0]
	assert.Equal(t, 3, r.PrefillMs.N)
	assert.True(t, r.PrefillMs.Min <= r.PrefillMs.P50 && r.PrefillMs.P50 <= r.PrefillMs.Max && r.PrefillMs.Min > 0, "%+v", r.PrefillMs)
	assert.Equal(t, r.PrefillMs.P50/1e3, r.PrefillSeconds)
	assert.InDelta(t, 16/r.PrefillSeconds, r.PrefillTokS, 1e-9*r.PrefillTokS)
	assert.Equal(t, 3, r.DecodeSteps)
	rep := NewReport(KindE2E)
	rep.SetTelemetry(smp)
	phases := map[string]bool{}
	for _, ph := range rep.Phases {
		phases[ph.Phase] = true
	}
	assert.True(t, phases["prefill-warmup/batch=2/prompt=8"] && phases["prefill/batch=2/prompt=8"], "phases %v", phases)

	one, err := RunE2E(m, E2EConfig{PromptTokens: []int{8}, Batches: []int{1}, DecodeTokens: 1}, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, one[0].PrefillMs.N, "one timed prefill by default")
}

func TestE2EErrors(t *testing.T) {
	p, _ := LookupPreset("v7-tiny")
	m, err := SyntheticModel(p.SynthConfig(1), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, cfg := range []E2EConfig{
		{PromptTokens: []int{1}, Batches: []int{1}},
		{PromptTokens: []int{0}, Batches: []int{1}, DecodeTokens: 1},
		{PromptTokens: []int{1}, Batches: []int{0}, DecodeTokens: 1},
		{DecodeTokens: 1},
		{PromptTokens: []int{1}, Batches: []int{1}, DecodeTokens: 1, PrefillWarmup: -1},
		{PromptTokens: []int{1}, Batches: []int{1}, DecodeTokens: 1, PrefillRepeats: -1},
	} {
		if _, err := RunE2E(m, cfg, nil); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := tinyE2E(t, nil)
	r.Notes = []string{"a note"}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	// The contract fields are top-level.
	for _, f := range []string{`"prefill_tok_s"`, `"decode_tok_s"`, `"decode_ms_p50"`, `"decode_ms_p90"`, `"peak_rss_bytes"`, `"schema_version": 1`} {
		if !strings.Contains(buf.String(), f) {
			t.Errorf("JSON lacks %s", f)
		}
	}
	got, err := ReadReport(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := got.WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != buf.String() {
		t.Errorf("round trip changed the report:\n%s\nvs\n%s", buf.String(), again.String())
	}
	bad := strings.Replace(buf.String(), `"schema_version": 1`, `"schema_version": 99`, 1)
	if _, err := ReadReport(strings.NewReader(bad)); err == nil {
		t.Error("future schema version accepted")
	}
	if _, err := ReadReport(strings.NewReader(`{"schema":"other","schema_version":1}`)); err == nil {
		t.Error("foreign schema accepted")
	}
	if _, err := ReadReport(strings.NewReader(`{`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestMarkdownE2E(t *testing.T) {
	r := tinyE2E(t, nil)
	r.Files = []string{"report.json", "throughput_batch.png"}
	var md bytes.Buffer
	r.Markdown(&md)
	s := md.String()
	for _, want := range []string{"# rwkvgo benchmark: End-to-end throughput", "| batch | prompt |", "| 3 | 8 |", "synthetic:v7-tiny",
		"![throughput_batch.png](throughput_batch.png)", "- [report.json](report.json)"} {
		if !strings.Contains(s, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, s)
		}
	}
}

func isPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG image (%d bytes)", path, len(b))
	}
}

func TestE2EFiles(t *testing.T) {
	r := tinyE2E(t, nil)
	dir := filepath.Join(t.TempDir(), "out")
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "report.md", "throughput_batch.png", "decode_steps.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	isPNG(t, filepath.Join(dir, "throughput_batch.png"))
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadReport(f)
	if err != nil || len(got.Files) != 4 {
		t.Fatalf("%v %v", got.Files, err)
	}
}

// TestScalingSmall runs the study on a tiny shape: RWKV's state is constant,
// the transformer's KV cache grows linearly, and the files are written.
func TestScalingSmall(t *testing.T) {
	be := cpu.New(2)
	defer be.Close()
	cfg := ScalingConfig{Contexts: []int{128, 32}, DecodeTokens: 4, WarmupSteps: 1, Layers: 2, Embd: 64, Vocab: 128,
		HeadSize: 16, Transformer: true, Seed: 3}
	smp := telemetry.NewSampler(nil, time.Hour)
	smp.Start()
	res, err := RunScaling(be, cfg, &Env{Sampler: smp})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 4 {
		t.Fatalf("%d points", len(res.Points))
	}
	rw, tr := res.Points[:2], res.Points[2:]
	if rw[0].Context != 32 || rw[1].Context != 128 || rw[0].Model != ModelRWKV || tr[0].Model != ModelTransformer {
		t.Fatalf("points %+v", res.Points)
	}
	if rw[0].StateBytes != rw[1].StateBytes || rw[0].StateBytes != 2*(2+16)*64*4 {
		t.Errorf("RWKV state bytes %d, %d", rw[0].StateBytes, rw[1].StateBytes)
	}
	if tr[0].StateBytes != 2*4*2*64*32 || tr[1].StateBytes != 4*tr[0].StateBytes {
		t.Errorf("KV bytes %d, %d", tr[0].StateBytes, tr[1].StateBytes)
	}
	for _, p := range res.Points {
		if p.DecodeMs.N != 4 || p.DecodeMs.P50 <= 0 || p.RSSBytes == 0 || p.GoHeapBytes == 0 {
			t.Errorf("point %+v", p)
		}
	}
	if len(res.Ratios) != 2 || res.Ratios[0].StateBytes != 1 || res.Ratios[1].StateBytes != 4 || res.Ratios[1].From != 32 || res.Ratios[1].To != 128 {
		t.Errorf("ratios %+v", res.Ratios)
	}
	r := NewReport(KindScaling)
	r.Scaling = res
	r.SetTelemetry(smp)
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	isPNG(t, filepath.Join(dir, "scaling_latency.png"))
	isPNG(t, filepath.Join(dir, "scaling_memory.png"))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Summary", "**rwkv7**: from context 32 to 128", "state bytes x1.00", "KV-cache bytes x4.00", "| transformer | 128 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

func TestScalingErrors(t *testing.T) {
	be := cpu.New(1)
	defer be.Close()
	base := ScalingConfig{Contexts: []int{8}, Layers: 1, Embd: 32, Vocab: 16, HeadSize: 16}
	bad := []func(*ScalingConfig){
		func(c *ScalingConfig) { c.Contexts = nil },
		func(c *ScalingConfig) { c.Contexts = []int{0} },
		func(c *ScalingConfig) { c.HeadSize = 24 },
		func(c *ScalingConfig) { c.RWKVFill = "magic" },
		func(c *ScalingConfig) { c.Layers = 0 },
	}
	for i, f := range bad {
		c := base
		f(&c)
		if _, err := RunScaling(be, c, nil); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

func TestTransformerPrefillEqualsDecode(t *testing.T) {
	be := cpu.New(2)
	defer be.Close()
	tr, err := NewTransformer(be, TransformerConfig{Layers: 2, Embd: 32, Vocab: 50, Heads: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	toks := []int{3, 1, 4, 1, 5, 9, 2, 6}
	c1, _ := tr.NewCache(16)
	all, err := tr.Step(c1, toks)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), all...)
	c2, _ := tr.NewCache(16)
	var got []float32
	for _, tok := range toks {
		if got, err = tr.Step(c2, []int{tok}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range want {
		if math.Abs(float64(want[i]-got[i])) > 1e-4 {
			t.Fatalf("logit %d: %v in one step, %v one at a time", i, want[i], got[i])
		}
	}
	if c2.Len() != 8 || c2.Bytes() != 2*4*2*32*8 {
		t.Errorf("cache %d positions, %d bytes", c2.Len(), c2.Bytes())
	}
	if _, err := tr.Step(c2, make([]int, 9)); err == nil {
		t.Error("overfull cache accepted")
	}
	if _, err := tr.Step(c2, []int{50}); err == nil {
		t.Error("token out of range accepted")
	}
	if err := c1.FillSynthetic(9, 1); err == nil {
		t.Error("overfilled cache accepted")
	}
	c1.Close()
	if _, err := tr.Step(c1, []int{1}); err == nil {
		t.Error("closed cache accepted")
	}
	if _, err := NewTransformer(be, TransformerConfig{Layers: 1, Embd: 30, Vocab: 5, Heads: 4}); err == nil {
		t.Error("heads not dividing width accepted")
	}
}

func TestKernelsAndProfile(t *testing.T) {
	be := cpu.New(1)
	defer be.Close()
	p, _ := LookupPreset("v7-tiny")
	dev := Device{Backend: "cpu", Name: "test", PeakBytesPerSec: 1e10, PeakFLOPs: 1e11, CacheBytes: 1 << 20}
	res, err := RunKernels(be, KernelConfig{Shapes: []Preset{p}, Rows: []int{1, 2}, Repeats: 3, Warmup: 1, Flush: true, Context: 64}, dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, k := range res {
		ops[k.Op] = true
		if k.Us.N != 3 || k.Us.P50 <= 0 || k.Bytes <= 0 || k.GBs <= 0 || k.PeakBWFrac <= 0 {
			t.Errorf("%+v", k)
		}
	}
	for _, op := range []string{"Embed", "LayerNorm", "GroupNorm", "MatMul", "MatMulT", "Map/Sigmoid", "Zip/Add", "Slice", "GatherRows", "Shift", "Mix",
		"WKV4", "WKV5", "WKV7", "KeyV7", "ValueV7", "BonusV7", "Attention", "Read", "Write", "MatMulGroup", "AddNormShiftMix", "AddNormShiftMixLoRA"} {
		if !ops[op] {
			t.Errorf("no %s benchmark", op)
		}
	}
	only, err := RunKernels(be, KernelConfig{Shapes: []Preset{p}, Repeats: 2, Ops: []string{"WKV7"}}, dev, nil)
	if err != nil || len(only) != 1 || only[0].Op != "WKV7" {
		t.Fatalf("%v %v", only, err)
	}
	var buf bytes.Buffer
	if err := WriteProfile(&buf, KernelTimes(res), "test"); err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(prof.Sample) != len(res) || len(prof.SampleType) != 2 || prof.SampleType[1].Unit != "nanoseconds" {
		t.Errorf("profile: %d samples, types %v", len(prof.Sample), prof.SampleType)
	}
	r := NewReport(KindKernels)
	r.Kernels = res
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	isPNG(t, filepath.Join(dir, "kernels_bandwidth.png"))
}

func TestTimedBackend(t *testing.T) {
	tb := NewTimedBackend(cpu.New(1))
	defer tb.Close()
	p, _ := LookupPreset("v7-tiny")
	m, err := SyntheticModel(p.SynthConfig(1), tb, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession()
	tb.SetPhase("prefill")
	if _, err := s.Feed([]int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	tb.SetPhase("decode")
	if _, err := s.Feed([]int{4}); err != nil {
		t.Fatal(err)
	}
	times := tb.Times()
	found := map[string]int64{}
	for _, x := range times {
		found[x.Phase+" "+x.Op] += x.Calls
	}
	// 2 layers x 4 projections (r, k, v, o) + ffn + LoRAs + head per step;
	// the channel mix's value projection is MatMulT, once per layer.
	if found["decode MatMul"] < 8 || found["decode MatMulT"] != 2 || found["prefill WKV7"] != 2 || found["decode WKV7"] != 2 {
		t.Errorf("times %v", found)
	}
}

func TestProgress(t *testing.T) {
	var plain bytes.Buffer
	p := NewProgress(&plain, false)
	p.Begin("task", 100)
	for i := 0; i < 100; i++ {
		p.Add(1)
	}
	p.End("ok")
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 12 || lines[0] != "task ..." || !strings.HasPrefix(lines[11], "task done in") || !strings.HasSuffix(lines[11], ": ok") {
		t.Errorf("plain progress:\n%s", plain.String())
	}
	var tty bytes.Buffer
	p = NewProgress(&tty, true)
	p.Begin("bar", 4)
	p.Add(2)
	if !strings.Contains(tty.String(), "\r\033[K[===============               ]  50% bar") {
		t.Errorf("bar %q", tty.String())
	}
	var nilP *Progress
	nilP.Begin("x", 1)
	nilP.Add(1)
	nilP.End("")
	nilP.Logf("x")
}
