package sampler

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Stage names one logits-processing stage. The stages run in Config.Order; the
// draw (or argmax) always follows the last stage.
type Stage string

// The processing stages.
const (
	// StagePenalties applies the repetition penalty, then the presence and
	// frequency penalties.
	StagePenalties Stage = "penalties"
	// StageNGram bans tokens completing an n-gram already in the history.
	StageNGram Stage = "ngram"
	// StageBias adds Config.LogitBias and bans Config.Banned.
	StageBias Stage = "bias"
	// StageTemperature divides the logits by Config.Temperature.
	StageTemperature Stage = "temperature"
	// StageTopK keeps the tokens whose logit is at least the k-th largest.
	StageTopK Stage = "top_k"
	// StageTopP keeps the smallest most probable set reaching mass TopP.
	StageTopP Stage = "top_p"
	// StageMinP keeps tokens with probability >= MinP times the largest.
	StageMinP Stage = "min_p"
	// StageTypical applies locally typical sampling with mass Typical.
	StageTypical Stage = "typical"
)

// The anti-repetition and truncation stages added to the eight classic ones.
// An Order need not name them; see Config.Order for where they then run.
const (
	// StageDRY applies the DRY repetition penalty (see DRY).
	StageDRY Stage = "dry"
	// StageNGramPenalty applies the n-gram frequency penalty (see
	// NGramPenalty).
	StageNGramPenalty Stage = "ngram_penalty"
	// StageTopNSigma keeps the tokens within TopNSigma standard deviations
	// of the largest logit (see TopNSigma).
	StageTopNSigma Stage = "top_n_sigma"
	// StageXTC applies Exclude Top Choices (see XTC).
	StageXTC Stage = "xtc"
)

// DefaultOrder is the default order of the eight classic stages: penalties
// -> n-gram ban -> logit bias -> temperature -> top-k -> top-p -> min-p ->
// typical (-> draw). With the other stages at their default places the full
// default order is FullOrder(DefaultOrder):
//
//	penalties -> dry -> ngram_penalty -> ngram -> bias -> temperature ->
//	top_n_sigma -> top_k -> top_p -> min_p -> typical -> xtc (-> draw)
var DefaultOrder = []Stage{StagePenalties, StageNGram, StageBias, StageTemperature,
	StageTopK, StageTopP, StageMinP, StageTypical}

// extraStages are the stages an Order may omit, with the stage each one
// follows by default ("" = at the end).
var extraStages = []struct{ stage, after Stage }{
	{StageDRY, StagePenalties},
	{StageNGramPenalty, StageDRY},
	{StageTopNSigma, StageTemperature},
	{StageXTC, ""},
}

// FullOrder returns order (nil means DefaultOrder) with the stages it does
// not name inserted at their default places: dry right after penalties,
// ngram_penalty right after dry, top_n_sigma right after temperature and xtc
// at the end. order must be valid (see Config.Order).
func FullOrder(order []Stage) []Stage {
	if order == nil {
		order = DefaultOrder
	}
	out := append([]Stage(nil), order...)
	for _, x := range extraStages {
		if slices.Contains(out, x.stage) {
			continue
		}
		i := len(out)
		if x.after != "" {
			if j := slices.Index(out, x.after); j >= 0 {
				i = j + 1
			}
		}
		out = slices.Insert(out, i, x.stage)
	}
	return out
}

// Config configures a Sampler. Start from DefaultConfig: the zero Config is
// not valid (TopP, Typical, RepetitionPenalty and PenaltyDecay must be set).
// Every field's neutral value is noted; at its neutral value a stage changes
// nothing.
type Config struct {
	// Temperature divides the logits (logits/T). 0 selects greedy decoding
	// (argmax, lowest id on ties, no randomness). Must be >= 0 and finite.
	// Neutral: 1.
	Temperature float64
	// TopK keeps every token whose logit is at least the k-th largest
	// surviving logit (ties at the boundary are kept). 0 disables. Must be >= 0.
	TopK int
	// TopP keeps the smallest set of most probable tokens whose cumulative
	// probability reaches TopP (Hugging Face TopPLogitsWarper). Must be in
	// (0, 1]; 1 disables.
	TopP float64
	// MinP keeps tokens whose probability is >= MinP times the largest
	// probability. Must be in [0, 1]; 0 disables.
	MinP float64
	// Typical is the mass of locally typical sampling (Hugging Face
	// TypicalLogitsWarper). Must be in (0, 1]; 1 disables.
	Typical float64

	// RepetitionPenalty p (CTRL / Hugging Face): each distinct token in the
	// penalty window gets logit/p if logit > 0, else logit*p. Must be > 0 and
	// finite; 1 disables.
	RepetitionPenalty float64
	// PenaltyWindow is the number of most recent history tokens the
	// repetition, presence and frequency penalties look at; 0 means the whole
	// history. Must be >= 0.
	PenaltyWindow int
	// PresencePenalty is subtracted from the logit of every token occurring
	// in the penalty window. 0 disables.
	PresencePenalty float64
	// FrequencyPenalty is multiplied by the decayed count of each token in the
	// penalty window and subtracted from its logit. 0 disables.
	FrequencyPenalty float64
	// PenaltyDecay is the per-token decay of the frequency counts: walking the
	// window oldest to newest, every count is multiplied by PenaltyDecay before
	// the current token's count is incremented by 1. 1 gives plain counts
	// (OpenAI semantics). Must be in (0, 1].
	PenaltyDecay float64
	// NoRepeatNGram n bans every token that would complete an n-gram already
	// occurring in the whole history (Hugging Face NoRepeatNGramLogitsProcessor).
	// 0 disables. Must be >= 0.
	NoRepeatNGram int

	// LogitBias adds a value to a token's logit; -Inf bans the token. Ids
	// must be >= 0 (and below the vocabulary size when used); values must not
	// be NaN or +Inf.
	LogitBias map[int]float64
	// Banned tokens get logit -Inf (applied in the bias stage).
	Banned []int
	// StopTokens end generation when drawn; the stop token is not emitted.
	StopTokens []int
	// StopStrings end generation when the decoded output contains one of
	// them (matched across token boundaries); the stop text and everything
	// after it is not emitted. Empty strings are invalid.
	StopStrings []string

	// DRYMultiplier is the multiplier of the DRY ("Don't Repeat Yourself")
	// penalty; 0 disables it. Must be finite and >= 0. See DRY for the
	// exact semantics (those of llama.cpp). Server field dry_multiplier.
	DRYMultiplier float64
	// DRYBase is the base of DRY's exponential penalty; must be finite and
	// >= 1 when DRY is on. Default 1.75. Server field dry_base.
	DRYBase float64
	// DRYAllowedLength is the longest repeated sequence DRY tolerates
	// without penalty; must be >= 1 when DRY is on. Default 2. Server field
	// dry_allowed_length.
	DRYAllowedLength int
	// DRYPenaltyLastN is the number of most recent history tokens DRY
	// scans: -1 the whole history, 0 disables DRY. Must be >= -1. Default
	// -1. Server field dry_penalty_last_n.
	DRYPenaltyLastN int
	// DRYSequenceBreakers are token-id sequences that end a repetition
	// (see DRY): a match never extends across the last occurrence of one
	// in the history, and a candidate that is a one-token breaker is never
	// penalised. Each must be non-empty with ids >= 0.
	DRYSequenceBreakers [][]int
	// DRYBreakerText lists sequence breakers as text (llama.cpp's
	// dry_sequence_breakers; "\n", ":", "\"" and "*" there by default).
	// Text must be turned into DRYSequenceBreakers before New, which
	// rejects a Config with text left: by ResolveDRYBreakers (llama.cpp's
	// processing against a vocabulary) or EncodeDRYBreakers (the string's
	// own tokenization only).
	DRYBreakerText []string

	// XTCProbability is the probability with which Exclude Top Choices
	// applies at a step, in [0, 1]; 0 disables it. Server field
	// xtc_probability. See XTC.
	XTCProbability float64
	// XTCThreshold is XTC's probability threshold, in [0, 1]; above 0.5 XTC
	// never changes anything. Server field xtc_threshold.
	XTCThreshold float64
	// TopNSigma keeps the tokens whose logit is at least the largest minus
	// TopNSigma standard deviations of the finite logits; 0 disables. Must
	// be finite and >= 0. Server field top_n_sigma. See TopNSigma.
	TopNSigma float64

	// Mirostat selects Mirostat sampling: 0 off, 2 Mirostat 2.0 (1, the
	// first version, is not implemented). Mirostat replaces the truncation
	// stages, which must then be at their neutral settings, and needs a
	// temperature > 0. See MirostatTruncate. Server field mirostat.
	Mirostat int
	// MirostatTau is Mirostat's target surprise in bits (> 0, finite).
	// Default 5. Server field mirostat_tau.
	MirostatTau float64
	// MirostatEta is Mirostat's learning rate (>= 0, finite). Default 0.1.
	// Server field mirostat_eta.
	MirostatEta float64

	// NGramPenalty alpha penalises each candidate token x by alpha times
	// the number of occurrences, in the n-gram penalty window, of the
	// NGramPenaltyN-gram that x would complete (see NGramPenalty). 0
	// disables. Must be finite and >= 0.
	NGramPenalty float64
	// NGramPenaltyN is the n-gram length, >= 2 when NGramPenalty is on.
	// Default 3.
	NGramPenaltyN int
	// NGramPenaltyLastN is the number of most recent history tokens whose
	// n-grams are counted; 0 means the whole history. Must be >= 0.
	NGramPenaltyLastN int

	// Seed keys the Philox4x32-10 generator (see PhiloxBlock).
	Seed uint64
	// Order is the stage order; nil means DefaultOrder. When set it must
	// name each of the eight stages of DefaultOrder exactly once, and may
	// name each of dry, ngram_penalty, top_n_sigma and xtc at most once;
	// those it does not name run at their default places (see FullOrder).
	Order []Stage

	// Detector configures the live repetition detector used by Generate;
	// a zero Threshold disables it.
	Detector DetectorConfig
}

// DefaultConfig returns a valid configuration whose processors are all at
// their neutral settings: plain sampling at temperature 1 from the model's
// distribution, seed 0, default stage order, detector off. The parameters
// of the samplers that are off have llama.cpp's defaults (DRY base 1.75,
// allowed length 2, whole history; XTC threshold 0.1; Mirostat tau 5, eta
// 0.1) and an n-gram penalty length of 3.
func DefaultConfig() Config {
	return Config{
		Temperature:       1,
		TopP:              1,
		Typical:           1,
		RepetitionPenalty: 1,
		PenaltyDecay:      1,
		DRYBase:           1.75,
		DRYAllowedLength:  2,
		DRYPenaltyLastN:   -1,
		XTCThreshold:      0.1,
		MirostatTau:       5,
		MirostatEta:       0.1,
		NGramPenaltyN:     3,
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate reports the first invalid setting of c, or nil.
func (c *Config) Validate() error {
	switch {
	case !finite(c.Temperature) || c.Temperature < 0:
		return fmt.Errorf("sampler: temperature must be finite and >= 0, got %v", c.Temperature)
	case c.TopK < 0:
		return fmt.Errorf("sampler: top-k must be >= 0, got %d", c.TopK)
	case !(c.TopP > 0 && c.TopP <= 1):
		return fmt.Errorf("sampler: top-p must be in (0, 1], got %v", c.TopP)
	case !(c.MinP >= 0 && c.MinP <= 1):
		return fmt.Errorf("sampler: min-p must be in [0, 1], got %v", c.MinP)
	case !(c.Typical > 0 && c.Typical <= 1):
		return fmt.Errorf("sampler: typical mass must be in (0, 1], got %v", c.Typical)
	case !finite(c.RepetitionPenalty) || c.RepetitionPenalty <= 0:
		return fmt.Errorf("sampler: repetition penalty must be finite and > 0, got %v", c.RepetitionPenalty)
	case c.PenaltyWindow < 0:
		return fmt.Errorf("sampler: penalty window must be >= 0, got %d", c.PenaltyWindow)
	case !finite(c.PresencePenalty):
		return fmt.Errorf("sampler: presence penalty must be finite, got %v", c.PresencePenalty)
	case !finite(c.FrequencyPenalty):
		return fmt.Errorf("sampler: frequency penalty must be finite, got %v", c.FrequencyPenalty)
	case !(c.PenaltyDecay > 0 && c.PenaltyDecay <= 1):
		return fmt.Errorf("sampler: penalty decay must be in (0, 1], got %v", c.PenaltyDecay)
	case c.NoRepeatNGram < 0:
		return fmt.Errorf("sampler: no-repeat n-gram size must be >= 0, got %d", c.NoRepeatNGram)
	}
	for id, v := range c.LogitBias {
		if id < 0 {
			return fmt.Errorf("sampler: logit bias token id %d is negative", id)
		}
		if math.IsNaN(v) || math.IsInf(v, 1) {
			return fmt.Errorf("sampler: logit bias for token %d must not be NaN or +Inf, got %v", id, v)
		}
	}
	for _, id := range c.Banned {
		if id < 0 {
			return fmt.Errorf("sampler: banned token id %d is negative", id)
		}
	}
	for _, id := range c.StopTokens {
		if id < 0 {
			return fmt.Errorf("sampler: stop token id %d is negative", id)
		}
	}
	for _, s := range c.StopStrings {
		if s == "" {
			return errors.New("sampler: empty stop string")
		}
	}
	if err := c.validateExtra(); err != nil {
		return err
	}
	if c.Order != nil {
		seen := map[Stage]bool{}
		classic := 0
		for _, st := range c.Order {
			if !validStage(st) {
				return fmt.Errorf("sampler: unknown stage %q in order", st)
			}
			if seen[st] {
				return fmt.Errorf("sampler: stage %q appears twice in order", st)
			}
			seen[st] = true
			if slices.Contains(DefaultOrder, st) {
				classic++
			}
		}
		if classic != len(DefaultOrder) {
			return fmt.Errorf("sampler: order must name each of the %d stages of the default order exactly once, got %d of them", len(DefaultOrder), classic)
		}
	}
	return c.Detector.Validate()
}

// validateExtra checks the DRY, XTC, top-n-sigma, Mirostat and n-gram
// penalty settings. Parameters of a sampler that is off are not checked.
func (c *Config) validateExtra() error {
	switch {
	case !finite(c.DRYMultiplier) || c.DRYMultiplier < 0:
		return fmt.Errorf("sampler: DRY multiplier must be finite and >= 0, got %v", c.DRYMultiplier)
	case c.DRYMultiplier > 0 && !(finite(c.DRYBase) && c.DRYBase >= 1):
		return fmt.Errorf("sampler: DRY base must be finite and >= 1, got %v", c.DRYBase)
	case c.DRYMultiplier > 0 && c.DRYAllowedLength < 1:
		return fmt.Errorf("sampler: DRY allowed length must be >= 1, got %d", c.DRYAllowedLength)
	case c.DRYPenaltyLastN < -1:
		return fmt.Errorf("sampler: DRY penalty window must be >= -1, got %d", c.DRYPenaltyLastN)
	case len(c.DRYBreakerText) > 0:
		return errors.New("sampler: DRY sequence breakers given as text must be encoded first (Config.EncodeDRYBreakers)")
	case !(c.XTCProbability >= 0 && c.XTCProbability <= 1):
		return fmt.Errorf("sampler: XTC probability must be in [0, 1], got %v", c.XTCProbability)
	case !(c.XTCThreshold >= 0 && c.XTCThreshold <= 1):
		return fmt.Errorf("sampler: XTC threshold must be in [0, 1], got %v", c.XTCThreshold)
	case !finite(c.TopNSigma) || c.TopNSigma < 0:
		return fmt.Errorf("sampler: top-n-sigma must be finite and >= 0, got %v", c.TopNSigma)
	case c.Mirostat != 0 && c.Mirostat != 2:
		return fmt.Errorf("sampler: mirostat must be 0 (off) or 2 (Mirostat 2.0), got %d", c.Mirostat)
	case !finite(c.NGramPenalty) || c.NGramPenalty < 0:
		return fmt.Errorf("sampler: n-gram penalty must be finite and >= 0, got %v", c.NGramPenalty)
	case c.NGramPenalty > 0 && c.NGramPenaltyN < 2:
		return fmt.Errorf("sampler: n-gram penalty length must be >= 2, got %d", c.NGramPenaltyN)
	case c.NGramPenaltyLastN < 0:
		return fmt.Errorf("sampler: n-gram penalty window must be >= 0, got %d", c.NGramPenaltyLastN)
	}
	for i, b := range c.DRYSequenceBreakers {
		if len(b) == 0 {
			return fmt.Errorf("sampler: DRY sequence breaker %d is empty", i)
		}
		for _, id := range b {
			if id < 0 {
				return fmt.Errorf("sampler: DRY sequence breaker %d has negative token id %d", i, id)
			}
		}
	}
	if c.Mirostat == 2 {
		switch {
		case !finite(c.MirostatTau) || c.MirostatTau <= 0:
			return fmt.Errorf("sampler: mirostat tau must be finite and > 0, got %v", c.MirostatTau)
		case !finite(c.MirostatEta) || c.MirostatEta < 0:
			return fmt.Errorf("sampler: mirostat eta must be finite and >= 0, got %v", c.MirostatEta)
		case c.Temperature == 0:
			return errors.New("sampler: mirostat needs a temperature > 0")
		case c.TopK != 0 || c.TopP != 1 || c.MinP != 0 || c.Typical != 1 || c.XTCProbability != 0 || c.TopNSigma != 0:
			return errors.New("sampler: mirostat replaces top-k, top-p, min-p, typical, XTC and top-n-sigma: leave them at their neutral settings")
		}
	}
	return nil
}

func validStage(s Stage) bool {
	if slices.Contains(DefaultOrder, s) {
		return true
	}
	for _, x := range extraStages {
		if s == x.stage {
			return true
		}
	}
	return false
}

// EncodeDRYBreakers encodes each DRYBreakerText string with encode (for
// example a tokenizer's Encode; BytesEncoder for byte-level vocabularies),
// appends the token sequences to DRYSequenceBreakers and clears
// DRYBreakerText. A string that encodes to no tokens is an error.
func (c *Config) EncodeDRYBreakers(encode func([]byte) []int) error {
	for _, s := range c.DRYBreakerText {
		ids := encode([]byte(s))
		if len(ids) == 0 {
			return fmt.Errorf("sampler: DRY sequence breaker %q encodes to no tokens", s)
		}
		c.DRYSequenceBreakers = append(c.DRYSequenceBreakers, ids)
	}
	c.DRYBreakerText = nil
	return nil
}

// ResolveDRYBreakers turns DRYBreakerText into token sequences the way
// llama.cpp processes DRY sequence breakers for a vocabulary (its
// get_overlapping_token_sequences), appends them to DRYSequenceBreakers and
// clears DRYBreakerText. For each string, cut to 40 bytes:
//
//   - every token whose text contains the string is a one-token breaker;
//   - every other token whose text ends with a proper prefix of the string
//     (starting at any position of the text) is the first token of a breaker
//     continued by encode(rest of the string), cut to 20 tokens.
//
// decode returns a token's text (for ids 0 to vocabSize-1); encode tokenizes
// text. Duplicate sequences are dropped. A decode error is returned.
func (c *Config) ResolveDRYBreakers(vocabSize int, decode func(id int) ([]byte, error), encode func([]byte) []int) error {
	const maxChars, maxTail = 40, 20
	seen := map[string]bool{}
	add := func(seq []int) {
		k := fmt.Sprint(seq)
		if !seen[k] {
			seen[k] = true
			c.DRYSequenceBreakers = append(c.DRYSequenceBreakers, seq)
		}
	}
	for _, str := range c.DRYBreakerText {
		b := []byte(str)
		if len(b) > maxChars {
			b = b[:maxChars]
		}
		if len(b) == 0 {
			continue
		}
		for id := 0; id < vocabSize; id++ {
			word, err := decode(id)
			if err != nil {
				return fmt.Errorf("sampler: DRY sequence breakers: decoding token %d: %w", id, err)
			}
			if bytes.Contains(word, b) {
				add([]int{id})
				continue
			}
			for pos := 0; pos < len(word); pos++ {
				if word[pos] != b[0] {
					continue
				}
				i := 1
				for ; i < len(b) && pos+i < len(word); i++ {
					if word[pos+i] != b[i] {
						break
					}
				}
				if pos+i < len(word) { // a mismatch before the end of the token
					continue
				}
				tail := encode(b[i:])
				if len(tail) > maxTail {
					tail = tail[:maxTail]
				}
				add(append([]int{id}, tail...))
			}
		}
	}
	c.DRYBreakerText = nil
	return nil
}

// BytesEncoder encodes text as one token per byte (the byte's value), the
// encoding of byte-level vocabularies of 256 tokens.
func BytesEncoder(b []byte) []int {
	ids := make([]int, len(b))
	for i, x := range b {
		ids[i] = int(x)
	}
	return ids
}

// FusedSupported reports whether the fused device sampler (cuda/sample.cu,
// bindings.Sampler) implements every active setting of c: it returns nil,
// or an error naming the first setting only the Go sampler implements
// (PenaltyWindow > 0, NoRepeatNGram, typical sampling, a stage order other
// than DefaultOrder, DRY, XTC, top-n-sigma, Mirostat, the n-gram penalty).
// A caller choosing between the device and the Go sampler must use the Go
// sampler when it is not nil. It does not validate c.
func (c *Config) FusedSupported() error {
	unsupported := func(what string) error {
		return fmt.Errorf("sampler: %s is not available on the fused device sampler", what)
	}
	switch {
	case c.PenaltyWindow > 0:
		return unsupported("a penalty window")
	case c.NoRepeatNGram > 0:
		return unsupported("the no-repeat n-gram ban")
	case c.Typical != 1:
		return unsupported("typical sampling")
	case c.Order != nil && !slices.Equal(c.Order, DefaultOrder):
		return unsupported("a custom stage order")
	case c.DRYMultiplier != 0 && c.DRYPenaltyLastN != 0:
		return unsupported("DRY")
	case c.XTCProbability != 0 && c.XTCThreshold <= 0.5:
		return unsupported("XTC")
	case c.TopNSigma != 0:
		return unsupported("top-n-sigma")
	case c.Mirostat != 0:
		return unsupported("Mirostat")
	case c.NGramPenalty != 0:
		return unsupported("the n-gram penalty")
	}
	return nil
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	if c.LogitBias != nil {
		m := make(map[int]float64, len(c.LogitBias))
		for k, v := range c.LogitBias {
			m[k] = v
		}
		c.LogitBias = m
	}
	c.Banned = append([]int(nil), c.Banned...)
	c.StopTokens = append([]int(nil), c.StopTokens...)
	c.StopStrings = append([]string(nil), c.StopStrings...)
	if c.DRYSequenceBreakers != nil {
		bs := make([][]int, len(c.DRYSequenceBreakers))
		for i, b := range c.DRYSequenceBreakers {
			bs[i] = append([]int(nil), b...)
		}
		c.DRYSequenceBreakers = bs
	}
	c.DRYBreakerText = append([]string(nil), c.DRYBreakerText...)
	if c.Order != nil {
		c.Order = append([]Stage(nil), c.Order...)
	}
	return c
}
