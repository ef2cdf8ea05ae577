package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/sampler"
)

func writeLogits(t *testing.T, l []float32) string {
	t.Helper()
	b := make([]byte, 4*len(l))
	for i, x := range l {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	p := filepath.Join(t.TempDir(), "logits.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCLI runs the command line in-process and returns its exit code and output.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

func TestSampleProbsMatchesLibrary(t *testing.T) {
	logits := []float32{1, 2, 3, 0.5, -1, 2.5}
	path := writeLogits(t, logits)
	rc, out, errs := runCLI("sample", "--logits", path, "--history", "2,1", "--temperature", "0.7",
		"--top-k", "4", "--top-p", "0.95", "--repetition-penalty", "1.5", "--presence-penalty", "0.1",
		"--frequency-penalty", "0.2", "--penalty-decay", "0.9", "--penalty-window", "2", "--probs")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var got []float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	c := sampler.DefaultConfig()
	c.Temperature, c.TopK, c.TopP, c.RepetitionPenalty = 0.7, 4, 0.95, 1.5
	c.PresencePenalty, c.FrequencyPenalty, c.PenaltyDecay, c.PenaltyWindow = 0.1, 0.2, 0.9, 2
	s, err := sampler.New(c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Probs(logits, []int{2, 1})
	if len(got) != len(want) {
		t.Fatalf("got %d probabilities, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("probs %v, want %v", got, want)
		}
	}
	if got[4] != 0 {
		t.Fatalf("filtered token not zero: %v", got)
	}
}

func TestSampleDrawsToken(t *testing.T) {
	path := writeLogits(t, []float32{0, 0, 0})
	// Seed 0, seq 0, step 0 gives u = 0.399..., the second of three tokens.
	rc, out, errs := runCLI("sample", "--logits", path)
	if rc != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("rc %d out %q err %s", rc, out, errs)
	}
	path = writeLogits(t, []float32{1, 5, 5, 2})
	rc, out, _ = runCLI("sample", "--logits", path, "--temperature", "0")
	if rc != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("greedy: rc %d out %q", rc, out)
	}
	// Same seed, same token, every time; matches the library.
	s, _ := sampler.New(func() sampler.Config { c := sampler.DefaultConfig(); c.Seed = 77; return c }())
	want, _ := s.Sample([]float32{1, 5, 5, 2}, nil, 3, 9)
	for i := 0; i < 3; i++ {
		rc, out, _ = runCLI("sample", "--logits", path, "--seed", "77", "--seq", "3", "--step", "9")
		if rc != 0 || strings.TrimSpace(out) != strconv.Itoa(want) {
			t.Fatalf("rc %d out %q want %d", rc, out, want)
		}
	}
}

func TestSampleErrors(t *testing.T) {
	path := writeLogits(t, []float32{1, 2})
	bad := filepath.Join(t.TempDir(), "bad.bin")
	if err := os.WriteFile(bad, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		rc   int
	}{
		{[]string{"sample"}, 2},
		{[]string{"sample", "--logits", path, "--temperature", "-1"}, 2},
		{[]string{"sample", "--logits", path, "--top-p", "1.5"}, 2},
		{[]string{"sample", "--logits", path, "--history", "1,x"}, 2},
		{[]string{"sample", "--logits", path, "--history", "5"}, 1},
		{[]string{"sample", "--logits", bad}, 1},
		{[]string{"sample", "--logits", filepath.Join(t.TempDir(), "missing")}, 1},
		{[]string{"sample", "--logits", path, "--ban", "0,1"}, 1},
		{[]string{"sample", "--logits", path, "extra"}, 2},
	}
	for _, c := range cases {
		if rc, _, _ := runCLI(c.args...); rc != c.rc {
			t.Errorf("%v: rc %d, want %d", c.args, rc, c.rc)
		}
	}
}
