package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// Token is one generated token of a stream (Session.Stream, Stream.Tokens).
type Token struct {
	// ID is the token id, or -1 for a last piece of text held back while it
	// could still have begun a stop string, and for the end of a
	// Stream.Tokens stream.
	ID int
	// Text is the text this token releases. It may be empty (while a stop
	// string may be forming) and may end inside a UTF-8 character; it is nil
	// without a decoder.
	Text []byte
	// Logprob is the token's log-probability under the model and
	// TopLogprobs the most likely alternatives, when the SubmitRequest
	// asked for them (Stream.Tokens only).
	Logprob     float64
	TopLogprobs []TokenLogprob
	// Finish is set on the last Token of a Stream.Tokens stream that ended
	// normally: why generation ended.
	Finish sampler.StopReason
}

// GenerateOptions configures Session.Generate and Session.Stream.
type GenerateOptions struct {
	// MaxTokens is the maximum number of tokens to generate, >= 1.
	MaxTokens int
	// Seq is the sequence id keying the random draws (with the sampler's
	// seed and the step).
	Seq uint64
	// Decode turns ids into text; required for stop strings and filled
	// Token.Text.
	Decode sampler.Decoder
	// PenalizeGeneratedOnly restricts the penalties' history to the
	// generated tokens.
	PenalizeGeneratedOnly bool
	// Contrastive selects contrastive search.
	Contrastive *sampler.ContrastiveConfig
	// Beams > 0 selects beam search with that many beams; the best
	// hypothesis is the result (streamed only once the search ends).
	Beams int
	// LengthPenalty and EarlyStopping configure beam search (see
	// sampler.BeamConfig); LengthPenalty 0 means 1.
	LengthPenalty float64
	EarlyStopping bool
	// OnToken, when set, is called by Generate as sampler.Options.OnToken
	// (not for beam search).
	OnToken func(id int, text []byte) error
	// HostSampling keeps sampling on the host even on a backend with a
	// device-resident decode loop (see below).
	HostSampling bool
}

// Generate feeds prompt to the session and generates up to opts.MaxTokens
// tokens with smp (sampling or greedy, contrastive or beam search as opts
// says); see sampler.Generate for the exact semantics, which it follows.
// On a backend with a device-resident decode loop (backend.DeviceDecoder,
// the CUDA backend), greedy decoding and sampling whose settings the
// device sampler implements run there (see Decoder): the same tokens, no
// logits copied to the host and no synchronization per token; Hidden is
// then unknown (empty) afterwards. Other settings, and HostSampling,
// sample on the host.
// Cancelling ctx stops the generation before the next model step and returns
// ctx's error; forks made by the search are closed before Generate returns.
// The session's state is advanced past the tokens fed.
func (s *Session) Generate(ctx context.Context, prompt []int, smp *sampler.Sampler, opts GenerateOptions) (*sampler.Result, error) {
	return s.generate(ctx, prompt, smp, opts, nil)
}

// Stream is Generate as an iterator: it yields each generated token as soon
// as it is chosen. Breaking out of the loop stops the generation. The last
// pair carries the error, if any (the context's error after cancellation).
//
//	for tok, err := range s.Stream(ctx, prompt, smp, engine.GenerateOptions{MaxTokens: 64, Decode: tok.Decode}) {
//		if err != nil { return err }
//		os.Stdout.Write(tok.Text)
//	}
func (s *Session) Stream(ctx context.Context, prompt []int, smp *sampler.Sampler, opts GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		stopped := false
		_, err := s.generate(ctx, prompt, smp, opts, func(t Token) error {
			if !yield(t, nil) {
				stopped = true
				return errStopIteration
			}
			return nil
		})
		if err != nil && !stopped {
			yield(Token{ID: -1}, err)
		}
	}
}

var errStopIteration = errors.New("engine: iteration stopped")

func (s *Session) generate(ctx context.Context, prompt []int, smp *sampler.Sampler, opts GenerateOptions, emit func(Token) error) (*sampler.Result, error) {
	if smp == nil {
		return nil, errors.New("engine: nil sampler")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := ctxModel{ctx: ctx, m: s.SamplerModel()}
	if opts.Beams > 0 {
		if opts.Contrastive != nil {
			return nil, errors.New("engine: beam search and contrastive search are exclusive")
		}
		lp := opts.LengthPenalty
		if lp == 0 {
			lp = 1
		}
		hyps, err := sampler.BeamSearch(m, prompt, smp, sampler.BeamConfig{NumBeams: opts.Beams,
			LengthPenalty: lp, EarlyStopping: opts.EarlyStopping, MaxTokens: opts.MaxTokens})
		if err != nil {
			return nil, err
		}
		if len(hyps) == 0 {
			return nil, errors.New("engine: beam search produced no hypothesis")
		}
		res := &sampler.Result{Tokens: hyps[0].Tokens, Reason: sampler.StopLength}
		if hyps[0].Length > len(hyps[0].Tokens) {
			res.Reason = sampler.StopToken
		}
		if opts.Decode != nil {
			res.Text = []byte{}
		}
		for _, id := range res.Tokens {
			t := Token{ID: id}
			if opts.Decode != nil {
				b, err := opts.Decode([]int{id})
				if err != nil {
					return nil, fmt.Errorf("engine: decoding token %d: %w", id, err)
				}
				t.Text = b
				res.Text = append(res.Text, b...)
			}
			if emit != nil {
				if err := emit(t); err != nil {
					return nil, err
				}
			}
		}
		return res, nil
	}
	sopts := sampler.Options{
		MaxTokens:             opts.MaxTokens,
		Seq:                   opts.Seq,
		Decode:                opts.Decode,
		PenalizeGeneratedOnly: opts.PenalizeGeneratedOnly,
		Contrastive:           opts.Contrastive,
	}
	if emit != nil {
		sopts.OnToken = func(id int, text []byte) error {
			return emit(Token{ID: id, Text: text})
		}
	} else {
		sopts.OnToken = opts.OnToken
	}
	if res, ok, err := s.generateDevice(ctx, prompt, smp, opts, sopts); ok {
		return res, err
	}
	res, err := sampler.Generate(m, prompt, smp, sopts)
	if err != nil && ctx.Err() != nil && !errors.Is(err, errStopIteration) {
		return nil, ctx.Err()
	}
	return res, err
}

// ctxModel checks a context before every model step.
type ctxModel struct {
	ctx context.Context
	m   sampler.Model
}

func (c ctxModel) Step(tokens []int) ([]float32, []float32, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, nil, err
	}
	return c.m.Step(tokens)
}

func (c ctxModel) Fork() (sampler.Model, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	f, err := c.m.Fork()
	if err != nil {
		return nil, err
	}
	return ctxModel{ctx: c.ctx, m: f}, nil
}

func (c ctxModel) Close() error { return c.m.Close() }

// generateDevice is generate's sampling on the device-resident decode loop,
// with sampler.Generate's semantics. ok is false (nothing done) when the
// backend has no such loop or the settings need the host.
func (s *Session) generateDevice(ctx context.Context, prompt []int, smp *sampler.Sampler, opts GenerateOptions, sopts sampler.Options) (res *sampler.Result, ok bool, err error) {
	cfg := smp.Config()
	if opts.HostSampling || opts.Contrastive != nil || len(prompt) == 0 || opts.MaxTokens < 1 ||
		cfg.FusedSupported() != nil || cfg.Detector.Enabled() {
		return nil, false, nil
	}
	stop, err := sampler.NewStopMatcher(cfg.StopStrings, opts.Decode)
	if err != nil {
		return nil, false, nil // sampler.Generate reports it
	}
	if err := ctx.Err(); err != nil {
		return nil, true, err
	}
	d, err := s.m.takeDecoder()
	if err != nil {
		if errors.Is(err, ErrNoDeviceDecoder) || errors.Is(err, backend.ErrDecodeUnsupported) {
			return nil, false, nil // the host path
		}
		return nil, true, err
	}
	defer s.m.putDecoder(d)
	rows, err := d.Add([]DecodeRequest{{Session: s, Prompt: prompt, Sampler: cfg, Seq: opts.Seq, MaxTokens: opts.MaxTokens,
		PenalizeGeneratedOnly: opts.PenalizeGeneratedOnly}})
	if err != nil {
		if errors.Is(err, backend.ErrDecodeUnsupported) && d.err == nil {
			return nil, false, nil // settings the device lacks: the host path
		}
		return nil, true, err
	}
	row := rows[0]
	defer d.Remove(row)
	s.hidden = s.hidden[:0]
	res = &sampler.Result{Reason: sampler.StopLength}
	if opts.Decode != nil {
		res.Text = []byte{}
	}
	for n := 0; n < opts.MaxTokens; {
		// Run ahead: queue the step that feeds the token read below (and
		// draws the next) before reading it, unless it is the last.
		if n+1 < opts.MaxTokens {
			if err := ctx.Err(); err != nil {
				return nil, true, err
			}
			if err := d.Launch(); err != nil {
				return nil, true, err
			}
		}
		toks, err := d.Read()
		if err != nil {
			return nil, true, err
		}
		for _, t := range toks {
			if t.Row != row {
				continue
			}
			n++
			if t.Err != nil {
				return nil, true, t.Err
			}
			if t.Reason == sampler.StopToken {
				res.Reason = sampler.StopToken
				return s.finishDevice(res, stop, sopts)
			}
			res.Tokens = append(res.Tokens, t.Token)
			text, stopped, err := stop.Push(t.Token)
			if err != nil {
				return nil, true, err
			}
			res.Text = append(res.Text, text...)
			if sopts.OnToken != nil {
				if err := sopts.OnToken(t.Token, text); err != nil {
					return nil, true, err
				}
			}
			if stopped {
				res.Reason = sampler.StopString
				return res, true, nil
			}
			if t.Done {
				return s.finishDevice(res, stop, sopts)
			}
		}
	}
	return s.finishDevice(res, stop, sopts)
}

// finishDevice flushes the stop matcher's held-back text, as
// sampler.Generate does when generation ends other than by a stop string.
func (s *Session) finishDevice(res *sampler.Result, stop *sampler.StopMatcher, sopts sampler.Options) (*sampler.Result, bool, error) {
	tail := stop.Flush()
	res.Text = append(res.Text, tail...)
	if sopts.OnToken != nil && len(tail) > 0 {
		if err := sopts.OnToken(-1, tail); err != nil {
			return nil, true, err
		}
	}
	return res, true, nil
}

// takeDecoder returns an idle one-row decoder of the model (an error
// wrapping ErrNoDeviceDecoder without a device-resident decode loop).
func (m *Model) takeDecoder() (*Decoder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if n := len(m.decoders); n > 0 {
		d := m.decoders[n-1]
		m.decoders = m.decoders[:n-1]
		return d, nil
	}
	return m.newDecoderLocked(1)
}

// putDecoder keeps d for the next generation once its launches are read.
func (m *Model) putDecoder(d *Decoder) {
	for d.Pending() > 0 {
		if _, err := d.Read(); err != nil {
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || d.err != nil || len(m.decoders) >= 4 {
		if !m.closed {
			d.closeLocked()
		}
		return
	}
	m.decoders = append(m.decoders, d)
}
