package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/rwkvgo/rwkvgo/sampler"
)

func init() {
	register(&command{
		name:    "sample",
		summary: "apply the sampler to a logits file; print the distribution (--probs) or a token id",
		run:     runSample,
	})
}

// runSample implements
//
//	rwkvgo sample --logits FILE [--history 1,2,3] [sampler flags] [--seq N --step N] [--probs]
//
// FILE holds V little-endian float32 logits. With --probs it prints the final
// distribution after every processor as a JSON array of V numbers (0 for
// filtered tokens); otherwise it prints the drawn token id, drawn with the
// Philox uniform of (--seed, --seq, --step). XTC's decision also uses
// (--seed, --seq, --step); Mirostat starts from its initial mu. DRY
// sequence breakers are byte strings (one token id per byte).
func runSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sample", stderr)
	logitsPath := fs.String("logits", "", "file of V little-endian float32 logits (required)")
	history := fs.String("history", "", "comma-separated token history, oldest first")
	probs := fs.Bool("probs", false, "print the final distribution as a JSON array instead of a token id")
	seq := fs.Uint64("seq", 0, "sequence id for the random draw")
	step := fs.Uint64("step", 0, "step (0-based generated-token index) for the random draw")
	build := sampler.RegisterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *logitsPath == "" {
		return usagef("--logits is required")
	}
	cfg, err := build()
	if err != nil {
		return usageError{err}
	}
	// Without a tokenizer, DRY sequence breakers are byte strings: one token
	// id per byte.
	if err := cfg.EncodeDRYBreakers(sampler.BytesEncoder); err != nil {
		return usageError{err}
	}
	hist, err := sampler.ParseIDs(*history)
	if err != nil {
		return usagef("--history: %v", err)
	}
	logits, err := readLogits(*logitsPath)
	if err != nil {
		return err
	}
	s, err := sampler.New(cfg)
	if err != nil {
		return usageError{err}
	}
	if *probs {
		p, err := s.ProbsAt(logits, hist, *seq, *step, nil)
		if err != nil {
			return err
		}
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	id, err := s.Sample(logits, hist, *seq, *step)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}

// readLogits reads a file of little-endian float32 values.
func readLogits(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: size %d is not a positive multiple of 4 (float32 logits)", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}
