package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{
		name:    "tokenize",
		summary: "print the token ids of a text as a JSON array",
		run:     runTokenize,
	})
	register(&command{
		name:    "detokenize",
		summary: "print the text of comma-separated token ids",
		run:     runDetokenize,
	})
}

// runTokenize implements
//
//	rwkvgo tokenize --tokenizer PATH (--text STRING | --file F)
//
// and prints the ids as a JSON array on one line.
func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", stderr)
	tokPath := fs.String("tokenizer", "", "tokenizer `PATH`: an RWKV World vocabulary .txt or a tokenizer.json (required)")
	text := fs.String("text", "", "the text to tokenize")
	file := fs.String("file", "", "read the text to tokenize from `F` instead")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rwkvgo tokenize --tokenizer PATH (--text STRING | --file F)\n\nPrints the token ids as a JSON array on one line.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *tokPath == "" {
		return usagef("--tokenizer is required")
	}
	if set["text"] == set["file"] {
		return usagef("give exactly one of --text and --file")
	}
	input := []byte(*text)
	if set["file"] {
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		input = b
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return err
	}
	out, err := json.Marshal(tok.Encode(input))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// runDetokenize implements
//
//	rwkvgo detokenize --tokenizer PATH --ids 1,2,3
//
// and prints the decoded text exactly, with no newline added.
func runDetokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("detokenize", stderr)
	tokPath := fs.String("tokenizer", "", "tokenizer `PATH`: an RWKV World vocabulary .txt or a tokenizer.json (required)")
	idList := fs.String("ids", "", "comma-separated token `ids` (a JSON array is accepted too)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rwkvgo detokenize --tokenizer PATH --ids 1,2,3\n\nPrints the decoded text exactly as decoded, with no newline added.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "ids" })
	if *tokPath == "" {
		return usagef("--tokenizer is required")
	}
	if !set {
		return usagef("--ids is required")
	}
	ids, err := parseIDs(*idList)
	if err != nil {
		return usageError{err}
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return err
	}
	text, err := tok.Decode(ids)
	if err != nil {
		return err
	}
	_, err = stdout.Write(text)
	return err
}

// parseIDs parses "1,2,3", "1 2 3" or "[1, 2, 3]"; an empty list is allowed.
func parseIDs(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	ids := make([]int, 0, len(fields))
	for _, f := range fields {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad token id %q in --ids", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
