package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// eval repetition on a tiny model with 2 prompts and 3 strategies: every
// sample's ids are what `rwkvgo generate` prints for the same args, seed
// and prompt (the model is byte-level, so the printed bytes are the ids),
// the report has the documented keys, and its metrics are those recomputed
// from the ids.
func TestEvalRepetitionMatchesGenerate(t *testing.T) {
	model := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin")
	dir := t.TempDir()
	prompts := filepath.Join(dir, "prompts.jsonl")
	os.WriteFile(prompts, []byte("{\"prompt\": \"In a shocking finding,\"}\n{\"prompt\": \"The king said\", \"reference\": \" that he would go\"}\n"), 0o644)
	strategies := filepath.Join(dir, "strategies.json")
	os.WriteFile(strategies, []byte(`[
		{"name": "top-p-penalties", "args": ["--temperature", "1", "--top-p", "0.9", "--presence-penalty", "0.5", "--penalty-decay", "0.996"]},
		{"name": "beam", "args": ["--beams", "3"]},
		{"name": "contrastive", "args": ["--contrastive", "0.6"]}
	]`), 0o644)
	out := filepath.Join(dir, "out")
	code, stdout, errs := runCLI("eval", "repetition", "--model", model, "--prompts", prompts, "--strategies", strategies,
		"--max-tokens", "20", "--seed", "7", "--out", out, "--threads", "1")
	if code != 0 {
		t.Fatalf("eval repetition: exit %d: %s", code, errs)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || string(md) != stdout {
		t.Errorf("report.md (%v) differs from what the command printed:\n%s\n%s", err, md, stdout)
	}
	if st, err := os.Stat(filepath.Join(out, "repetition.png")); err != nil || st.Size() == 0 {
		t.Errorf("repetition.png: %v", err)
	}
	js, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatal(err)
	}
	if got := keys(raw); !slices.Equal(got, []string{"max_tokens", "model", "strategies"}) {
		t.Errorf("report keys %v", got)
	}
	var rep struct {
		Model      string `json:"model"`
		MaxTokens  int    `json:"max_tokens"`
		Strategies []struct {
			Name    string   `json:"name"`
			Args    []string `json:"args"`
			TokS    float64  `json:"tokens_per_second"`
			Samples []struct {
				Prompt string `json:"prompt"`
				IDs    []int  `json:"ids"`
				Text   string `json:"text"`
			} `json:"samples"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"strategies"`
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Model != model || rep.MaxTokens != 20 || len(rep.Strategies) != 3 {
		t.Fatalf("report: model %q, max_tokens %d, %d strategies", rep.Model, rep.MaxTokens, len(rep.Strategies))
	}
	refs := [][]int{nil, sampler.BytesEncoder([]byte(" that he would go"))}
	for i, sr := range rep.Strategies {
		st := raw["strategies"].([]any)[i].(map[string]any)
		if got := keys(st); !slices.Equal(got, []string{"args", "metrics", "name", "samples", "tokens_per_second"}) {
			t.Errorf("strategy keys %v", got)
		}
		if got := keys(st["metrics"].(map[string]any)); !slices.Equal(got, []string{"diversity", "rep", "self_ppl", "seq_rep_2", "seq_rep_3", "seq_rep_4", "uniq_seq", "wrep"}) {
			t.Errorf("metrics keys %v", got)
		}
		if !(sr.TokS > 0) || len(sr.Samples) != 2 {
			t.Fatalf("%s: %v tok/s, %d samples", sr.Name, sr.TokS, len(sr.Samples))
		}
		var sums [7]float64
		for j, s := range sr.Samples {
			args := append([]string{"generate", "--model", model, "--threads", "1", "--seed", "7"}, sr.Args...)
			args = append(args, "--prompt", s.Prompt, "--max-tokens", "20")
			code, printed, errs := runCLI(args...)
			if code != 0 {
				t.Fatalf("generate %v: exit %d: %s", args, code, errs)
			}
			if want := strings.TrimSuffix(printed, "\n"); string(idBytes(s.IDs)) != want {
				t.Errorf("%s, prompt %q: eval ids %v, generate printed %q", sr.Name, s.Prompt, s.IDs, want)
			}
			ids := s.IDs
			r2, r3, r4 := sampler.SeqRep(ids, 2), sampler.SeqRep(ids, 3), sampler.SeqRep(ids, 4)
			ref := refs[j]
			if ref == nil {
				ref = []int{}
			}
			for k, v := range []float64{r2, r3, r4, float64(sampler.UniqSeq(ids)), sampler.Rep(ids, 128),
				sampler.WRep(ids, ref, 128), (1 - r2) * (1 - r3) * (1 - r4)} {
				sums[k] += v
			}
		}
		for k, name := range []string{"seq_rep_2", "seq_rep_3", "seq_rep_4", "uniq_seq", "rep", "wrep", "diversity"} {
			if got, want := sr.Metrics[name], sums[k]/2; math.Abs(got-want) > 1e-9 {
				t.Errorf("%s: %s %v, recomputed from the ids %v", sr.Name, name, got, want)
			}
		}
		if ppl := sr.Metrics["self_ppl"]; !(ppl > 1 && ppl < 256) {
			t.Errorf("%s: self_ppl %v outside (1, vocabulary size)", sr.Name, ppl)
		}
	}
}

// Malformed inputs are errors naming the problem.
func TestEvalRepetitionErrors(t *testing.T) {
	model := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin")
	dir := t.TempDir()
	good := filepath.Join(dir, "p.jsonl")
	os.WriteFile(good, []byte(`{"prompt": "a"}`+"\n"), 0o644)
	badPrompts := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badPrompts, []byte(`{"prompt": "a"}`+"\n"+`{"promt": "b"}`+"\n"), 0o644)
	strat := filepath.Join(dir, "s.json")
	os.WriteFile(strat, []byte(`[{"name": "greedy", "args": ["--temperature", "0"]}]`), 0o644)
	badStrat := filepath.Join(dir, "bad.json")
	os.WriteFile(badStrat, []byte(`[{"name": "typo", "args": ["--temprature", "0"]}]`), 0o644)
	base := []string{"eval", "repetition", "--model", model, "--max-tokens", "4", "--out", filepath.Join(dir, "out")}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--prompts", badPrompts, "--strategies", strat}, 1, "line 2"},
		{[]string{"--prompts", good, "--strategies", badStrat}, 1, `strategy "typo"`},
		{[]string{"--prompts", good, "--strategies", badStrat}, 1, "temprature"},
		{[]string{"--prompts", good}, 2, "--strategies is required"},
		{[]string{"--prompts", filepath.Join(dir, "missing"), "--strategies", strat}, 1, "no such file"},
	} {
		code, _, errs := runCLI(append(append([]string(nil), base...), tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if code, _, _ := runCLI("eval", "nonsense"); code != 2 {
		t.Errorf("eval nonsense: exit %d, want 2", code)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func idBytes(ids []int) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}
