package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "logits", summary: "write the logits after every token (float32 LE [T, V]) and the final state", run: runLogits})
}

func runLogits(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logits", stderr)
	var mf modelFlags
	mf.register(fs)
	tokens := fs.String("tokens", "", "comma-separated token ids, fed from the initial state")
	prompt := fs.String("prompt", "", "prompt text, encoded with the model's tokenizer (instead of --tokens)")
	tokPath := fs.String("tokenizer", "", "tokenizer for --prompt (default: found next to the model; bytes for vocab-256 models)")
	out := fs.String("out", "", "output file: float32 little-endian [T, V], row t = logits after token t (required)")
	stateOut := fs.String("state-out", "", "also write the final state (float32 LE, rwkv.cpp layout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ids, err := parseIDs(*tokens)
	if err != nil {
		return usageError{err}
	}
	if (len(ids) == 0) == (*prompt == "") {
		return usagef("give exactly one of --tokens and --prompt")
	}
	if *out == "" {
		return usagef("--out is required")
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if *prompt != "" {
		tok, err := tokenizer.ForModel(m.Config().Vocab, mf.model, *tokPath)
		if err != nil {
			return err
		}
		if ids = tok.Encode([]byte(*prompt)); len(ids) == 0 {
			return fmt.Errorf("the prompt encodes to no tokens")
		}
	}
	s, err := m.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	logits, err := s.FeedAll(ids)
	if err != nil {
		return err
	}
	if err := writeF32File(*out, logits); err != nil {
		return err
	}
	if *stateOut != "" {
		st, err := s.State()
		if err != nil {
			return err
		}
		if err := writeState(*stateOut, st); err != nil {
			return err
		}
	}
	return nil
}

func writeF32File(path string, v []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func writeState(path string, st *engine.State) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := st.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
