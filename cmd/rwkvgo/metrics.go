package main

import (
	"encoding/json"
	"fmt"
	"github.com/rwkvgo/rwkvgo/tokenizer"
	"io"
	"os"
	"strings"

	"github.com/rwkvgo/rwkvgo/sampler"
)

func init() {
	register(&command{
		name:    "metrics",
		summary: "print repetition metrics (seq-rep-n, uniq-seq, rep/l, wrep/l) of a text as JSON",
		run:     runMetrics,
	})
}

// runMetrics implements
//
//	rwkvgo metrics --tokenizer PATH --file TEXT [--reference TEXT]
//	rwkvgo metrics --ids --file IDS [--reference IDS]
//
// It tokenizes the file and prints one JSON object (sampler.Metrics):
// seq_rep_2, seq_rep_3, seq_rep_4, uniq_seq, rep_16, rep_32, rep_128, tokens,
// and wrep_16, wrep_32, wrep_128 when a reference continuation is given. With
// --ids the files hold token ids separated by commas or white space.
func runMetrics(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("metrics", stderr)
	tokPath := fs.String("tokenizer", "", `tokenizer file, or "bytes" for one token per byte`)
	file := fs.String("file", "", "text file to measure (required)")
	ref := fs.String("reference", "", "reference continuation (enables the wrep metrics)")
	ids := fs.Bool("ids", false, "files hold token ids instead of text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required")
	}
	var encode func([]byte) ([]int, error)
	switch {
	case *ids:
		if *tokPath != "" {
			return usagef("--ids and --tokenizer are exclusive")
		}
		encode = parseIDText
	case *tokPath == "":
		return usagef("--tokenizer is required (or --ids)")
	default:
		var err error
		if encode, err = loadTokenizer(*tokPath); err != nil {
			return err
		}
	}
	seq, err := encodeFile(*file, encode)
	if err != nil {
		return err
	}
	var refSeq []int
	if *ref != "" {
		if refSeq, err = encodeFile(*ref, encode); err != nil {
			return err
		}
		if refSeq == nil {
			refSeq = []int{}
		}
	}
	b, err := json.Marshal(sampler.ComputeMetrics(seq, refSeq))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

func encodeFile(path string, encode func([]byte) ([]int, error)) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seq, err := encode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return seq, nil
}

// loadTokenizer returns the text encoder for --tokenizer PATH: a World vocab
// .txt or a tokenizer.json, or "bytes" for byte-level tokenization (token id =
// byte value).
func loadTokenizer(path string) (func([]byte) ([]int, error), error) {
	var tok tokenizer.Tokenizer
	if path == "bytes" {
		tok = tokenizer.Bytes()
	} else {
		var err error
		if tok, err = tokenizer.Load(path); err != nil {
			return nil, err
		}
	}
	return func(b []byte) ([]int, error) { return tok.Encode(b), nil }, nil
}

// parseIDText parses token ids separated by commas and/or white space.
func parseIDText(b []byte) ([]int, error) {
	f := strings.FieldsFunc(string(b), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r'
	})
	return sampler.ParseIDs(strings.Join(f, ","))
}
