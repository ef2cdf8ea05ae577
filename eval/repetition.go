// Package eval holds evaluation studies over rwkvgo's models. The
// repetition study (Repetition) generates continuations of a set of prompts
// with a set of decoding strategies, each given as `rwkvgo generate` sampler
// flags, and measures how much each strategy repeats itself, how diverse its
// output is and what it costs in the model's own perplexity of its text.
//
// Metrics of one sample (ids: its generated tokens; ref: the prompt's
// reference continuation, if any):
//
//	seq_rep_n  = sampler.SeqRep(ids, n), n = 2, 3, 4 (fraction of repeated n-grams)
//	uniq_seq   = sampler.UniqSeq(ids) (distinct tokens)
//	rep        = sampler.Rep(ids, 128) (fraction of tokens repeating one of the 128 before)
//	wrep       = sampler.WRep(ids, ref, 128) (those repetitions that differ from the
//	             reference; without a reference every repetition counts, so wrep = rep)
//	diversity  = (1 - seq_rep_2) * (1 - seq_rep_3) * (1 - seq_rep_4)
//	self_ppl   = exp(-(1/T) * sum_t log p(ids[t] | prompt, ids[:t])), with p the
//	             model's raw next-token distribution (softmax of its logits: no
//	             temperature, penalty or truncation), T = len(ids)
//
// A strategy's metrics are the means of its samples' metrics over the
// prompts (self_ppl over the samples with at least one token).
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/generation"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// RepWindow is the window l of the rep and wrep metrics (rep/l, wrep/l).
const RepWindow = 128

// Prompt is one line of a prompts file.
type Prompt struct {
	// Prompt is the prompt text (required, non-empty).
	Prompt string `json:"prompt"`
	// Reference is an optional human continuation of the prompt, the ground
	// truth of the wrep metric.
	Reference *string `json:"reference,omitempty"`
}

// Strategy is one decoding strategy of a strategies file.
type Strategy struct {
	// Name names the strategy in the report.
	Name string `json:"name"`
	// Args are `rwkvgo generate` sampler and search flags, for example
	// ["--temperature", "1", "--top-p", "0.9"] or ["--beams", "4"].
	Args []string `json:"args"`
}

// ReadPrompts reads a prompts file: JSON Lines, one object per line with a
// "prompt" string and an optional "reference" string. Blank lines are
// skipped; any other malformed line, an unknown field or an empty prompt is
// an error naming the line.
func ReadPrompts(r io.Reader) ([]Prompt, error) {
	var out []Prompt
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var p struct {
			Prompt    *string `json:"prompt"`
			Reference *string `json:"reference"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("prompts line %d: %v", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("prompts line %d: more than one JSON value", line)
		}
		if p.Prompt == nil || *p.Prompt == "" {
			return nil, fmt.Errorf("prompts line %d: a non-empty \"prompt\" string is required", line)
		}
		out = append(out, Prompt{Prompt: *p.Prompt, Reference: p.Reference})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("prompts: %v", err)
	}
	if len(out) == 0 {
		return nil, errors.New("prompts: no prompt")
	}
	return out, nil
}

// ReadStrategies reads a strategies file: a JSON array of {"name", "args"}
// objects. Names must be non-empty and distinct, and each strategy's args
// must be valid `rwkvgo generate` flags (see ParseStrategy); errors name the
// strategy.
func ReadStrategies(r io.Reader) ([]Strategy, error) {
	var out []Strategy
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("strategies: %v (want a JSON array of {\"name\": ..., \"args\": [...]})", err)
	}
	if dec.More() {
		return nil, errors.New("strategies: trailing data after the array")
	}
	if len(out) == 0 {
		return nil, errors.New("strategies: no strategy")
	}
	seen := map[string]bool{}
	for i, s := range out {
		if s.Name == "" {
			return nil, fmt.Errorf("strategies: strategy %d has no name", i)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("strategies: strategy %q appears twice", s.Name)
		}
		seen[s.Name] = true
		if out[i].Args == nil {
			out[i].Args = []string{}
		}
		if _, err := ParseStrategy(s, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParseStrategy parses a strategy's args as `rwkvgo generate` would, with
// "--seed seed" before them (so a --seed among the args wins). An unknown
// flag or an invalid setting is an error naming the strategy.
func ParseStrategy(s Strategy, seed uint64) (generation.Settings, error) {
	args := append([]string{"--seed", fmt.Sprint(seed)}, s.Args...)
	st, err := generation.ParseArgs(args)
	if err != nil {
		return generation.Settings{}, fmt.Errorf("strategy %q: %v", s.Name, strings.TrimPrefix(err.Error(), "sampler: "))
	}
	return st, nil
}

// Options configures Repetition.
type Options struct {
	// Model is the model's name in the report (for example its path).
	Model string
	// MaxTokens is the number of tokens generated per prompt, >= 1.
	MaxTokens int
	// Seed is the seed of every strategy (`rwkvgo generate --seed`).
	Seed uint64
	// Progress, when set, receives one line per strategy done.
	Progress io.Writer
}

// Report is the outcome of Repetition, written as report.json.
type Report struct {
	Model      string           `json:"model"`
	MaxTokens  int              `json:"max_tokens"`
	Strategies []StrategyReport `json:"strategies"`
}

// StrategyReport is one strategy's samples and mean metrics.
type StrategyReport struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
	// TokensPerSecond is the strategy's generated tokens over the wall time
	// of its generations (prompt prefill included, scoring excluded).
	TokensPerSecond float64  `json:"tokens_per_second"`
	Samples         []Sample `json:"samples"`
	Metrics         Metrics  `json:"metrics"`
}

// Sample is one generated continuation.
type Sample struct {
	Prompt string `json:"prompt"`
	// IDs are the generated token ids, exactly those `rwkvgo generate` with
	// the strategy's args, the seed and the prompt produces (without a
	// final stop token).
	IDs []int `json:"ids"`
	// Text is the decoded output (without a stop string).
	Text string `json:"text"`
}

// Metrics are a sample's repetition metrics, or a strategy's means (see the
// package documentation).
type Metrics struct {
	SeqRep2   float64 `json:"seq_rep_2"`
	SeqRep3   float64 `json:"seq_rep_3"`
	SeqRep4   float64 `json:"seq_rep_4"`
	UniqSeq   float64 `json:"uniq_seq"`
	Rep       float64 `json:"rep"`
	WRep      float64 `json:"wrep"`
	Diversity float64 `json:"diversity"`
	// SelfPPL is NaN for a sample without tokens (and for a strategy none
	// of whose samples has any); it is then written as null.
	SelfPPL float64 `json:"self_ppl"`
}

// MarshalJSON writes a NaN self_ppl as null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	type plain Metrics
	var ppl *float64
	if !math.IsNaN(m.SelfPPL) && !math.IsInf(m.SelfPPL, 0) {
		ppl = &m.SelfPPL
	}
	return json.Marshal(struct {
		plain
		SelfPPL *float64 `json:"self_ppl"`
	}{plain(m), ppl})
}

// UnmarshalJSON reads a null self_ppl as NaN.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	type plain Metrics
	var v struct {
		plain
		SelfPPL *float64 `json:"self_ppl"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = Metrics(v.plain)
	m.SelfPPL = math.NaN()
	if v.SelfPPL != nil {
		m.SelfPPL = *v.SelfPPL
	}
	return nil
}

// SampleMetrics returns the metrics of one sample: ids its generated
// tokens, ref the reference continuation's tokens (nil for none) and
// selfPPL its perplexity under the model (SelfPerplexity).
func SampleMetrics(ids, ref []int, selfPPL float64) Metrics {
	if ref == nil {
		ref = []int{}
	}
	m := Metrics{
		SeqRep2: sampler.SeqRep(ids, 2),
		SeqRep3: sampler.SeqRep(ids, 3),
		SeqRep4: sampler.SeqRep(ids, 4),
		UniqSeq: float64(sampler.UniqSeq(ids)),
		Rep:     sampler.Rep(ids, RepWindow),
		WRep:    sampler.WRep(ids, ref, RepWindow),
		SelfPPL: selfPPL,
	}
	m.Diversity = (1 - m.SeqRep2) * (1 - m.SeqRep3) * (1 - m.SeqRep4)
	return m
}

// MeanMetrics returns the mean of per-sample metrics; self_ppl is the mean
// over the samples whose self_ppl is not NaN (NaN when there is none).
func MeanMetrics(ms []Metrics) Metrics {
	var out Metrics
	if len(ms) == 0 {
		out.SelfPPL = math.NaN()
		return out
	}
	var ppl float64
	nppl := 0
	for _, m := range ms {
		out.SeqRep2 += m.SeqRep2
		out.SeqRep3 += m.SeqRep3
		out.SeqRep4 += m.SeqRep4
		out.UniqSeq += m.UniqSeq
		out.Rep += m.Rep
		out.WRep += m.WRep
		out.Diversity += m.Diversity
		if !math.IsNaN(m.SelfPPL) {
			ppl += m.SelfPPL
			nppl++
		}
	}
	n := float64(len(ms))
	out.SeqRep2 /= n
	out.SeqRep3 /= n
	out.SeqRep4 /= n
	out.UniqSeq /= n
	out.Rep /= n
	out.WRep /= n
	out.Diversity /= n
	out.SelfPPL = math.NaN()
	if nppl > 0 {
		out.SelfPPL = ppl / float64(nppl)
	}
	return out
}

// SelfPerplexity returns exp of the mean negative log-likelihood of ids
// under m's raw next-token distribution, conditioned on prompt (fed from
// the initial state): the model's perplexity of its own continuation. It is
// NaN for empty ids.
func SelfPerplexity(m *engine.Model, prompt, ids []int) (float64, error) {
	if len(ids) == 0 {
		return math.NaN(), nil
	}
	if len(prompt) == 0 {
		return 0, errors.New("eval: empty prompt")
	}
	s, err := m.NewSession()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	// One pass over prompt and ids but the last: row len(prompt)-1+t of the
	// logits is the distribution of ids[t].
	seq := append(append(make([]int, 0, len(prompt)+len(ids)-1), prompt...), ids[:len(ids)-1]...)
	all, err := s.FeedAll(seq)
	if err != nil {
		return 0, err
	}
	V := len(all) / len(seq)
	var nll float64
	for t, id := range ids {
		if id < 0 || id >= V {
			return 0, fmt.Errorf("eval: token %d outside the vocabulary [0, %d)", id, V)
		}
		row := len(prompt) - 1 + t
		nll -= LogSoftmax(all[row*V:(row+1)*V], id)
	}
	return math.Exp(nll / float64(len(ids))), nil
}

// LogSoftmax returns log softmax(logits)[id], computed in float64.
func LogSoftmax(logits []float32, id int) float64 {
	mx := math.Inf(-1)
	for _, x := range logits {
		mx = math.Max(mx, float64(x))
	}
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x) - mx)
	}
	return float64(logits[id]) - mx - math.Log(sum)
}

// Repetition runs the repetition study: for each strategy and prompt it
// generates opts.MaxTokens tokens as `rwkvgo generate --seed opts.Seed
// <strategy args> --prompt <prompt> --max-tokens opts.MaxTokens` does
// (package generation, a fresh session per sample), then scores the
// samples.
func Repetition(m *engine.Model, tok tokenizer.Tokenizer, prompts []Prompt, strategies []Strategy, opts Options) (*Report, error) {
	if m == nil || tok == nil {
		return nil, errors.New("eval: a model and a tokenizer are required")
	}
	if opts.MaxTokens < 1 {
		return nil, fmt.Errorf("eval: max tokens must be >= 1, got %d", opts.MaxTokens)
	}
	if len(prompts) == 0 || len(strategies) == 0 {
		return nil, errors.New("eval: at least one prompt and one strategy are needed")
	}
	type prepared struct {
		ids, ref []int
	}
	ps := make([]prepared, len(prompts))
	for i, p := range prompts {
		ps[i].ids = tok.Encode([]byte(p.Prompt))
		if len(ps[i].ids) == 0 {
			return nil, fmt.Errorf("eval: prompt %d encodes to no tokens", i+1)
		}
		if p.Reference != nil {
			ps[i].ref = tok.Encode([]byte(*p.Reference))
		}
	}
	settings := make([]generation.Settings, len(strategies))
	smps := make([]*sampler.Sampler, len(strategies))
	for i, st := range strategies {
		var err error
		if settings[i], err = ParseStrategy(st, opts.Seed); err != nil {
			return nil, err
		}
		cfg, err := settings[i].Config(tok)
		if err != nil {
			return nil, fmt.Errorf("strategy %q: %v", st.Name, err)
		}
		if smps[i], err = sampler.New(cfg); err != nil {
			return nil, fmt.Errorf("strategy %q: %v", st.Name, strings.TrimPrefix(err.Error(), "sampler: "))
		}
	}
	rep := &Report{Model: opts.Model, MaxTokens: opts.MaxTokens}
	for i, st := range strategies {
		sr := StrategyReport{Name: st.Name, Args: append([]string{}, st.Args...), Samples: []Sample{}}
		var elapsed time.Duration
		generated := 0
		var ms []Metrics
		for j, p := range prompts {
			s, err := m.NewSession()
			if err != nil {
				return nil, err
			}
			t0 := time.Now()
			res, err := settings[i].Generate(s, ps[j].ids, smps[i], tok.Decode, opts.MaxTokens, nil)
			elapsed += time.Since(t0)
			s.Close()
			if err != nil {
				return nil, fmt.Errorf("strategy %q, prompt %d: %w", st.Name, j+1, err)
			}
			ids := append([]int{}, res.Tokens...)
			generated += len(ids)
			ppl, err := SelfPerplexity(m, ps[j].ids, ids)
			if err != nil {
				return nil, fmt.Errorf("strategy %q, prompt %d: self-perplexity: %w", st.Name, j+1, err)
			}
			sr.Samples = append(sr.Samples, Sample{Prompt: p.Prompt, IDs: ids, Text: string(res.Text)})
			ms = append(ms, SampleMetrics(ids, ps[j].ref, ppl))
		}
		if elapsed > 0 {
			sr.TokensPerSecond = float64(generated) / elapsed.Seconds()
		}
		sr.Metrics = MeanMetrics(ms)
		rep.Strategies = append(rep.Strategies, sr)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%s: %d tokens, %.0f tok/s\n", st.Name, generated, sr.TokensPerSecond)
		}
	}
	return rep, nil
}
