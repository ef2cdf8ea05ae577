// Package generation is the recipe of `rwkvgo generate`, shared by the
// command line and the evaluation harness (package eval) so that both turn
// the same flags, seed and prompt into the same token ids: the generation
// flags, the sampler configuration they give for a tokenizer, and the
// generation itself (sampling, greedy, contrastive or beam search).
package generation

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// Settings are the generation settings of `rwkvgo generate` other than the
// model, the prompt and the number of tokens.
type Settings struct {
	// Sampler is the sampler configuration as parsed: DRY sequence breakers
	// are still text (see Config).
	Sampler sampler.Config
	// Search holds the stop strings and the beam or contrastive search.
	Search sampler.SearchFlags
	// IgnoreEOS keeps generating past the tokenizer's end-of-text token.
	IgnoreEOS bool
}

// RegisterFlags registers the generation flags on fs: the sampler flags
// (sampler.RegisterFlags), the search flags (sampler.RegisterSearchFlags)
// and --ignore-eos. The returned function validates the parsed values.
func RegisterFlags(fs *flag.FlagSet) func() (Settings, error) {
	ignore := fs.Bool("ignore-eos", false, "do not stop at the tokenizer's end-of-text token")
	samplerCfg := sampler.RegisterFlags(fs)
	searchCfg := sampler.RegisterSearchFlags(fs)
	return func() (Settings, error) {
		cfg, err := samplerCfg()
		if err != nil {
			return Settings{}, err
		}
		search, err := searchCfg()
		if err != nil {
			return Settings{}, err
		}
		return Settings{Sampler: cfg, Search: search, IgnoreEOS: *ignore}, nil
	}
}

// ParseArgs parses args, which may hold only the flags of RegisterFlags
// (for example ["--temperature", "1", "--top-p", "0.9"] or ["--beams",
// "4"]), into Settings. An unknown flag or a positional argument is an
// error.
func ParseArgs(args []string) (Settings, error) {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	get := RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Settings{}, errors.New("-h is not a generation flag")
		}
		return Settings{}, err
	}
	if fs.NArg() > 0 {
		return Settings{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return get()
}

// Config returns the sampler configuration for tok: the DRY sequence
// breakers resolved against tok's vocabulary (as llama.cpp does), the stop
// strings added, and tok's end-of-text token a stop token unless IgnoreEOS.
// The result still needs sampler.New, which validates it.
func (st Settings) Config(tok tokenizer.Tokenizer) (sampler.Config, error) {
	cfg := st.Sampler
	cfg.DRYBreakerText = append([]string(nil), cfg.DRYBreakerText...)
	cfg.DRYSequenceBreakers = append([][]int(nil), cfg.DRYSequenceBreakers...)
	decodeOne := func(id int) ([]byte, error) {
		b, err := tok.Decode([]int{id})
		var unknown *tokenizer.UnknownIDError
		if errors.As(err, &unknown) {
			return nil, nil // a gap in the vocabulary
		}
		return b, err
	}
	if err := cfg.ResolveDRYBreakers(tok.VocabSize(), decodeOne, tok.Encode); err != nil {
		return sampler.Config{}, err
	}
	cfg.StopStrings = append(append([]string(nil), cfg.StopStrings...), st.Search.Stop...)
	cfg.StopTokens = append([]int(nil), cfg.StopTokens...)
	if eot, ok := tok.EndOfText(); ok && !st.IgnoreEOS {
		cfg.StopTokens = append(cfg.StopTokens, eot)
	}
	return cfg, nil
}

// Generate generates up to maxTokens tokens after prompt on the session s
// (fed from its current state) with smp, as `rwkvgo generate` does: beam
// search when Search.Beams > 0 (the best hypothesis; its text decoded with
// decode), otherwise sampler.Generate (greedy, sampling or contrastive
// search) with sequence id 0. onToken, when set, is called as
// sampler.Options.OnToken (not for beam search).
func (st Settings) Generate(s *engine.Session, prompt []int, smp *sampler.Sampler, decode sampler.Decoder, maxTokens int, onToken func(id int, text []byte) error) (*sampler.Result, error) {
	if st.Search.Beams > 0 {
		hyps, err := sampler.BeamSearch(s.SamplerModel(), prompt, smp, sampler.BeamConfig{NumBeams: st.Search.Beams,
			LengthPenalty: st.Search.LengthPenalty, EarlyStopping: st.Search.EarlyStopping, MaxTokens: maxTokens})
		if err != nil {
			return nil, err
		}
		if len(hyps) == 0 {
			return nil, errors.New("beam search produced no hypothesis")
		}
		res := &sampler.Result{Tokens: hyps[0].Tokens, Reason: sampler.StopLength}
		if hyps[0].Length > len(hyps[0].Tokens) {
			res.Reason = sampler.StopToken
		}
		if decode != nil {
			if res.Text, err = decode(hyps[0].Tokens); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	// Session.Generate is sampler.Generate, sampling on the device when the
	// backend has a device-resident decode loop and the settings allow.
	return s.Generate(context.Background(), prompt, smp, engine.GenerateOptions{
		MaxTokens:   maxTokens,
		Decode:      decode,
		Contrastive: st.Search.Contrastive,
		OnToken:     onToken,
	})
}
