package bindings

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// NoToken is the token id Sampler.Sample reports for a row whose every
// token was filtered out (for example, all banned).
const NoToken = -1

// MaxSamplerVocab is the largest vocabulary the device sampler accepts.
const MaxSamplerVocab = 1 << 20

// Sampler is the fused device sampler of librwkvcu: it turns each row of
// a [rows, vocab] logits tensor into a token id in one kernel launch,
// with per-row settings and per-row penalty state (decayed occurrence
// counts of the history) kept on the device.
//
// A row follows the semantics of the Go sampler package (sampler.Sampler)
// for the subset of sampler.Config the device implements (see SetRow):
// penalties, logit bias, temperature, top-k, top-p and min-p in the
// default stage order, then a Philox4x32-10 draw keyed like
// sampler.Uniform. The settings are rounded to float32 on the device; the
// result is that of the Go sampler with the settings so rounded: the same
// token ids, and probabilities equal within float32 accuracy.
//
// A Sampler belongs to the Backend that made it and, like it, is not safe
// for concurrent use. Close it before closing the Backend.
type Sampler struct {
	b           *Backend
	h           ptr
	rows, vocab int
	biased      bool // a bias was set on some row: every SetRow sets (or clears) its row's bias

	// Scratch reused across calls (no allocation per Sample).
	tok32  []int32
	tokens []int
	probs  []float32
	ids    []int32
	vals   []float32
	obs    []int32
}

// NewSampler creates a device sampler for up to rows rows of logits over
// a vocabulary of vocab ids (at most MaxSamplerVocab). Every row starts
// with neutral settings (temperature 1, no filters or penalties, seed 0,
// sequence 0) and an empty history; configure rows with SetRow. An error
// pending on the backend is returned (and cleared) instead.
func (b *Backend) NewSampler(rows, vocab int) (*Sampler, error) {
	if b == nil {
		return nil, errors.New("cuda: NewSampler: nil backend")
	}
	if !b.live() {
		return nil, b.Err()
	}
	if rows <= 0 || rows > math.MaxInt32 || vocab <= 0 || vocab > MaxSamplerVocab {
		return nil, fmt.Errorf("cuda: NewSampler: %d rows over a vocabulary of %d (want rows > 0 and 0 < vocab <= %d): %w",
			rows, vocab, MaxSamplerVocab, ErrInvalidArgument)
	}
	var h ptr
	if rc := b.api.samplerCreate(b.ctx, int32(rows), int32(vocab), &h); rc != StatusOK {
		return nil, b.callErr("rwkvcu_sampler_create", rc)
	}
	return &Sampler{
		b: b, h: h, rows: rows, vocab: vocab,
		tok32: make([]int32, rows), tokens: make([]int, rows), probs: make([]float32, rows),
	}, nil
}

// callErr is the error of a librwkvcu call that returned rc, returned to
// the caller rather than recorded as the backend's pending error.
func (b *Backend) callErr(op string, rc int32) error {
	return &Error{Op: op, Status: int(rc), Msg: b.api.lastError(b.ctx)}
}

// Rows returns the number of rows the sampler was created for.
func (s *Sampler) Rows() int { return s.rows }

// Vocab returns the vocabulary size the sampler was created for.
func (s *Sampler) Vocab() int { return s.vocab }

// usable reports why s cannot be used, or nil.
func (s *Sampler) usable(op string) error {
	switch {
	case s == nil || s.h == nil:
		return fmt.Errorf("cuda: Sampler.%s: sampler is closed: %w", op, ErrInvalidArgument)
	case s.b.ctx == nil:
		return fmt.Errorf("cuda: Sampler.%s: backend is closed: %w", op, ErrInvalidArgument)
	}
	return nil
}

// checkRow reports an out-of-range row.
func (s *Sampler) checkRow(op string, row int) error {
	if row < 0 || row >= s.rows {
		return fmt.Errorf("cuda: Sampler.%s: row %d outside [0, %d): %w", op, row, s.rows, ErrInvalidArgument)
	}
	return nil
}

// f32 rounds a setting to float32, refusing one that overflows, or a
// positive one that rounds to 0 (whose meaning would change).
func f32(name string, v float64, positive bool) (float32, error) {
	f := float32(v)
	if math.IsInf(float64(f), 0) || (positive && v > 0 && f == 0) {
		return 0, fmt.Errorf("cuda: Sampler.SetRow: %s %v is outside the float32 range of the device sampler: %w", name, v, ErrNotSupported)
	}
	return f, nil
}

// SetRow configures row row with cfg and sequence id seq (the Philox
// stream of the row, as the seq argument of sampler.Sampler.Sample), and
// clears the row's history: call Observe afterwards to record a prompt.
//
// The device supports these fields of sampler.Config: Temperature, TopK,
// TopP, MinP, RepetitionPenalty, PresencePenalty, FrequencyPenalty,
// PenaltyDecay (over the whole history), LogitBias, Banned (a bias of
// -Inf) and Seed. StopTokens, StopStrings and Detector concern generation,
// not the draw, and are ignored. cfg must pass cfg.Validate (otherwise
// the error wraps ErrInvalidArgument); a setting the device cannot honour
// is refused with an error wrapping ErrNotSupported: PenaltyWindow > 0
// (only the whole-history window exists on the device), NoRepeatNGram > 0,
// Typical < 1, an Order other than sampler.DefaultOrder, or a value
// outside the float32 range. LogitBias and Banned ids must be below the
// vocabulary (ErrInvalidArgument). A refused configuration leaves the
// row unchanged.
func (s *Sampler) SetRow(row int, cfg sampler.Config, seq uint64) error {
	const op = "SetRow"
	if err := s.usable(op); err != nil {
		return err
	}
	if err := s.checkRow(op, row); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("cuda: Sampler.SetRow: %w (%w)", err, ErrInvalidArgument)
	}
	if err := cfg.FusedSupported(); err != nil {
		return fmt.Errorf("cuda: Sampler.SetRow: %w: %w", err, ErrNotSupported)
	}
	unsupported := func(what string) error {
		return fmt.Errorf("cuda: Sampler.SetRow: %s is not available on the device sampler: %w", what, ErrNotSupported)
	}
	switch {
	case cfg.PenaltyWindow > 0:
		return unsupported(fmt.Sprintf("PenaltyWindow %d (the device penalises the whole history only; use 0)", cfg.PenaltyWindow))
	case cfg.NoRepeatNGram > 0:
		return unsupported(fmt.Sprintf("no-repeat n-gram %d", cfg.NoRepeatNGram))
	case cfg.Typical != 1:
		return unsupported(fmt.Sprintf("typical sampling (mass %v)", cfg.Typical))
	case cfg.Order != nil && !slices.Equal(cfg.Order, sampler.DefaultOrder):
		return unsupported(fmt.Sprintf("stage order %v (only sampler.DefaultOrder)", cfg.Order))
	}

	var fs [7]float32
	for i, f := range []struct {
		name     string
		v        float64
		positive bool
	}{
		{"temperature", cfg.Temperature, true},
		{"top-p", cfg.TopP, true},
		{"min-p", cfg.MinP, false},
		{"repetition penalty", cfg.RepetitionPenalty, true},
		{"presence penalty", cfg.PresencePenalty, false},
		{"frequency penalty", cfg.FrequencyPenalty, false},
		{"penalty decay", cfg.PenaltyDecay, true},
	} {
		x, err := f32(f.name, f.v, f.positive)
		if err != nil {
			return err
		}
		fs[i] = x
	}
	topK := int32(min(cfg.TopK, math.MaxInt32)) // any k >= vocab keeps everything

	// The bias: LogitBias, then Banned as -Inf (the library sums repeated ids).
	ids, vals := s.ids[:0], s.vals[:0]
	for id, v := range cfg.LogitBias {
		if id >= s.vocab {
			return fmt.Errorf("cuda: Sampler.SetRow: logit bias token %d outside the vocabulary of %d: %w", id, s.vocab, ErrInvalidArgument)
		}
		f := float32(v)
		if math.IsInf(float64(f), 0) && !math.IsInf(v, 0) {
			return fmt.Errorf("cuda: Sampler.SetRow: logit bias %v of token %d is outside the float32 range of the device sampler: %w", v, id, ErrNotSupported)
		}
		ids, vals = append(ids, int32(id)), append(vals, f)
	}
	for _, id := range cfg.Banned {
		if id >= s.vocab {
			return fmt.Errorf("cuda: Sampler.SetRow: banned token %d outside the vocabulary of %d: %w", id, s.vocab, ErrInvalidArgument)
		}
		ids, vals = append(ids, int32(id)), append(vals, float32(math.Inf(-1)))
	}
	s.ids, s.vals = ids, vals

	b := s.b
	if rc := b.api.samplerSetRow(s.h, int32(row), fs[0], topK, fs[1], fs[2], fs[3], fs[4], fs[5], fs[6], cfg.Seed, seq); rc != StatusOK {
		return b.callErr("rwkvcu_sampler_set_row", rc)
	}
	if len(ids) > 0 || s.biased {
		var pi *int32
		var pv *float32
		if len(ids) > 0 {
			pi, pv = &ids[0], &vals[0]
		}
		if rc := b.api.samplerSetBias(s.h, int32(row), pi, pv, int32(len(ids))); rc != StatusOK {
			return b.callErr("rwkvcu_sampler_set_bias", rc)
		}
		s.biased = true
	}
	return nil
}

// Observe records tokens (oldest first, for example a prompt) in row
// row's history, as if they had been drawn: the penalties of later draws
// see them. It uses the row's penalty decay, so call it after SetRow.
// Tokens drawn by Sample are recorded by Sample itself.
func (s *Sampler) Observe(row int, tokens []int) error {
	const op = "Observe"
	if err := s.usable(op); err != nil {
		return err
	}
	if err := s.checkRow(op, row); err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	if len(tokens) > math.MaxInt32 {
		return fmt.Errorf("cuda: Sampler.Observe: %d tokens in one call: %w", len(tokens), ErrInvalidArgument)
	}
	if cap(s.obs) < len(tokens) {
		s.obs = make([]int32, len(tokens))
	}
	obs := s.obs[:len(tokens)]
	for i, id := range tokens {
		if id < 0 || id >= s.vocab {
			return fmt.Errorf("cuda: Sampler.Observe: token %d at position %d outside the vocabulary of %d: %w", id, i, s.vocab, ErrInvalidArgument)
		}
		obs[i] = int32(id)
	}
	if rc := s.b.api.samplerObserve(s.h, int32(row), &obs[0], int32(len(obs))); rc != StatusOK {
		return s.b.callErr("rwkvcu_sampler_observe", rc)
	}
	return nil
}

// Sample draws one token for each row of logits, an F32 [n, vocab] tensor
// of the sampler's backend with n <= Rows() (row i uses the settings and
// history of sampler row i), at step step: the Philox counter, which for
// agreement with sampler.Sampler.Sample is the 0-based index of the token
// being generated. It waits for the queued work that computes logits,
// records each drawn token in its row's history, and returns the token
// ids and their probabilities in the final (filtered) distribution (1 for
// greedy rows). The returned slices have n entries and are reused by the
// next call to Sample.
//
// A row whose every token is filtered out gets NoToken and probability 0,
// and its history is left unchanged; the other rows are drawn as usual.
// Sample then returns the complete results together with an error
// wrapping sampler.ErrNoCandidates that names the rows.
//
// An error pending on the backend (from an earlier operation) is returned
// and cleared first, as by Sync; nothing is drawn then.
func (s *Sampler) Sample(logits backend.Tensor, step uint64) (tokens []int, probs []float32, err error) {
	const op = "Sample"
	if err := s.usable(op); err != nil {
		return nil, nil, err
	}
	if err := s.b.Err(); err != nil {
		return nil, nil, err
	}
	t, ok := logits.(*tensor)
	switch {
	case !ok || t == nil:
		return nil, nil, fmt.Errorf("cuda: Sampler.Sample: logits %T do not belong to the cuda backend: %w", logits, ErrInvalidArgument)
	case t.h == nil:
		return nil, nil, fmt.Errorf("cuda: Sampler.Sample: logits tensor has no device memory (freed, or its allocation failed): %w", ErrInvalidArgument)
	case t.dt != backend.F32 || t.cols != s.vocab || t.rows > s.rows:
		return nil, nil, fmt.Errorf("cuda: Sampler.Sample: logits are %s[%d, %d], want F32[<= %d, %d]: %w",
			t.dt, t.rows, t.cols, s.rows, s.vocab, ErrInvalidArgument)
	}
	n := t.rows
	if rc := s.b.api.sample(s.h, t.h, step, &s.tok32[0], &s.probs[0]); rc != StatusOK {
		return nil, nil, s.b.callErr("rwkvcu_sample", rc)
	}
	tokens, probs = s.tokens[:n], s.probs[:n]
	var filtered []int
	for i, id := range s.tok32[:n] {
		tokens[i] = int(id)
		if id < 0 {
			filtered = append(filtered, i)
		}
	}
	if filtered != nil {
		err = fmt.Errorf("cuda: Sampler.Sample: rows %v: %w", filtered, sampler.ErrNoCandidates)
	}
	return tokens, probs, err
}

// Close frees the sampler's device memory. It is safe to call more than
// once and on a nil Sampler. Call it before the backend's Close: after
// that, Close only forgets the handle (the memory is not reclaimed, as
// for abandoned tensors).
func (s *Sampler) Close() error {
	if s == nil || s.h == nil {
		return nil
	}
	if s.b.ctx != nil {
		s.b.api.samplerDestroy(s.h)
	}
	s.h = nil
	return nil
}
