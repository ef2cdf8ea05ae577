package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/eval"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "eval", summary: "evaluation studies: eval repetition (decoding strategies against loops), eval quantization (quantized against unquantized logits)", run: runEval})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "quantization" {
		return runEvalQuantization(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "repetition" {
		return usagef("usage: rwkvgo eval repetition --model PATH --prompts FILE --strategies FILE --max-tokens N [--seed S] --out DIR\n" +
			"       rwkvgo eval quantization --model PATH [--quantize int8] [--prompt-tokens 34,105,110] [--steps 256]")
	}
	return runEvalRepetition(args[1:], stdout, stderr)
}

// runEvalQuantization implements
//
//	rwkvgo eval quantization --model PATH [--quantize int8]
//	    [--prompt-tokens IDS] [--steps N] [--quiet]
//
// It loads the model twice, as stored and quantized at load, and prints the
// eval.QuantizationResult of the reference's greedy continuation as JSON:
// the largest logit error and the greedy agreement over --steps positions.
func runEvalQuantization(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval quantization", stderr)
	var mf modelFlags
	mf.register(fs)
	promptIDs := fs.String("prompt-tokens", "34,105,110", "prompt token ids, comma-separated")
	steps := fs.Int("steps", 256, "compared positions: after the prompt, then after each greedy token")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *steps < 1 {
		return usagef("--steps must be >= 1")
	}
	prompt, err := parseInts("prompt-tokens", *promptIDs)
	if err != nil {
		return err
	}
	if len(prompt) == 0 {
		return usagef("--prompt-tokens is empty")
	}
	if mf.quantize == "" {
		mf.quantize = string(engine.QuantizeInt8)
	}
	refFlags := mf
	refFlags.quantize = ""
	ref, err := refFlags.load()
	if err != nil {
		return err
	}
	defer ref.Close()
	q, err := mf.load()
	if err != nil {
		return err
	}
	defer q.Close()
	var progress io.Writer
	if !*quiet {
		progress = stderr
	}
	res, err := eval.CompareQuantized(ref, q, prompt, *steps, progress)
	if err != nil {
		return err
	}
	_, rb := ref.MatMulWeights()
	_, qb := q.MatMulWeights()
	out := struct {
		Model          string `json:"model"`
		Quantize       string `json:"quantize"`
		Prompt         []int  `json:"prompt"`
		RefBytes       int64  `json:"matmul_bytes_reference"`
		QuantizedBytes int64  `json:"matmul_bytes_quantized"`
		eval.QuantizationResult
	}{mf.model, mf.quantize, prompt, rb, qb, res}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
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
