package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// generate accepts the anti-repetition sampler flags (llama.cpp names),
// encodes DRY sequence breakers with the model's tokenizer, and stays
// reproducible for a seed; invalid settings are usage errors.
func TestGenerateAntiRepetitionFlags(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.st")
	if code, _, errs := runCLI("synth", "--version", "7", "--layers", "2", "--width", "64", "--vocab", "256",
		"--head-size", "32", "--dtype", "F32", "--out", model); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errs)
	}
	base := []string{"generate", "--model", model, "--prompt", "abcabcabc", "--max-tokens", "12", "--seed", "3"}
	for _, extra := range [][]string{
		{"--dry-multiplier", "0.8", "--dry-base", "1.75", "--dry-allowed-length", "2", "--dry-penalty-last-n", "-1",
			"--dry-sequence-breaker", "\n", "--dry-sequence-breaker", "c"},
		{"--xtc-probability", "0.5", "--xtc-threshold", "0.1"},
		{"--top-n-sigma", "1"},
		{"--mirostat", "2", "--mirostat-tau", "5", "--mirostat-eta", "0.1"},
		{"--ngram-penalty", "0.5", "--ngram-penalty-n", "3", "--ngram-penalty-last-n", "0"},
		{"--rep-threshold", "0.5", "--rep-n", "2", "--rep-window", "4", "--rep-action", "stop"},
	} {
		args := append(append([]string(nil), base...), extra...)
		code, first, errs := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errs)
		}
		_, second, _ := runCLI(args...)
		if first != second {
			t.Errorf("%v: not reproducible: %q / %q", extra, first, second)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--mirostat", "1"}, "mirostat"},
		{[]string{"--xtc-probability", "2"}, "XTC probability"},
		{[]string{"--dry-multiplier", "1", "--dry-base", "0.5"}, "DRY base"},
	} {
		args := append(append([]string(nil), base...), tc.args...)
		code, _, errs := runCLI(args...)
		if code != 2 || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errs, tc.msg)
		}
	}
}

// serve's default repetition detector flags are validated before the model
// loads.
func TestServeDetectorFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--rep-threshold", "0.5", "--rep-action", "explode"}, "unknown detector action"},
		{[]string{"--rep-threshold", "1.5"}, "threshold"},
		{[]string{"--rep-threshold", "0.5", "--rep-n", "8", "--rep-window", "8"}, "window"},
	} {
		code, _, errs := runCLI(append([]string{"serve", "--model", "/nonexistent.bin"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errs, tc.msg)
		}
	}
}
