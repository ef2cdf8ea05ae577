package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rwkvgo/rwkvgo/eval"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "eval", summary: "evaluation studies: eval repetition (decoding strategies against loops)", run: runEval})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "repetition" {
		return usagef("usage: rwkvgo eval repetition --model PATH --prompts FILE --strategies FILE --max-tokens N [--seed S] --out DIR")
	}
	return runEvalRepetition(args[1:], stdout, stderr)
}

// runEvalRepetition implements
//
//	rwkvgo eval repetition --model PATH [--tokenizer PATH] --prompts FILE
//	    --strategies FILE --max-tokens N [--seed S] --out DIR
//
// It writes DIR/report.json, DIR/report.md (also printed) and
// DIR/repetition.png; see package eval.
func runEvalRepetition(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval repetition", stderr)
	var mf modelFlags
	mf.register(fs)
	tokPath := fs.String("tokenizer", "", "tokenizer: World vocab .txt or tokenizer.json (default: found next to the model; bytes for vocab-256 models)")
	promptsPath := fs.String("prompts", "", `prompts file: JSON Lines, {"prompt": TEXT[, "reference": TEXT]} per line (required)`)
	strategiesPath := fs.String("strategies", "", `strategies file: JSON array of {"name": ..., "args": [generate's sampler flags]} (required)`)
	maxTokens := fs.Int("max-tokens", 128, "tokens generated per prompt")
	seed := fs.Uint64("seed", 0, "seed of every strategy (generate's --seed; a --seed in a strategy's args wins)")
	outDir := fs.String("out", "", "output directory (required)")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *promptsPath == "":
		return usagef("--prompts is required")
	case *strategiesPath == "":
		return usagef("--strategies is required")
	case *outDir == "":
		return usagef("--out is required")
	case *maxTokens < 1:
		return usagef("--max-tokens must be >= 1")
	}
	prompts, err := readWith(*promptsPath, eval.ReadPrompts)
	if err != nil {
		return err
	}
	strategies, err := readWith(*strategiesPath, eval.ReadStrategies)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.ForModel(m.Config().Vocab, mf.model, *tokPath)
	if err != nil {
		return err
	}
	opts := eval.Options{Model: mf.model, MaxTokens: *maxTokens, Seed: *seed}
	if !*quiet {
		opts.Progress = stderr
	}
	rep, err := eval.Repetition(m, tok, prompts, strategies, opts)
	if err != nil {
		return err
	}
	if err := rep.WriteDir(*outDir); err != nil {
		return err
	}
	_, err = fmt.Fprint(stdout, rep.Markdown())
	return err
}

// readWith opens path and parses it with read.
func readWith[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
