package sampler

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"testing"
)

// fakeModel is an in-memory Model whose state is the full token history. Its
// logits and hidden state are a deterministic function of the history: from
// table when the history has an entry (probabilities, logits = log p), else
// pseudo-random from a hash of the history.
type fakeModel struct {
	vocab  int
	hist   []int
	table  map[string][]float64
	hidden func(hist []int) []float32
	open   *int // live models, shared by forks
	closed bool
}

func newFake(vocab int, table map[string][]float64) *fakeModel {
	n := 1
	return &fakeModel{vocab: vocab, table: table, open: &n}
}

func key(h []int) string { return fmt.Sprint(h) }

func (f *fakeModel) Step(tokens []int) ([]float32, []float32, error) {
	if f.closed {
		return nil, nil, errors.New("step on closed model")
	}
	if len(tokens) == 0 {
		return nil, nil, errors.New("no tokens")
	}
	f.hist = append(f.hist, tokens...)
	logits := make([]float32, f.vocab)
	if p, ok := f.table[key(f.hist)]; ok {
		for i, x := range p {
			logits[i] = float32(math.Log(x))
		}
	} else if f.table != nil {
		// uniform
	} else {
		h := fnv.New64a()
		fmt.Fprint(h, f.hist)
		x := h.Sum64()
		for i := range logits {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			logits[i] = float32(x%1000) / 200
		}
	}
	var hid []float32
	if f.hidden != nil {
		hid = f.hidden(f.hist)
	} else {
		hid = make([]float32, 8)
		h := fnv.New64a()
		fmt.Fprint(h, f.hist[len(f.hist)-1])
		x := h.Sum64()
		for i := range hid {
			hid[i] = float32(x>>(8*i)&0xff) - 128
		}
	}
	return logits, hid, nil
}

func (f *fakeModel) Fork() (Model, error) {
	if f.closed {
		return nil, errors.New("fork of closed model")
	}
	*f.open++
	g := *f
	g.hist = append([]int(nil), f.hist...)
	return &g, nil
}

func (f *fakeModel) Close() error {
	if f.closed {
		return errors.New("double close")
	}
	f.closed = true
	*f.open--
	return nil
}

func greedyConfig() Config {
	c := DefaultConfig()
	c.Temperature = 0
	return c
}

func TestBeamOneEqualsGreedy(t *testing.T) {
	for _, prompt := range [][]int{{1}, {2, 3}, {5, 5, 5}, {0, 7, 1, 9}} {
		g := newFake(16, nil)
		res, err := Generate(g, prompt, mustNew(t, greedyConfig()), Options{MaxTokens: 12})
		if err != nil {
			t.Fatal(err)
		}
		for _, lp := range []float64{0, 1, 2} {
			m := newFake(16, nil)
			hyps, err := BeamSearch(m, prompt, nil, BeamConfig{NumBeams: 1, LengthPenalty: lp, MaxTokens: 12})
			if err != nil {
				t.Fatal(err)
			}
			if len(hyps) != 1 || !reflect.DeepEqual(hyps[0].Tokens, res.Tokens) {
				t.Fatalf("prompt %v lp %v: beam %v, greedy %v", prompt, lp, hyps, res.Tokens)
			}
			if *m.open != 1 || m.closed {
				t.Fatalf("beam search leaked or closed models: open=%d", *m.open)
			}
		}
	}
}

func TestBeamOneEqualsGreedyWithStopToken(t *testing.T) {
	prompt := []int{4, 2}
	g := newFake(16, nil)
	full, err := Generate(g, prompt, mustNew(t, greedyConfig()), Options{MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := greedyConfig()
	c.StopTokens = []int{full.Tokens[3]}
	gs, err := Generate(newFake(16, nil), prompt, mustNew(t, c), Options{MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	if gs.Reason != StopToken {
		t.Fatalf("greedy reason %v", gs.Reason)
	}
	hyps, err := BeamSearch(newFake(16, nil), prompt, mustNew(t, c), BeamConfig{NumBeams: 1, LengthPenalty: 1, EarlyStopping: true, MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hyps[0].Tokens, gs.Tokens) {
		t.Fatalf("beam %v, greedy %v", hyps[0].Tokens, gs.Tokens)
	}
}

// Hand-computed beam search: greedy takes token 0, but the second beam
// through token 1 finishes with a stop token at a much better score.
func TestBeamSearchHandComputed(t *testing.T) {
	table := map[string][]float64{
		"[2]":   {0.5, 0.4, 0.05, 0.05},
		"[2 0]": {0.3, 0.3, 0.2, 0.2},
		"[2 1]": {0.05, 0.05, 0.1, 0.8},
	}
	c := DefaultConfig()
	c.StopTokens = []int{3}
	m := newFake(4, table)
	hyps, err := BeamSearch(m, []int{2}, mustNew(t, c), BeamConfig{NumBeams: 2, LengthPenalty: 1, EarlyStopping: true, MaxTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	ln := math.Log
	want := []Hypothesis{
		{Tokens: []int{1}, SumLogProb: ln(0.4) + ln(0.8), Length: 2},
		{Tokens: []int{0, 0, 0}, SumLogProb: ln(0.5) + ln(0.3) + ln(0.25), Length: 3},
	}
	want[0].Score = want[0].SumLogProb / 2
	want[1].Score = want[1].SumLogProb / 3
	if len(hyps) != 2 {
		t.Fatalf("got %d hypotheses: %+v", len(hyps), hyps)
	}
	for i := range want {
		h := hyps[i]
		if !reflect.DeepEqual(h.Tokens, want[i].Tokens) || h.Length != want[i].Length ||
			math.Abs(h.SumLogProb-want[i].SumLogProb) > 1e-6 || math.Abs(h.Score-want[i].Score) > 1e-6 {
			t.Errorf("hypothesis %d = %+v, want %+v", i, h, want[i])
		}
	}
	if *m.open != 1 {
		t.Errorf("%d models left open", *m.open-1)
	}
	// Length penalty 0 ranks by raw sum: -1.139 (stop) vs -3.283.
	hyps, _ = BeamSearch(newFake(4, table), []int{2}, mustNew(t, c), BeamConfig{NumBeams: 2, LengthPenalty: 0, EarlyStopping: true, MaxTokens: 3})
	if !reflect.DeepEqual(hyps[0].Tokens, []int{1}) {
		t.Errorf("lp 0 best = %v", hyps[0].Tokens)
	}
}

func TestBeamSearchErrors(t *testing.T) {
	m := newFake(4, nil)
	if _, err := BeamSearch(m, nil, nil, BeamConfig{NumBeams: 1, MaxTokens: 1}); err == nil {
		t.Error("empty prompt accepted")
	}
	if _, err := BeamSearch(m, []int{1}, nil, BeamConfig{NumBeams: 0, MaxTokens: 1}); err == nil {
		t.Error("zero beams accepted")
	}
	if _, err := BeamSearch(m, []int{1}, nil, BeamConfig{NumBeams: 1, MaxTokens: 0}); err == nil {
		t.Error("zero max tokens accepted")
	}
}

func TestBeamSearchWideBeamsNoLeak(t *testing.T) {
	c := DefaultConfig()
	c.StopTokens = []int{0, 1}
	m := newFake(10, nil)
	hyps, err := BeamSearch(m, []int{3, 4}, mustNew(t, c), BeamConfig{NumBeams: 4, LengthPenalty: 1.5, MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(hyps) == 0 || len(hyps) > 4 {
		t.Fatalf("got %d hypotheses", len(hyps))
	}
	for i := 1; i < len(hyps); i++ {
		if hyps[i].Score > hyps[i-1].Score {
			t.Fatal("hypotheses not sorted")
		}
	}
	if *m.open != 1 {
		t.Fatalf("%d models left open", *m.open-1)
	}
}

func TestContrastiveAlphaZeroEqualsGreedy(t *testing.T) {
	for _, prompt := range [][]int{{1}, {2, 3}, {0, 7, 1, 9}} {
		res, err := Generate(newFake(16, nil), prompt, mustNew(t, greedyConfig()), Options{MaxTokens: 12})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 4, 16} {
			m := newFake(16, nil)
			got, err := Generate(m, prompt, mustNew(t, DefaultConfig()), Options{MaxTokens: 12, Contrastive: &ContrastiveConfig{Alpha: 0, TopK: k}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Tokens, res.Tokens) {
				t.Fatalf("prompt %v k %d: contrastive %v, greedy %v", prompt, k, got.Tokens, res.Tokens)
			}
			if *m.open != 1 || m.closed {
				t.Fatalf("contrastive leaked models: open=%d", *m.open)
			}
		}
	}
}

func TestContrastiveDegenerationPenalty(t *testing.T) {
	table := map[string][]float64{"[2]": {0.1, 0.1, 0.7, 0.1}}
	onehot := func(h []int) []float32 {
		v := make([]float32, 4)
		v[h[len(h)-1]] = 1
		return v
	}
	mk := func() *fakeModel { m := newFake(4, table); m.hidden = onehot; return m }
	// Greedy repeats token 2; its hidden state equals the prompt's (cos 1).
	// Alpha 0.5: token 2 scores 0.5*0.7 - 0.5*1 = -0.15, token 0 scores
	// 0.5*0.1 - 0 = 0.05 (tokens 0, 1, 3 tie; lowest id wins).
	got, err := Generate(mk(), []int{2}, mustNew(t, DefaultConfig()), Options{MaxTokens: 1, Contrastive: &ContrastiveConfig{Alpha: 0.5, TopK: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Tokens, []int{0}) {
		t.Fatalf("contrastive = %v, want [0]", got.Tokens)
	}
	got, _ = Generate(mk(), []int{2}, mustNew(t, DefaultConfig()), Options{MaxTokens: 1, Contrastive: &ContrastiveConfig{Alpha: 0.1, TopK: 2}})
	if !reflect.DeepEqual(got.Tokens, []int{2}) { // 0.9*0.7-0.1 = 0.53 > 0.09
		t.Fatalf("contrastive alpha 0.1 = %v, want [2]", got.Tokens)
	}
	if _, err := Generate(mk(), []int{2}, mustNew(t, DefaultConfig()), Options{MaxTokens: 1, Contrastive: &ContrastiveConfig{Alpha: 2, TopK: 2}}); err == nil {
		t.Error("alpha 2 accepted")
	}
}

func TestGenerateSamplingDeterministic(t *testing.T) {
	c := DefaultConfig()
	c.Seed = 99
	c.TopP = 0.9
	run := func(seq uint64) []int {
		res, err := Generate(newFake(32, nil), []int{1, 2}, mustNew(t, c), Options{MaxTokens: 20, Seq: seq})
		if err != nil {
			t.Fatal(err)
		}
		return res.Tokens
	}
	a, b := run(0), run(0)
	if !reflect.DeepEqual(a, b) || len(a) != 20 {
		t.Fatalf("same seed differs: %v vs %v", a, b)
	}
	// Each token is Sample(..., seq, step) on the model's logits.
	m := newFake(32, nil)
	s := mustNew(t, c)
	logits, _, _ := m.Step([]int{1, 2})
	hist := []int{1, 2}
	for step, want := range a {
		id, err := s.Sample(logits, hist, 0, uint64(step))
		if err != nil || id != want {
			t.Fatalf("step %d: Sample = %d, Generate = %d", step, id, want)
		}
		hist = append(hist, id)
		logits, _, _ = m.Step([]int{id})
	}
}

func byteDecoder(ids []int) ([]byte, error) {
	out := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("bad byte token %d", id)
		}
		out[i] = byte(id)
	}
	return out, nil
}

// scriptModel always predicts the next byte of a fixed script.
func scriptTable(prompt []int, script string) map[string][]float64 {
	table := map[string][]float64{}
	h := append([]int(nil), prompt...)
	for i := 0; i < len(script); i++ {
		p := make([]float64, 256)
		for j := range p {
			p[j] = 1e-6
		}
		p[script[i]] = 1
		table[key(h)] = p
		h = append(h, int(script[i]))
	}
	return table
}

func TestGenerateStopString(t *testing.T) {
	prompt := []int{'>'}
	c := greedyConfig()
	c.StopStrings = []string{"\nUser:"}
	var streamed []byte
	res, err := Generate(newFake(256, scriptTable(prompt, "Hi\nthere\nUser: more")), prompt, mustNew(t, c),
		Options{MaxTokens: 50, Decode: byteDecoder, OnToken: func(id int, b []byte) error { streamed = append(streamed, b...); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != StopString || string(res.Text) != "Hi\nthere" || string(streamed) != "Hi\nthere" {
		t.Fatalf("reason %v text %q streamed %q", res.Reason, res.Text, streamed)
	}
	if _, err := Generate(newFake(256, nil), prompt, mustNew(t, c), Options{MaxTokens: 5}); err == nil {
		t.Error("stop strings without decoder accepted")
	}
}

func TestGenerateDetector(t *testing.T) {
	prompt := []int{'>'}
	loop := ""
	for i := 0; i < 40; i++ {
		loop += "abcde"
	}
	c := greedyConfig()
	c.Detector = DetectorConfig{Threshold: 0.5, N: 4, Window: 20, Action: DetectStop}
	res, err := Generate(newFake(256, scriptTable(prompt, loop)), prompt, mustNew(t, c), Options{MaxTokens: 150})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != StopRepetition || len(res.Tokens) != 20 || len(res.Events) != 1 || res.Events[0].Step != 19 {
		t.Fatalf("reason %v, %d tokens, events %+v", res.Reason, len(res.Tokens), res.Events)
	}
	// 20 tokens "abcde"x4: 17 4-grams, 5 distinct.
	if math.Abs(res.Events[0].SeqRep-(1-5.0/17)) > 1e-12 {
		t.Fatalf("seq-rep = %v", res.Events[0].SeqRep)
	}
	// report: generation goes on unchanged; every firing is recorded (the
	// window is cleared after each, so one per 20 tokens of the loop).
	c.Detector.Action = DetectReport
	res, err = Generate(newFake(256, scriptTable(prompt, loop)), prompt, mustNew(t, c), Options{MaxTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != StopLength || string(intsToBytes(res.Tokens)) != loop[:100] || len(res.Events) != 5 {
		t.Fatalf("report: reason %v, %d tokens, %d events", res.Reason, len(res.Tokens), len(res.Events))
	}
	for i, e := range res.Events {
		if e.Step != 20*i+19 || e.Action != DetectReport {
			t.Fatalf("report event %d: %+v", i, e)
		}
	}
	c.Detector.Action = DetectEscalate
	c.Detector.EscalatePresence = 20
	res, err = Generate(newFake(256, scriptTable(prompt, loop)), prompt, mustNew(t, c), Options{MaxTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != StopLength || len(res.Events) == 0 || res.Events[0].Action != DetectEscalate {
		t.Fatalf("escalate: reason %v events %+v", res.Reason, res.Events)
	}
	// The escalated presence penalty (20) outweighs the script's margin
	// (ln 1e6 = 13.8): the token after the first event leaves the loop.
	out := intsToBytes(res.Tokens)
	if string(out[:20]) != loop[:20] || out[20] == loop[20] {
		t.Fatalf("escalation did not change the output: %q", out)
	}
}

func intsToBytes(ids []int) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}
