package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rwkvgo/rwkvgo/engine"
)

// E2EConfig configures the end-to-end benchmark.
type E2EConfig struct {
	// PromptTokens lists the prompt lengths to prefill (each >= 1).
	PromptTokens []int
	// Batches lists the numbers of concurrent sequences (each >= 1).
	Batches []int
	// DecodeTokens is the number of timed decode steps (>= 1).
	DecodeTokens int
	// WarmupSteps untimed decode steps run first (default 0).
	WarmupSteps int
	// PrefillWarmup untimed prefills of each configuration run first
	// (default 0), each on fresh sessions.
	PrefillWarmup int
	// PrefillRepeats is the number of timed prefills of each configuration
	// (0 or 1: one), each on fresh sessions at the initial state with the
	// same prompts; the reported prefill is their median, and decoding
	// continues from the last one.
	PrefillRepeats int
	// MinDecodeTime keeps decoding past DecodeTokens steps until the decode
	// phase has lasted this long (for NVML's utilization window on a GPU).
	MinDecodeTime time.Duration
	// Seed draws the (random, uniform) token ids.
	Seed uint64
}

// E2ERun is the result of one (batch, prompt length) configuration.
type E2ERun struct {
	Batch        int `json:"batch"`
	PromptTokens int `json:"prompt_tokens"`
	DecodeSteps  int `json:"decode_steps"`
	// PrefillSeconds is the wall time of the batched prefill step (every
	// sequence's prompt in one engine.Model.Step), the median of the timed
	// prefills.
	PrefillSeconds float64 `json:"prefill_seconds"`
	// PrefillTokS is Batch*PromptTokens / PrefillSeconds.
	PrefillTokS float64 `json:"prefill_tok_s"`
	// PrefillMs summarises the timed prefills' wall times in milliseconds.
	PrefillMs Summary `json:"prefill_ms"`
	// DecodeTokS is Batch / the median decode step time.
	DecodeTokS float64 `json:"decode_tok_s"`
	// DecodeMs summarises the decode step times in milliseconds (one step
	// decodes one token for each of the Batch sequences).
	DecodeMs Summary `json:"decode_ms"`
	// StepMs is every decode step's time in milliseconds, in order.
	StepMs []float64 `json:"step_ms"`
	// StateBytes is the recurrent state of all Batch sequences.
	StateBytes int64 `json:"state_bytes"`
}

// RunE2E measures prefill and decode throughput of m for every combination of
// cfg.Batches and cfg.PromptTokens. Token ids are drawn at random: sampling is
// not part of the measurement (decode feeds random ids, not the argmax).
func RunE2E(m *engine.Model, cfg E2EConfig, env *Env) ([]E2ERun, error) {
	if len(cfg.Batches) == 0 || len(cfg.PromptTokens) == 0 {
		return nil, errors.New("bench: no batch sizes or prompt lengths")
	}
	if cfg.DecodeTokens < 1 {
		return nil, fmt.Errorf("bench: %d decode tokens (want at least 1)", cfg.DecodeTokens)
	}
	if cfg.PrefillWarmup < 0 || cfg.PrefillRepeats < 0 {
		return nil, fmt.Errorf("bench: %d warm-up and %d timed prefills (want at least 0)", cfg.PrefillWarmup, cfg.PrefillRepeats)
	}
	for _, b := range cfg.Batches {
		if b < 1 {
			return nil, fmt.Errorf("bench: batch size %d (want at least 1)", b)
		}
	}
	for _, p := range cfg.PromptTokens {
		if p < 1 {
			return nil, fmt.Errorf("bench: prompt of %d tokens (want at least 1)", p)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xe2e))
	var runs []E2ERun
	for _, batch := range cfg.Batches {
		for _, prompt := range cfg.PromptTokens {
			r, err := runE2E(m, cfg, batch, prompt, rng, env)
			if err != nil {
				return runs, err
			}
			runs = append(runs, r)
		}
	}
	return runs, nil
}

func runE2E(m *engine.Model, cfg E2EConfig, batch, prompt int, rng *rand.Rand, env *Env) (E2ERun, error) {
	V := m.Config().Vocab
	run := E2ERun{Batch: batch, PromptTokens: prompt, StateBytes: int64(batch) * 4 * int64(m.Config().StateSize())}
	prompts := make([][]int, batch)
	for i := range prompts {
		prompts[i] = make([]int, prompt)
		for j := range prompts[i] {
			prompts[i][j] = rng.IntN(V)
		}
	}
	// Every prefill runs on fresh sessions; those of the last one decode.
	var reqs []*engine.Request
	closeAll := func() {
		for _, r := range reqs {
			r.Session.Close()
		}
		reqs = nil
	}
	defer closeAll()
	prefill := func() (float64, error) {
		closeAll()
		for _, toks := range prompts {
			s, err := m.NewSession()
			if err != nil {
				return 0, err
			}
			reqs = append(reqs, &engine.Request{Session: s, Tokens: toks})
		}
		t0 := time.Now()
		if err := m.Step(reqs); err != nil {
			return 0, err
		}
		return time.Since(t0).Seconds(), nil
	}
	tag := fmt.Sprintf("batch=%d/prompt=%d", batch, prompt)
	p := env.progress()
	repeats := max(cfg.PrefillRepeats, 1)
	p.Begin("prefill "+tag, cfg.PrefillWarmup+repeats)
	if cfg.PrefillWarmup > 0 {
		env.phase("prefill-warmup/" + tag)
	}
	for range cfg.PrefillWarmup {
		if _, err := prefill(); err != nil {
			return run, err
		}
		p.Add(1)
	}
	env.phase("prefill/" + tag)
	var ms []float64
	for range repeats {
		sec, err := prefill()
		if err != nil {
			return run, err
		}
		ms = append(ms, sec*1e3)
		p.Add(1)
	}
	env.sample()
	run.PrefillMs = Summarize(ms)
	run.PrefillSeconds = run.PrefillMs.P50 / 1e3
	run.PrefillTokS = float64(batch*prompt) / run.PrefillSeconds
	p.End(fmt.Sprintf("%.1f tok/s", run.PrefillTokS))

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
	for i := 0; i < cfg.WarmupSteps; i++ {
		if err := step(); err != nil {
			return run, err
		}
	}
	p.Begin("decode "+tag, cfg.DecodeTokens)
	env.phase("decode/" + tag)
	start := time.Now()
	for i := 0; i < cfg.DecodeTokens || time.Since(start) < cfg.MinDecodeTime; i++ {
		t := time.Now()
		if err := step(); err != nil {
			return run, err
		}
		run.StepMs = append(run.StepMs, float64(time.Since(t))/1e6)
		if i < cfg.DecodeTokens {
			p.Add(1)
		}
	}
	env.sample()
	run.DecodeSteps = len(run.StepMs)
	run.DecodeMs = Summarize(run.StepMs)
	run.DecodeTokS = float64(batch) / (run.DecodeMs.P50 / 1e3)
	p.End(fmt.Sprintf("%.1f tok/s, p50 %.2f ms/step", run.DecodeTokS, run.DecodeMs.P50))
	return run, nil
}
