package eval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func TestReadPrompts(t *testing.T) {
	ps, err := ReadPrompts(strings.NewReader("{\"prompt\": \"a\"}\n\n  {\"prompt\": \"b\", \"reference\": \"c\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Prompt != "a" || ps[0].Reference != nil || ps[1].Prompt != "b" || *ps[1].Reference != "c" {
		t.Fatalf("got %+v", ps)
	}
	for _, tc := range []struct{ in, msg string }{
		{"{\"prompt\": \"a\"}\n{\"prompt\": 3}\n", "line 2"},
		{"{\"prompt\": \"\"}\n", "non-empty"},
		{"{\"text\": \"a\"}\n", "unknown field"},
		{"{\"prompt\": \"a\"} {\"prompt\": \"b\"}\n", "more than one"},
		{"not json\n", "line 1"},
		{"\n\n", "no prompt"},
	} {
		if _, err := ReadPrompts(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.in, err, tc.msg)
		}
	}
}

func TestReadStrategies(t *testing.T) {
	ss, err := ReadStrategies(strings.NewReader(`[{"name": "greedy", "args": ["--temperature", "0"]}, {"name": "plain"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[1].Args == nil || len(ss[1].Args) != 0 {
		t.Fatalf("got %+v", ss)
	}
	for _, tc := range []struct{ in, msg string }{
		{`[{"name": "bad", "args": ["--model", "x"]}]`, `strategy "bad"`},
		{`[{"name": "bad", "args": ["--model", "x"]}]`, "-model"},
		{`[{"name": "hot", "args": ["--temperature", "-1"]}]`, `strategy "hot": temperature`},
		{`[{"name": "both", "args": ["--beams", "2", "--contrastive", "0.5"]}]`, `strategy "both"`},
		{`[{"name": "pos", "args": ["extra"]}]`, `strategy "pos": unexpected argument`},
		{`[{"name": "a"}, {"name": "a"}]`, "twice"},
		{`[{"args": []}]`, "no name"},
		{`[{"name": "a", "flags": []}]`, "unknown field"},
		{`{"name": "a"}`, "JSON array"},
		{`[]`, "no strategy"},
		{`[{"name": "a"}] x`, "trailing"},
	} {
		if _, err := ReadStrategies(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.in, err, tc.msg)
		}
	}
}

// The committed study inputs parse.
func TestStudyInputs(t *testing.T) {
	f, err := os.Open("strategies.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ss, err := ReadStrategies(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) < 14 {
		t.Errorf("%d strategies, want the standard set of at least 14", len(ss))
	}
	g, err := os.Open("testdata/prompts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := ReadPrompts(g); err != nil {
		t.Fatal(err)
	}
}

// Hand-computed metrics of small sequences.
func TestSampleMetrics(t *testing.T) {
	// ids = 1 2 1 2 1: bigrams 12 21 12 21 -> 2 unique of 4, seq-rep-2 = 0.5;
	// trigrams 121 212 121 -> 2 of 3, 1/3; 4-grams 1212 2121 -> 0.
	// rep: positions 2, 3, 4 repeat an earlier token -> 3/5.
	// Reference 1 2 1 9: position 2 matches (not wrong), 3 differs, 4 is
	// past the reference -> wrep 2/5.
	m := SampleMetrics([]int{1, 2, 1, 2, 1}, []int{1, 2, 1, 9}, 3.5)
	want := Metrics{SeqRep2: 0.5, SeqRep3: 1.0 / 3, SeqRep4: 0, UniqSeq: 2, Rep: 0.6, WRep: 0.4,
		Diversity: 0.5 * (2.0 / 3) * 1, SelfPPL: 3.5}
	if !metricsClose(m, want, 1e-12) {
		t.Errorf("got %+v, want %+v", m, want)
	}
	// Without a reference every repetition is wrong: wrep = rep.
	m = SampleMetrics([]int{1, 2, 1, 2, 1}, nil, 1)
	if m.WRep != m.Rep {
		t.Errorf("wrep %v without a reference, want rep %v", m.WRep, m.Rep)
	}
	// No repetition at all: diversity 1.
	m = SampleMetrics([]int{1, 2, 3, 4, 5}, nil, 1)
	if m.Diversity != 1 || m.Rep != 0 || m.UniqSeq != 5 {
		t.Errorf("got %+v", m)
	}
}

func TestMeanMetrics(t *testing.T) {
	a := Metrics{SeqRep2: 0.2, SeqRep3: 0.1, Rep: 0.5, WRep: 0.4, UniqSeq: 3, Diversity: 0.8, SelfPPL: 2}
	b := Metrics{SeqRep2: 0.4, SeqRep3: 0.3, Rep: 0.7, WRep: 0.6, UniqSeq: 6, Diversity: 0.4, SelfPPL: math.NaN()}
	got := MeanMetrics([]Metrics{a, b})
	want := Metrics{SeqRep2: 0.3, SeqRep3: 0.2, Rep: 0.6, WRep: 0.5, UniqSeq: 4.5, Diversity: 0.6, SelfPPL: 2}
	if !metricsClose(got, want, 1e-12) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if m := MeanMetrics(nil); !math.IsNaN(m.SelfPPL) {
		t.Errorf("self_ppl of nothing %v, want NaN", m.SelfPPL)
	}
	// NaN self_ppl is written as null and read back as NaN.
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"self_ppl":null`) || !strings.Contains(string(js), `"seq_rep_2":0.4`) {
		t.Errorf("json %s", js)
	}
	var back Metrics
	if err := json.Unmarshal(js, &back); err != nil || !metricsClose(back, b, 0) {
		t.Errorf("round trip %+v (%v), want %+v", back, err, b)
	}
}

func TestLogSoftmax(t *testing.T) {
	l := []float32{1, 2, 3}
	z := math.Exp(1) + math.Exp(2) + math.Exp(3)
	for i, x := range l {
		if got, want := LogSoftmax(l, i), float64(x)-math.Log(z); math.Abs(got-want) > 1e-12 {
			t.Errorf("LogSoftmax(%d) = %v, want %v", i, got, want)
		}
	}
}

func metricsClose(a, b Metrics, tol float64) bool {
	eq := func(x, y float64) bool {
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.IsNaN(x) && math.IsNaN(y)
		}
		return math.Abs(x-y) <= tol
	}
	return eq(a.SeqRep2, b.SeqRep2) && eq(a.SeqRep3, b.SeqRep3) && eq(a.SeqRep4, b.SeqRep4) && eq(a.UniqSeq, b.UniqSeq) &&
		eq(a.Rep, b.Rep) && eq(a.WRep, b.WRep) && eq(a.Diversity, b.Diversity) && eq(a.SelfPPL, b.SelfPPL)
}

func tinyModel(t *testing.T) *engine.Model {
	t.Helper()
	path := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin")
	m, err := engine.Load(path, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// SelfPerplexity (one pass over the sequence) equals the perplexity
// computed token by token.
func TestSelfPerplexity(t *testing.T) {
	m := tinyModel(t)
	prompt, ids := []int{'T', 'h', 'e'}, []int{' ', 'c', 'a', 't', ' ', 's', 'a', 't'}
	got, err := SelfPerplexity(m, prompt, ids)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logits, err := s.Feed(prompt)
	if err != nil {
		t.Fatal(err)
	}
	var nll float64
	for _, id := range ids {
		nll -= LogSoftmax(logits, id)
		if logits, err = s.Feed([]int{id}); err != nil {
			t.Fatal(err)
		}
	}
	want := math.Exp(nll / float64(len(ids)))
	if math.Abs(got-want) > 1e-4*want || !(got > 1) {
		t.Errorf("self-perplexity %v, token by token %v", got, want)
	}
	if p, err := SelfPerplexity(m, prompt, nil); err != nil || !math.IsNaN(p) {
		t.Errorf("empty continuation: %v, %v; want NaN", p, err)
	}
	if _, err := SelfPerplexity(m, prompt, []int{300}); err == nil {
		t.Error("a token outside the vocabulary was accepted")
	}
}

// Repetition on a real tiny model: the report's shape, metrics recomputed
// from the ids, reproducibility, and the files it writes.
func TestRepetition(t *testing.T) {
	m := tinyModel(t)
	ref := " and then"
	prompts := []Prompt{{Prompt: "In a shocking finding,"}, {Prompt: "Once upon a time", Reference: &ref}}
	strategies := []Strategy{
		{Name: "greedy", Args: []string{"--temperature", "0"}},
		{Name: "top-p", Args: []string{"--temperature", "1", "--top-p", "0.9"}},
		{Name: "dry", Args: []string{"--temperature", "0", "--dry-multiplier", "0.8"}},
	}
	opts := Options{Model: "tiny.bin", MaxTokens: 24, Seed: 5}
	rep, err := Repetition(m, tokenizer.Bytes(), prompts, strategies, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Model != "tiny.bin" || rep.MaxTokens != 24 || len(rep.Strategies) != 3 {
		t.Fatalf("report %+v", rep)
	}
	for _, sr := range rep.Strategies {
		if len(sr.Samples) != 2 || !(sr.TokensPerSecond > 0) {
			t.Fatalf("%s: %d samples, %v tok/s", sr.Name, len(sr.Samples), sr.TokensPerSecond)
		}
		var ms []Metrics
		for j, s := range sr.Samples {
			if len(s.IDs) != 24 || s.Prompt != prompts[j].Prompt || s.Text != string(bytesOf(s.IDs)) {
				t.Fatalf("%s sample %d: %+v", sr.Name, j, s)
			}
			var refIDs []int
			if prompts[j].Reference != nil {
				refIDs = tokenizer.Bytes().Encode([]byte(*prompts[j].Reference))
			}
			ppl, err := SelfPerplexity(m, tokenizer.Bytes().Encode([]byte(s.Prompt)), s.IDs)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, SampleMetrics(s.IDs, refIDs, ppl))
		}
		if want := MeanMetrics(ms); !metricsClose(sr.Metrics, want, 1e-9) {
			t.Errorf("%s: metrics %+v, recomputed %+v", sr.Name, sr.Metrics, want)
		}
	}
	// Greedy decoding of this model loops; DRY breaks the loop.
	if g, d := rep.Strategies[0].Metrics, rep.Strategies[2].Metrics; !(g.SeqRep4 > 0.5) || !(d.SeqRep4 < g.SeqRep4) {
		t.Errorf("greedy seq-rep-4 %v, DRY %v: want a greedy loop that DRY reduces", g.SeqRep4, d.SeqRep4)
	}
	again, err := Repetition(m, tokenizer.Bytes(), prompts, strategies, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rep.Strategies {
		for j := range rep.Strategies[i].Samples {
			if a, b := rep.Strategies[i].Samples[j].IDs, again.Strategies[i].Samples[j].IDs; string(bytesOf(a)) != string(bytesOf(b)) {
				t.Errorf("%s sample %d not reproducible", rep.Strategies[i].Name, j)
			}
		}
	}

	dir := t.TempDir()
	if err := rep.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.json", "report.md", "repetition.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if string(md) != rep.Markdown() || strings.Count(string(md), "\n| ") != 4 || !strings.Contains(string(md), "| dry | `--temperature 0 --dry-multiplier 0.8` |") {
		t.Errorf("report.md:\n%s", md)
	}
	var back Report
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(js, &back); err != nil || len(back.Strategies) != 3 || !metricsClose(back.Strategies[1].Metrics, rep.Strategies[1].Metrics, 1e-12) {
		t.Errorf("report.json does not round-trip: %v", err)
	}

	if _, err := Repetition(m, tokenizer.Bytes(), prompts, []Strategy{{Name: "x", Args: []string{"--prompt", "a"}}}, opts); err == nil || !strings.Contains(err.Error(), `strategy "x"`) {
		t.Errorf("unknown flag: error %v", err)
	}
	if _, err := Repetition(m, tokenizer.Bytes(), prompts, strategies, Options{MaxTokens: 0}); err == nil {
		t.Error("max tokens 0 accepted")
	}
}

func bytesOf(ids []int) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}
