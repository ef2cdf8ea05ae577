package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "generate", summary: "generate a continuation of a prompt", run: runGenerate})
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	var mf modelFlags
	mf.register(fs)
	tokPath := fs.String("tokenizer", "", "tokenizer: World vocab .txt or tokenizer.json (default: found next to the model; bytes for vocab-256 models)")
	prompt := fs.String("prompt", "", "prompt text (required)")
	maxTokens := fs.Int("max-tokens", 128, "maximum number of tokens to generate")
	keepEOT := fs.Bool("ignore-eos", false, "do not stop at the tokenizer's end-of-text token")
	samplerCfg := sampler.RegisterFlags(fs)
	searchCfg := sampler.RegisterSearchFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := samplerCfg()
	if err != nil {
		return usageError{err}
	}
	search, err := searchCfg()
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
	// DRY sequence breakers are text: turn them into token sequences as
	// llama.cpp does, against the tokenizer's vocabulary.
	decodeOne := func(id int) ([]byte, error) {
		b, err := tok.Decode([]int{id})
		var unknown *tokenizer.UnknownIDError
		if errors.As(err, &unknown) {
			return nil, nil // a gap in the vocabulary
		}
		return b, err
	}
	if err := cfg.ResolveDRYBreakers(tok.VocabSize(), decodeOne, tok.Encode); err != nil {
		return err
	}
	ids := tok.Encode([]byte(*prompt))
	if len(ids) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens")
	}
	cfg.StopStrings = append(cfg.StopStrings, search.Stop...)
	if eot, ok := tok.EndOfText(); ok && !*keepEOT {
		cfg.StopTokens = append(cfg.StopTokens, eot)
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
	if search.Beams > 0 {
		return beamGenerate(out, s, ids, smp, tok, search, *maxTokens)
	}
	stream := tokenizer.NewStreamDecoder(tok)
	opts := sampler.Options{
		MaxTokens:   *maxTokens,
		Decode:      tok.Decode,
		Contrastive: search.Contrastive,
		OnToken: func(id int, text []byte) error {
			// text is what the stop-string matcher releases; it may split a
			// UTF-8 character, so print through a byte-level stream.
			_, err := out.WriteString(stream.WriteBytes(text))
			if err == nil {
				err = out.Flush()
			}
			return err
		},
	}
	if _, err := sampler.Generate(s.SamplerModel(), ids, smp, opts); err != nil {
		return err
	}
	out.WriteString(stream.Flush())
	out.WriteString("\n")
	return nil
}

func beamGenerate(out *bufio.Writer, s *engine.Session, prompt []int, smp *sampler.Sampler, tok tokenizer.Tokenizer, search sampler.SearchFlags, maxTokens int) error {
	hyps, err := sampler.BeamSearch(s.SamplerModel(), prompt, smp, sampler.BeamConfig{NumBeams: search.Beams,
		LengthPenalty: search.LengthPenalty, EarlyStopping: search.EarlyStopping, MaxTokens: maxTokens})
	if err != nil {
		return err
	}
	if len(hyps) == 0 {
		return fmt.Errorf("beam search produced no hypothesis")
	}
	text, err := tok.Decode(hyps[0].Tokens)
	if err != nil {
		return err
	}
	out.Write(text)
	out.WriteString("\n")
	return nil
}
