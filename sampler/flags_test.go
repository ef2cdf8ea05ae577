package sampler

import (
	"flag"
	"io"
	"math"
	"reflect"
	"testing"
)

func parse(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	build := RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return build()
}

func TestRegisterFlagsDefaults(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Detector = DetectorConfig{N: 4, Window: 64, Action: DetectReport}
	if !reflect.DeepEqual(c, want.clone()) {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
}

func TestRegisterFlagsValues(t *testing.T) {
	c, err := parse(t, "--temperature", "0.7", "--top-k", "40", "--top-p", "0.9", "--min-p", "0.05",
		"--typical", "0.95", "--repetition-penalty", "1.1", "--penalty-window", "64",
		"--presence-penalty", "0.2", "--frequency-penalty", "0.3", "--penalty-decay", "0.996",
		"--no-repeat-ngram", "3", "--seed", "7", "--logit-bias", "5:-inf, 6:1.5", "--ban", "1,2",
		"--stop-token", "0", "--order", "temperature,penalties,ngram,bias,top_k,top_p,min_p,typical",
		"--rep-threshold", "0.6", "--rep-action", "stop")
	if err != nil {
		t.Fatal(err)
	}
	if c.Temperature != 0.7 || c.TopK != 40 || c.TopP != 0.9 || c.MinP != 0.05 || c.Typical != 0.95 ||
		c.RepetitionPenalty != 1.1 || c.PenaltyWindow != 64 || c.PresencePenalty != 0.2 ||
		c.FrequencyPenalty != 0.3 || c.PenaltyDecay != 0.996 || c.NoRepeatNGram != 3 || c.Seed != 7 {
		t.Fatalf("scalars wrong: %+v", c)
	}
	if !math.IsInf(c.LogitBias[5], -1) || c.LogitBias[6] != 1.5 || len(c.LogitBias) != 2 {
		t.Fatalf("logit bias = %v", c.LogitBias)
	}
	if !reflect.DeepEqual(c.Banned, []int{1, 2}) || !reflect.DeepEqual(c.StopTokens, []int{0}) || c.Order[0] != StageTemperature {
		t.Fatalf("lists wrong: %+v", c)
	}
	if c.Detector.Threshold != 0.6 || c.Detector.Action != DetectStop {
		t.Fatalf("detector = %+v", c.Detector)
	}
}

func TestRegisterFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--temperature", "-1"},
		{"--top-p", "0"},
		{"--top-p", "1.5"},
		{"--logit-bias", "5"},
		{"--logit-bias", "x:1"},
		{"--logit-bias", "1:1,1:2"},
		{"--ban", "a"},
		{"--ban", "-1"},
		{"--order", "top_k"},
		{"--rep-threshold", "0.5", "--rep-action", "nope"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestRegisterSearchFlags(t *testing.T) {
	run := func(args ...string) (SearchFlags, error) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		RegisterFlags(fs)
		build := RegisterSearchFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return build()
	}
	sf, err := run("--stop", "\n\n", "--stop", "User:", "--beams", "4", "--length-penalty", "0.8", "--early-stopping")
	if err != nil || !reflect.DeepEqual(sf.Stop, []string{"\n\n", "User:"}) || sf.Beams != 4 || sf.LengthPenalty != 0.8 || !sf.EarlyStopping || sf.Contrastive != nil {
		t.Fatalf("%+v, %v", sf, err)
	}
	sf, err = run("--contrastive", "0.6", "--contrastive-top-k", "5")
	if err != nil || sf.Contrastive == nil || *sf.Contrastive != (ContrastiveConfig{Alpha: 0.6, TopK: 5}) {
		t.Fatalf("%+v, %v", sf, err)
	}
	for _, args := range [][]string{{"--beams", "2", "--contrastive", "0.5"}, {"--contrastive", "3"}, {"--beams", "-1"}, {"--stop", ""}} {
		if _, err := run(args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestRegisterFlagsAntiRepetition(t *testing.T) {
	c, err := parse(t, "--dry-multiplier", "0.8", "--dry-base", "1.5", "--dry-allowed-length", "3",
		"--dry-penalty-last-n", "256", "--dry-sequence-breaker", "\n", "--dry-sequence-breaker", "User:",
		"--xtc-probability", "0.5", "--xtc-threshold", "0.2", "--top-n-sigma", "1.5",
		"--ngram-penalty", "0.4", "--ngram-penalty-n", "4", "--ngram-penalty-last-n", "128")
	if err != nil {
		t.Fatal(err)
	}
	if c.DRYMultiplier != 0.8 || c.DRYBase != 1.5 || c.DRYAllowedLength != 3 || c.DRYPenaltyLastN != 256 ||
		c.XTCProbability != 0.5 || c.XTCThreshold != 0.2 || c.TopNSigma != 1.5 ||
		c.NGramPenalty != 0.4 || c.NGramPenaltyN != 4 || c.NGramPenaltyLastN != 128 {
		t.Fatalf("scalars wrong: %+v", c)
	}
	if !reflect.DeepEqual(c.DRYBreakerText, []string{"\n", "User:"}) {
		t.Fatalf("breakers = %q", c.DRYBreakerText)
	}
	// The text must be encoded before New.
	if _, err := New(c); err == nil {
		t.Fatal("New accepted unencoded breaker text")
	}
	if err := c.EncodeDRYBreakers(BytesEncoder); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c); err != nil {
		t.Fatal(err)
	}

	c, err = parse(t, "--dry-multiplier", "1")
	if err != nil || !reflect.DeepEqual(c.DRYBreakerText, DefaultDRYBreakers) {
		t.Fatalf("default breakers: %q, %v", c.DRYBreakerText, err)
	}
	c, err = parse(t, "--dry-multiplier", "1", "--dry-sequence-breaker", "none")
	if err != nil || c.DRYBreakerText != nil {
		t.Fatalf("none: %q, %v", c.DRYBreakerText, err)
	}
	c, err = parse(t, "--dry-sequence-breaker", ":")
	if err != nil || c.DRYBreakerText != nil {
		t.Fatalf("breakers without DRY: %q, %v", c.DRYBreakerText, err)
	}
	c, err = parse(t, "--mirostat", "2", "--mirostat-tau", "4", "--mirostat-eta", "0.2", "--top-n-sigma", "-1")
	if err != nil || c.Mirostat != 2 || c.MirostatTau != 4 || c.MirostatEta != 0.2 || c.TopNSigma != 0 {
		t.Fatalf("mirostat: %+v, %v", c, err)
	}
	for _, args := range [][]string{
		{"--mirostat", "1"},
		{"--mirostat", "2", "--top-k", "40"},
		{"--xtc-probability", "1.5"},
		{"--dry-multiplier", "-1"},
		{"--dry-multiplier", "1", "--dry-base", "0.5"},
		{"--dry-penalty-last-n", "-2"},
		{"--dry-multiplier", "1", "--dry-sequence-breaker", "none", "--dry-sequence-breaker", ":"},
		{"--top-n-sigma", "-2"},
		{"--ngram-penalty", "1", "--ngram-penalty-n", "1"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
