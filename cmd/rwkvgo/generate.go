package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/rwkvgo/rwkvgo/internal/generation"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "generate", summary: "generate a continuation of a prompt", run: runGenerate})
}

// runGenerate implements `rwkvgo generate`. The generation itself (flags,
// sampler, search) is package generation's, which `rwkvgo eval repetition`
// shares, so both produce the same ids for the same flags, seed and prompt.
func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	var mf modelFlags
	mf.register(fs)
	tokPath := fs.String("tokenizer", "", "tokenizer: World vocab .txt or tokenizer.json (default: found next to the model; bytes for vocab-256 models)")
	prompt := fs.String("prompt", "", "prompt text (required)")
	maxTokens := fs.Int("max-tokens", 128, "maximum number of tokens to generate")
	settingsOf := generation.RegisterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	settings, err := settingsOf()
	if err != nil {
		return usageError{err}
	}
	if *prompt == "" {
		return usagef("--prompt is required")
	}
	if *maxTokens < 1 {
		return usagef("--max-tokens must be >= 1")
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
	cfg, err := settings.Config(tok)
	if err != nil {
		return err
	}
	ids := tok.Encode([]byte(*prompt))
	if len(ids) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens")
	}
	smp, err := sampler.New(cfg)
	if err != nil {
		return usageError{err}
	}
	s, err := m.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	stream := tokenizer.NewStreamDecoder(tok)
	onToken := func(id int, text []byte) error {
		// text is what the stop-string matcher releases; it may split a
		// UTF-8 character, so print through a byte-level stream.
		_, err := out.WriteString(stream.WriteBytes(text))
		if err == nil {
			err = out.Flush()
		}
		return err
	}
	res, err := settings.Generate(s, ids, smp, tok.Decode, *maxTokens, onToken)
	if err != nil {
		return err
	}
	if settings.Search.Beams > 0 {
		out.Write(res.Text) // beam search's text comes at the end
	}
	out.WriteString(stream.Flush())
	out.WriteString("\n")
	return nil
}
