package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rwkvgo/rwkvgo/bench"
	"github.com/rwkvgo/rwkvgo/bench/telemetry"
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
)

func init() {
	register(&command{name: "bench", summary: "benchmarks: end-to-end throughput, `bench scaling` (RWKV vs transformer), `bench kernels`, `bench ledger` (runtime counters per decode step)", run: runBench})
}

// parseInts parses a comma-separated list of positive integers.
func parseInts(flagName, s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 {
			return nil, usagef("--%s: %q is not a positive integer", flagName, p)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, usagef("--%s needs at least one value", flagName)
	}
	return out, nil
}

// commonBench are the flags shared by every bench mode.
type commonBench struct {
	backend    string
	threads    int
	jsonOut    bool
	out        string
	cpuprofile string
	interval   time.Duration
	gpu        int
	seed       uint64
}

func (c *commonBench) register(fs *flag.FlagSet, defaultOut string) {
	fs.StringVar(&c.backend, "backend", "cpu", "backend: cpu (pure Go; \"ref\" is the same) or cuda (available in this binary: "+strings.Join(backend.Names(), ", ")+")")
	fs.IntVar(&c.threads, "threads", 0, "CPU threads for the pure-Go backend (0: all cores)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as one JSON object instead of Markdown")
	fs.StringVar(&c.out, "out", defaultOut, "directory for report.json, report.md and the plots")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a Go CPU profile to this file")
	fs.DurationVar(&c.interval, "telemetry-interval", 100*time.Millisecond, "telemetry sampling interval")
	fs.IntVar(&c.gpu, "gpu", 0, "GPU index for NVML telemetry (device backends)")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed (weights and token ids)")
}

func (c *commonBench) validate() error {
	if c.threads < 0 {
		return usagef("--threads must not be negative")
	}
	if c.interval <= 0 {
		return usagef("--telemetry-interval must be positive")
	}
	return nil
}

// session holds what a bench run sets up: backend, telemetry, progress, profile.
type benchSession struct {
	be       backend.Backend
	env      *bench.Env
	gpu      *telemetry.GPUInfo
	src      telemetry.Source
	notes    []string
	stopProf func()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (c *commonBench) start(stderr io.Writer) (*benchSession, error) {
	s := &benchSession{stopProf: func() {}}
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		s.stopProf = func() {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
	be, err := backend.Open(c.backend, c.threads)
	if err != nil {
		s.stopProf()
		if errors.Is(err, backend.ErrNotBuilt) {
			return nil, err
		}
		return nil, usageError{err}
	}
	s.be = be
	if !isCPU(c.backend) {
		nv, err := telemetry.OpenGPU(c.gpu)
		if err != nil {
			s.notes = append(s.notes, fmt.Sprintf("GPU telemetry unavailable (%v): sampled process memory only", err))
		} else {
			info := nv.Info()
			s.gpu, s.src = &info, nv
		}
	}
	smp := telemetry.NewSampler(s.src, c.interval)
	smp.Start()
	s.env = &bench.Env{Progress: bench.NewProgress(stderr, isTerminal(stderr)), Sampler: smp}
	return s, nil
}

func (s *benchSession) close() {
	s.env.Sampler.Stop()
	if s.src != nil {
		s.src.Close()
	}
	s.be.Close()
	s.stopProf()
}

// finish writes the report: files under --out, then JSON or Markdown on stdout.
func (c *commonBench) finish(r *bench.Report, s *benchSession, args []string, stdout io.Writer) error {
	r.Command = "rwkvgo " + strings.Join(args, " ")
	r.Notes = append(r.Notes, s.notes...)
	r.SetTelemetry(s.env.Sampler)
	if c.out != "" {
		if err := r.WriteFiles(c.out); err != nil {
			return err
		}
		s.env.Progress.Logf("wrote %s", strings.Join(prefixAll(c.out, r.Files), ", "))
	}
	if c.jsonOut {
		return r.WriteJSON(stdout)
	}
	r.Markdown(stdout)
	return nil
}

func prefixAll(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "scaling":
			return runBenchScaling(args, stdout, stderr)
		case "kernels":
			return runBenchKernels(args, stdout, stderr)
		case "ledger":
			return runBenchLedger(args, stdout, stderr)
		}
	}
	fs := newFlagSet("bench", stderr)
	var c commonBench
	c.register(fs, "")
	model := fs.String("model", "", "model file (rwkv.cpp .bin, .safetensors/.st or .pth)")
	synthetic := fs.String("synthetic", "", "synthetic model: "+strings.Join(bench.PresetNames(), ", "))
	prompt := fs.String("prompt-tokens", "128", "prompt length(s) to prefill, comma-separated")
	decode := fs.Int("decode-tokens", 32, "timed decode steps")
	batch := fs.String("batch", "1", "batch size(s), comma-separated (the first is the headline)")
	warmup := fs.Int("warmup", 1, "untimed decode steps before the timed ones")
	prefillWarmup := fs.Int("prefill-warmup", 0, "untimed prefills before the timed ones (each on fresh sessions)")
	prefillRepeats := fs.Int("prefill-repeats", 1, "timed prefills, each on fresh sessions with the same prompts; the report gives their median")
	minDecode := fs.Duration("min-decode-time", 0, "keep decoding until the decode phase lasts this long (NVML's window)")
	kprof := fs.String("kernel-profile", "", "time every backend operation and write a pprof profile of it to this file")
	quantize := fs.String("quantize", "", quantizeUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	quant, err := engine.ParseQuantization(*quantize)
	if err != nil {
		return usagef("--quantize: %v", err)
	}
	if (*model == "") == (*synthetic == "") {
		return usagef("exactly one of --model and --synthetic is required")
	}
	prompts, err := parseInts("prompt-tokens", *prompt)
	if err != nil {
		return err
	}
	batches, err := parseInts("batch", *batch)
	if err != nil {
		return err
	}
	if *decode < 1 {
		return usagef("--decode-tokens must be at least 1")
	}
	if *warmup < 0 || *prefillWarmup < 0 {
		return usagef("--warmup and --prefill-warmup must not be negative")
	}
	if *prefillRepeats < 1 {
		return usagef("--prefill-repeats must be at least 1")
	}
	var preset bench.Preset
	if *synthetic != "" {
		if preset, err = bench.LookupPreset(*synthetic); err != nil {
			return usageError{err}
		}
	}
	s, err := c.start(stderr)
	if err != nil {
		return err
	}
	defer s.close()
	be := s.be
	var timed *bench.TimedBackend
	if *kprof != "" {
		timed = bench.NewTimedBackend(be)
		be = timed
	}
	// The device's peaks first: the bandwidth probe's buffers are freed
	// before the model loads, so the run's peak memory is the model's.
	device := bench.DescribeDevice(s.be, c.threads, s.gpu)
	p := s.env.Progress
	source := *model
	var m *engine.Model
	p.Begin("loading model", 0)
	if *synthetic != "" {
		source = "synthetic:" + preset.Name
		m, err = bench.SyntheticModelWith(preset.SynthConfig(c.seed), engine.Options{Backend: be, Threads: c.threads, Quantize: quant})
	} else {
		m, err = engine.Load(*model, engine.Options{Backend: be, Threads: c.threads, Quantize: quant})
	}
	if err != nil {
		return err
	}
	defer m.Close()
	p.End(m.Config().String())
	r := bench.NewReport(bench.KindE2E)
	info := bench.DescribeModel(source, m.Config())
	r.Model = &info
	r.Device = device
	if timed != nil {
		s.env.OnPhase = timed.SetPhase
	}
	runs, err := bench.RunE2E(m, bench.E2EConfig{PromptTokens: prompts, Batches: batches, DecodeTokens: *decode,
		WarmupSteps: *warmup, PrefillWarmup: *prefillWarmup, PrefillRepeats: *prefillRepeats, MinDecodeTime: *minDecode, Seed: c.seed}, s.env)
	if err != nil {
		return err
	}
	r.SetRuns(runs)
	if *prefillRepeats > 1 || *prefillWarmup > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("prefill: the median of %d timed prefills after %d untimed ones, each on fresh sessions with the same prompts", *prefillRepeats, *prefillWarmup))
	}
	if timed != nil {
		r.OpTimes = timed.Times()
		if err := writeProfile(*kprof, r.OpTimes, r.Device.Name); err != nil {
			return err
		}
		r.Notes = append(r.Notes, "operation times were taken with every operation timed individually (--kernel-profile); throughput figures include that overhead")
	}
	return c.finish(r, s, append([]string{"bench"}, args...), stdout)
}

func writeProfile(path string, times []bench.OpTime, device string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = bench.WriteProfile(f, times, device)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func runBenchScaling(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench scaling", stderr)
	var c commonBench
	c.register(fs, "bench-scaling")
	d := bench.DefaultScaling()
	contexts := fs.String("contexts", "256,1024,4096,16384", "context lengths, comma-separated")
	fs.IntVar(&d.Layers, "layers", d.Layers, "layers of both models")
	fs.IntVar(&d.Embd, "width", d.Embd, "width of both models")
	fs.IntVar(&d.Vocab, "vocab", d.Vocab, "vocabulary of both models")
	fs.IntVar(&d.HeadSize, "head-size", d.HeadSize, "head size of both models")
	fs.IntVar(&d.DecodeTokens, "decode-tokens", d.DecodeTokens, "timed decode steps per point")
	fs.IntVar(&d.WarmupSteps, "warmup", d.WarmupSteps, "untimed decode steps per point")
	fs.DurationVar(&d.MinDecodeTime, "min-decode-time", 0, "keep decoding until each decode phase lasts this long (0: 1.2s with GPU telemetry)")
	fs.StringVar(&d.RWKVFill, "rwkv-fill", d.RWKVFill, "how RWKV reaches each context: prefill (real tokens) or none")
	noTrans := fs.Bool("no-transformer", false, "skip the transformer baseline")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	ctx, err := parseInts("contexts", *contexts)
	if err != nil {
		return err
	}
	d.Contexts, d.Transformer, d.Seed = ctx, !*noTrans, c.seed
	if d.Layers < 1 || d.Embd < 1 || d.Vocab < 1 || d.HeadSize < 1 || d.Embd%d.HeadSize != 0 {
		return usagef("bad shape: --layers, --width, --vocab and --head-size must be positive and the head size must divide the width")
	}
	if d.DecodeTokens < 1 || d.WarmupSteps < 0 {
		return usagef("--decode-tokens must be at least 1 and --warmup not negative")
	}
	if d.RWKVFill != "prefill" && d.RWKVFill != "none" {
		return usagef("--rwkv-fill must be prefill or none")
	}
	if c.out == "" {
		return usagef("--out must name a directory")
	}
	s, err := c.start(stderr)
	if err != nil {
		return err
	}
	defer s.close()
	if d.MinDecodeTime == 0 && s.gpu != nil {
		d.MinDecodeTime = 1200 * time.Millisecond
	}
	r := bench.NewReport(bench.KindScaling)
	r.Device = bench.DescribeDevice(s.be, c.threads, s.gpu)
	res, err := bench.RunScaling(s.be, d, s.env)
	if err != nil {
		return err
	}
	r.Scaling = res
	info := res.RWKV
	r.Model = &info
	return c.finish(r, s, append([]string{"bench"}, args...), stdout)
}

func runBenchKernels(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench kernels", stderr)
	var c commonBench
	c.register(fs, "")
	shapes := fs.String("shapes", "v7-0.1b", "model shapes, comma-separated (e.g. v7-0.1b,v7-0.4b,v7-1.5b,v7-3b,v7-7b)")
	rows := fs.String("rows", "1", "rows per operation (decode batch), comma-separated")
	repeats := fs.Int("repeats", 20, "timed calls per operation")
	warmup := fs.Int("warmup", 3, "untimed calls per operation")
	noFlush := fs.Bool("no-flush", false, "do not evict the caches between timed calls")
	context := fs.Int("context", 4096, "KV-cache length of the Attention benchmark")
	dtype := fs.String("dtype", "F32", "weight matrix type: F32, F16 or BF16")
	ops := fs.String("ops", "", "only these operations, comma-separated (e.g. MatMul,WKV7)")
	kprof := fs.String("kernel-profile", "", "also write the timings as a pprof profile to this file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	cfg := bench.KernelConfig{Repeats: *repeats, Warmup: *warmup, Flush: !*noFlush, Context: *context}
	for _, n := range strings.Split(*shapes, ",") {
		p, err := bench.LookupPreset(strings.TrimSpace(n))
		if err != nil {
			return usageError{err}
		}
		cfg.Shapes = append(cfg.Shapes, p)
	}
	var err error
	if cfg.Rows, err = parseInts("rows", *rows); err != nil {
		return err
	}
	if *repeats < 1 || *warmup < 0 || *context < 1 {
		return usagef("--repeats and --context must be at least 1, --warmup not negative")
	}
	switch strings.ToUpper(*dtype) {
	case "F32":
		cfg.WeightType = backend.F32
	case "F16":
		cfg.WeightType = backend.F16
	case "BF16":
		cfg.WeightType = backend.BF16
	default:
		return usagef("--dtype must be F32, F16 or BF16")
	}
	for _, o := range strings.Split(*ops, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.Ops = append(cfg.Ops, o)
		}
	}
	s, err := c.start(stderr)
	if err != nil {
		return err
	}
	defer s.close()
	r := bench.NewReport(bench.KindKernels)
	r.Device = bench.DescribeDevice(s.be, c.threads, s.gpu)
	res, err := bench.RunKernels(s.be, cfg, r.Device, s.env)
	if err != nil {
		return err
	}
	r.Kernels = res
	if *kprof != "" {
		if err := writeProfile(*kprof, bench.KernelTimes(res), r.Device.Name); err != nil {
			return err
		}
	}
	if _, ok := s.be.(backend.VendorMatMuler); !ok {
		r.Notes = append(r.Notes, "no vendor matrix library on this backend: MatMul is not compared (the CUDA backend compares with cuBLAS)")
	}
	r.Notes = append(r.Notes, bench.VendorNotes(res)...)
	return c.finish(r, s, append([]string{"bench"}, args...), stdout)
}
