package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sort"
	"time"

	"github.com/rwkvgo/rwkvgo/bench/telemetry"
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// ScalingConfig configures the scaling study.
type ScalingConfig struct {
	// Contexts are the context lengths to decode at (sorted ascending).
	Contexts []int `json:"contexts"`
	// DecodeTokens timed decode steps at each context (default 32).
	DecodeTokens int `json:"decode_tokens"`
	// WarmupSteps untimed decode steps before them (default 2).
	WarmupSteps int `json:"warmup_steps"`
	// MinDecodeTime keeps decoding until each decode phase lasts this long.
	MinDecodeTime time.Duration `json:"min_decode_ns"`
	// Layers, Embd, Vocab and HeadSize give the shape shared by the RWKV-7
	// model and the transformer baseline (heads = Embd/HeadSize for both).
	Layers   int `json:"layers"`
	Embd     int `json:"width"`
	Vocab    int `json:"vocab"`
	HeadSize int `json:"head_size"`
	// RWKVFill is how RWKV reaches each context: "prefill" (default) feeds
	// the tokens for real, once, growing the context from one length to the
	// next; "none" decodes without advancing (RWKV's step never reads the
	// position, so its cost cannot depend on it).
	RWKVFill string `json:"rwkv_fill"`
	// Transformer selects whether to run the baseline (default true via
	// DefaultScaling).
	Transformer bool   `json:"transformer"`
	Seed        uint64 `json:"seed"`
}

// DefaultScaling is the default study: a 6-layer, width-512 shape with a
// 65536-token vocabulary, contexts 256 to 16384.
func DefaultScaling() ScalingConfig {
	return ScalingConfig{Contexts: []int{256, 1024, 4096, 16384}, DecodeTokens: 32, WarmupSteps: 2, Layers: 6, Embd: 512,
		Vocab: 65536, HeadSize: 64, RWKVFill: "prefill", Transformer: true, Seed: 1}
}

// ScalingPoint is one model at one context length.
type ScalingPoint struct {
	Model   string `json:"model"`
	Context int    `json:"context"`
	// DecodeMs summarises the per-token decode latency in milliseconds.
	DecodeMs   Summary `json:"decode_ms"`
	DecodeTokS float64 `json:"decode_tok_s"`
	// StateBytes is the per-sequence memory that depends on the context:
	// RWKV's recurrent state, the transformer's KV cache.
	StateBytes int64 `json:"state_bytes"`
	// Fill is how the context was reached ("prefill", "synthetic", "none")
	// and FillSeconds how long it took.
	Fill        string  `json:"fill"`
	FillSeconds float64 `json:"fill_seconds"`
	// Process memory during the decode phase (maxima of the telemetry
	// samples): resident set, Go heap, and on a GPU this process's device
	// memory and the device's utilization (NVML, mean).
	RSSBytes        uint64  `json:"rss_bytes"`
	GoHeapBytes     uint64  `json:"go_heap_bytes"`
	GPUProcMemBytes uint64  `json:"gpu_proc_mem_bytes,omitempty"`
	GPUMemUsedBytes uint64  `json:"gpu_mem_used_bytes,omitempty"`
	GPUUtilPct      float64 `json:"gpu_util_pct,omitempty"`
	DecodeSeconds   float64 `json:"decode_seconds"`
}

// ScalingResult is the study's outcome.
type ScalingResult struct {
	Config            ScalingConfig      `json:"config"`
	RWKV              ModelInfo          `json:"rwkv"`
	TransformerShape  *TransformerConfig `json:"transformer,omitempty"`
	TransformerParams int64              `json:"transformer_params,omitempty"`
	Points            []ScalingPoint     `json:"points"`
	// Ratios compare the largest context with the smallest, per model.
	Ratios []ScalingRatio `json:"ratios"`
}

// ScalingRatio is a model's value at the largest context divided by its value
// at the smallest.
type ScalingRatio struct {
	Model      string  `json:"model"`
	From       int     `json:"from_context"`
	To         int     `json:"to_context"`
	Latency    float64 `json:"latency_p50"`
	StateBytes float64 `json:"state_bytes"`
	RSS        float64 `json:"rss"`
}

// Model names used in ScalingPoint.Model.
const (
	ModelRWKV        = "rwkv7"
	ModelTransformer = "transformer"
)

// RunScaling runs the study on be: the RWKV-7 model at every context, then
// the transformer baseline (its KV cache filled synthetically with random
// keys and values: running the quadratic prefill would only cost time).
// Memory is measured after a garbage collection that returns freed memory to
// the system before each point, RWKV first so that the transformer's caches
// never inflate RWKV's figures.
func RunScaling(be backend.Backend, cfg ScalingConfig, env *Env) (*ScalingResult, error) {
	if len(cfg.Contexts) == 0 {
		return nil, errors.New("bench: no context lengths")
	}
	ctx := append([]int(nil), cfg.Contexts...)
	sort.Ints(ctx)
	for _, c := range ctx {
		if c < 1 {
			return nil, fmt.Errorf("bench: context length %d", c)
		}
	}
	cfg.Contexts = ctx
	if cfg.DecodeTokens <= 0 {
		cfg.DecodeTokens = 32
	}
	if cfg.WarmupSteps < 0 {
		cfg.WarmupSteps = 0
	}
	if cfg.HeadSize <= 0 {
		cfg.HeadSize = 64
	}
	switch cfg.RWKVFill {
	case "":
		cfg.RWKVFill = "prefill"
	case "prefill", "none":
	default:
		return nil, fmt.Errorf("bench: unknown RWKV fill %q (want prefill or none)", cfg.RWKVFill)
	}
	if cfg.Layers <= 0 || cfg.Embd <= 0 || cfg.Vocab <= 0 || cfg.Embd%cfg.HeadSize != 0 {
		return nil, fmt.Errorf("bench: bad shape: %d layers, width %d, vocab %d, head size %d", cfg.Layers, cfg.Embd, cfg.Vocab, cfg.HeadSize)
	}
	res := &ScalingResult{Config: cfg}
	p := env.progress()

	p.Begin("building RWKV-7 model", 0)
	m, err := SyntheticModel(weights.SynthConfig{Version: weights.V7, Layers: cfg.Layers, Embd: cfg.Embd, Vocab: cfg.Vocab,
		HeadSize: cfg.HeadSize, Seed: cfg.Seed}, be, 0)
	if err != nil {
		return nil, err
	}
	p.End("")
	res.RWKV = DescribeModel("synthetic", m.Config())
	pts, err := scaleRWKV(m, cfg, env)
	m.Close()
	res.Points = append(res.Points, pts...)
	if err != nil {
		return res, err
	}
	if cfg.Transformer {
		tc := TransformerConfig{Layers: cfg.Layers, Embd: cfg.Embd, Vocab: cfg.Vocab, Heads: cfg.Embd / cfg.HeadSize, Seed: cfg.Seed}
		p.Begin("building transformer baseline", 0)
		t, err := NewTransformer(be, tc)
		if err != nil {
			return res, err
		}
		p.End("")
		tcfg := t.Config()
		res.TransformerShape, res.TransformerParams = &tcfg, t.Params()
		pts, err := scaleTransformer(t, cfg, env)
		t.Close()
		res.Points = append(res.Points, pts...)
		if err != nil {
			return res, err
		}
	}
	res.Ratios = scalingRatios(res.Points)
	return res, nil
}

func settleMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// decodeLoop times steps until n are done and minTime has passed.
func decodeLoop(n, warmup int, minTime time.Duration, step func() error) ([]float64, time.Duration, error) {
	for i := 0; i < warmup; i++ {
		if err := step(); err != nil {
			return nil, 0, err
		}
	}
	var ms []float64
	start := time.Now()
	for i := 0; i < n || time.Since(start) < minTime; i++ {
		t := time.Now()
		if err := step(); err != nil {
			return nil, 0, err
		}
		ms = append(ms, float64(time.Since(t))/1e6)
	}
	return ms, time.Since(start), nil
}

func (e *Env) phaseStats(phase string) telemetry.PhaseStats {
	if e == nil || e.Sampler == nil {
		return telemetry.PhaseStats{}
	}
	for _, s := range telemetry.Summarize(e.Sampler.Samples()) {
		if s.Phase == phase {
			return s
		}
	}
	return telemetry.PhaseStats{}
}

func fillPoint(pt *ScalingPoint, st telemetry.PhaseStats) {
	pt.RSSBytes, pt.GoHeapBytes = st.MaxRSSBytes, st.MaxGoHeapBytes
	if pt.RSSBytes == 0 {
		pt.RSSBytes = telemetry.CurrentRSS()
	}
	if st.GPU {
		pt.GPUProcMemBytes, pt.GPUMemUsedBytes, pt.GPUUtilPct = st.MaxGPUProcBytes, st.MaxGPUMemBytes, st.MeanGPUUtilPct
	}
}

func scaleRWKV(m *engine.Model, cfg ScalingConfig, env *Env) ([]ScalingPoint, error) {
	p := env.progress()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5ca1e))
	V := m.Config().Vocab
	s, err := m.NewSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	pos := 0
	tok := []int{0}
	var pts []ScalingPoint
	for _, L := range cfg.Contexts {
		pt := ScalingPoint{Model: ModelRWKV, Context: L, StateBytes: 4 * int64(m.Config().StateSize()), Fill: cfg.RWKVFill}
		if cfg.RWKVFill == "prefill" && pos < L {
			tag := fmt.Sprintf("rwkv7/ctx=%d/prefill", L)
			env.phase(tag)
			p.Begin(tag, L-pos)
			t0 := time.Now()
			const chunk = 1024
			buf := make([]int, chunk)
			for pos < L {
				n := min(chunk, L-pos)
				for i := range buf[:n] {
					buf[i] = rng.IntN(V)
				}
				if _, err := s.Feed(buf[:n]); err != nil {
					return pts, err
				}
				pos += n
				p.Add(n)
			}
			pt.FillSeconds = time.Since(t0).Seconds()
			p.End(fmt.Sprintf("%.0f tok/s", float64(L)/pt.FillSeconds))
		}
		settleMemory()
		tag := fmt.Sprintf("rwkv7/ctx=%d/decode", L)
		env.phase(tag)
		p.Begin(tag, 0)
		ms, dur, err := decodeLoop(cfg.DecodeTokens, cfg.WarmupSteps, cfg.MinDecodeTime, func() error {
			tok[0] = rng.IntN(V)
			_, err := s.Feed(tok)
			return err
		})
		if err != nil {
			return pts, err
		}
		if cfg.RWKVFill == "prefill" {
			pos += cfg.WarmupSteps + len(ms)
		}
		env.sample()
		pt.DecodeMs, pt.DecodeSeconds = Summarize(ms), dur.Seconds()
		pt.DecodeTokS = 1e3 / pt.DecodeMs.P50
		fillPoint(&pt, env.phaseStats(tag))
		p.End(fmt.Sprintf("p50 %.2f ms/token, state %d bytes", pt.DecodeMs.P50, pt.StateBytes))
		pts = append(pts, pt)
	}
	return pts, nil
}

func scaleTransformer(t *Transformer, cfg ScalingConfig, env *Env) ([]ScalingPoint, error) {
	p := env.progress()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a5))
	V := t.Config().Vocab
	tok := []int{0}
	var pts []ScalingPoint
	for _, L := range cfg.Contexts {
		settleMemory()
		tag := fmt.Sprintf("transformer/ctx=%d/fill", L)
		env.phase(tag)
		p.Begin(tag, 0)
		t0 := time.Now()
		c, err := t.NewCache(L + cfg.WarmupSteps + cfg.DecodeTokens)
		if err == nil {
			err = c.FillSynthetic(L, cfg.Seed+uint64(L))
		}
		if err != nil {
			if c != nil {
				c.Close()
			}
			return pts, err
		}
		pt := ScalingPoint{Model: ModelTransformer, Context: L, StateBytes: c.Bytes(), Fill: "synthetic", FillSeconds: time.Since(t0).Seconds()}
		p.End("")
		tag = fmt.Sprintf("transformer/ctx=%d/decode", L)
		env.phase(tag)
		p.Begin(tag, 0)
		ms, dur, err := decodeLoop(cfg.DecodeTokens, cfg.WarmupSteps, cfg.MinDecodeTime, func() error {
			if c.Len() >= c.cap {
				// Past the planned steps (MinDecodeTime): decode the
				// same positions again, keeping the context near L.
				c.pos = L
			}
			tok[0] = rng.IntN(V)
			_, err := t.Step(c, tok)
			return err
		})
		env.sample()
		c.Close()
		if err != nil {
			return pts, err
		}
		pt.DecodeMs, pt.DecodeSeconds = Summarize(ms), dur.Seconds()
		pt.DecodeTokS = 1e3 / pt.DecodeMs.P50
		fillPoint(&pt, env.phaseStats(tag))
		p.End(fmt.Sprintf("p50 %.2f ms/token, KV cache %d bytes", pt.DecodeMs.P50, pt.StateBytes))
		pts = append(pts, pt)
	}
	return pts, nil
}

func scalingRatios(pts []ScalingPoint) []ScalingRatio {
	var out []ScalingRatio
	for _, model := range []string{ModelRWKV, ModelTransformer} {
		var first, last *ScalingPoint
		for i := range pts {
			if pts[i].Model != model {
				continue
			}
			if first == nil {
				first = &pts[i]
			}
			last = &pts[i]
		}
		if first == nil {
			continue
		}
		r := ScalingRatio{Model: model, From: first.Context, To: last.Context}
		if first.DecodeMs.P50 > 0 {
			r.Latency = last.DecodeMs.P50 / first.DecodeMs.P50
		}
		if first.StateBytes > 0 {
			r.StateBytes = float64(last.StateBytes) / float64(first.StateBytes)
		}
		if first.RSSBytes > 0 {
			r.RSS = float64(last.RSSBytes) / float64(first.RSSBytes)
		}
		out = append(out, r)
	}
	return out
}
