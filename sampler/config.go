package sampler

import (
	"errors"
	"fmt"
	"math"
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

// DefaultOrder is the default stage order: penalties -> n-gram ban -> logit
// bias -> temperature -> top-k -> top-p -> min-p -> typical (-> draw).
var DefaultOrder = []Stage{StagePenalties, StageNGram, StageBias, StageTemperature,
	StageTopK, StageTopP, StageMinP, StageTypical}

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

	// Seed keys the Philox4x32-10 generator (see PhiloxBlock).
	Seed uint64
	// Order is the stage order; nil means DefaultOrder. When set it must
	// name every stage exactly once.
	Order []Stage

	// Detector configures the live repetition detector used by Generate;
	// a zero Threshold disables it.
	Detector DetectorConfig
}

// DefaultConfig returns a valid configuration whose processors are all at
// their neutral settings: plain sampling at temperature 1 from the model's
// distribution, seed 0, default stage order, detector off.
func DefaultConfig() Config {
	return Config{
		Temperature:       1,
		TopP:              1,
		Typical:           1,
		RepetitionPenalty: 1,
		PenaltyDecay:      1,
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
	if c.Order != nil {
		if len(c.Order) != len(DefaultOrder) {
			return fmt.Errorf("sampler: order must name each of the %d stages exactly once, got %d stages", len(DefaultOrder), len(c.Order))
		}
		seen := map[Stage]bool{}
		for _, st := range c.Order {
			if !validStage(st) {
				return fmt.Errorf("sampler: unknown stage %q in order", st)
			}
			if seen[st] {
				return fmt.Errorf("sampler: stage %q appears twice in order", st)
			}
			seen[st] = true
		}
	}
	return c.Detector.Validate()
}

func validStage(s Stage) bool {
	for _, d := range DefaultOrder {
		if s == d {
			return true
		}
	}
	return false
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
	if c.Order != nil {
		c.Order = append([]Stage(nil), c.Order...)
	}
	return c
}
