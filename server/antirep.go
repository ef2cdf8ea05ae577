package server

import (
	"errors"
	"slices"
	"strings"

	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// antiRepetition sets the DRY, XTC, top-n-sigma, Mirostat and n-gram
// penalty settings of c from the request's llama.cpp-named fields, and the
// repetition detector from "repetition_detector" or the server's default.
// Values are checked by sampler.Config.Validate afterwards, except those
// only the server sees (the breakers' text, the detector's action).
func (s *Server) antiRepetition(cr *completionRequest, c *sampler.Config) *httpError {
	c.DRYMultiplier = ptrOr(cr.DRYMultiplier, 0)
	c.DRYBase = ptrOr(cr.DRYBase, c.DRYBase)
	c.DRYAllowedLength = ptrOr(cr.DRYAllowedLength, c.DRYAllowedLength)
	c.DRYPenaltyLastN = ptrOr(cr.DRYPenaltyLastN, c.DRYPenaltyLastN)
	c.XTCThreshold = ptrOr(cr.XTCThreshold, c.XTCThreshold)
	c.XTCProbability = ptrOr(cr.XTCProbability, 0)
	c.TopNSigma = ptrOr(cr.TopNSigma, 0)
	if c.TopNSigma == -1 {
		c.TopNSigma = 0 // llama.cpp's "off"
	}
	c.Mirostat = ptrOr(cr.Mirostat, 0)
	c.MirostatTau = ptrOr(cr.MirostatTau, c.MirostatTau)
	c.MirostatEta = ptrOr(cr.MirostatEta, c.MirostatEta)
	c.NGramPenalty = ptrOr(cr.NGramPenalty, 0)
	c.NGramPenaltyN = ptrOr(cr.NGramPenaltyN, c.NGramPenaltyN)
	c.NGramPenaltyLastN = ptrOr(cr.NGramPenaltyLastN, 0)
	if c.DRYMultiplier != 0 && c.DRYPenaltyLastN != 0 {
		text := sampler.DefaultDRYBreakers
		if cr.DRYSequenceBreakers != nil {
			text = cr.DRYSequenceBreakers
		}
		if len(text) > 16 {
			return badRequest("dry_sequence_breakers", "at most 16 DRY sequence breakers, got %d", len(text))
		}
		for _, b := range text {
			if b == "" {
				return badRequest("dry_sequence_breakers", "empty DRY sequence breaker")
			}
		}
		seqs, err := s.dryBreakers(text)
		if err != nil {
			return badRequest("dry_sequence_breakers", "%v", strings.TrimPrefix(err.Error(), "sampler: "))
		}
		c.DRYSequenceBreakers = seqs
	}

	c.Detector = s.cfg.Detector
	if d := cr.RepetitionDetector; d != nil {
		c.Detector = sampler.DetectorConfig{Threshold: d.Threshold, N: d.N, Window: d.Window, Action: sampler.DetectorAction(d.Action)}
	}
	if err := c.Detector.Validate(); err != nil {
		return badRequest("repetition_detector", "%v", strings.TrimPrefix(err.Error(), "sampler: "))
	}
	return nil
}

// dryBreakers returns the token sequences of DRY sequence breakers given as
// text, resolved against the vocabulary as llama.cpp does
// (sampler.Config.ResolveDRYBreakers); results are cached by text.
func (s *Server) dryBreakers(text []string) ([][]int, error) {
	key := strings.Join(text, "\x00")
	s.breakersMu.Lock()
	defer s.breakersMu.Unlock()
	if seqs, ok := s.breakers[key]; ok {
		return seqs, nil
	}
	c := sampler.Config{DRYBreakerText: slices.Clone(text)}
	decodeOne := func(id int) ([]byte, error) {
		b, err := s.tok.Decode([]int{id})
		var unknown *tokenizer.UnknownIDError
		if errors.As(err, &unknown) {
			return nil, nil // a gap in the vocabulary
		}
		return b, err
	}
	if err := c.ResolveDRYBreakers(s.tok.VocabSize(), decodeOne, s.tok.Encode); err != nil {
		return nil, err
	}
	if len(s.breakers) >= 64 {
		clear(s.breakers)
	}
	s.breakers[key] = c.DRYSequenceBreakers
	return c.DRYSequenceBreakers, nil
}

// samplerParams maps the start of a sampler validation message to the
// request field it is about.
var samplerParams = []struct{ prefix, param string }{
	{"DRY multiplier", "dry_multiplier"},
	{"DRY base", "dry_base"},
	{"DRY allowed length", "dry_allowed_length"},
	{"DRY penalty window", "dry_penalty_last_n"},
	{"DRY sequence breaker", "dry_sequence_breakers"},
	{"XTC probability", "xtc_probability"},
	{"XTC threshold", "xtc_threshold"},
	{"top-n-sigma", "top_n_sigma"},
	{"mirostat tau", "mirostat_tau"},
	{"mirostat eta", "mirostat_eta"},
	{"mirostat", "mirostat"},
	{"n-gram penalty length", "ngram_penalty_n"},
	{"n-gram penalty window", "ngram_penalty_last_n"},
	{"n-gram penalty", "ngram_penalty"},
	{"temperature", "temperature"},
	{"top-k", "top_k"},
	{"top-p", "top_p"},
	{"min-p", "min_p"},
	{"typical", "typical_p"},
	{"repetition penalty", "repetition_penalty"},
	{"penalty decay", "penalty_decay"},
	{"no-repeat", "no_repeat_ngram_size"},
}

// samplerParam returns the request field a sampler validation message
// (without its "sampler: " prefix) is about, or "".
func samplerParam(msg string) string {
	for _, p := range samplerParams {
		if strings.HasPrefix(msg, p.prefix) {
			return p.param
		}
	}
	return ""
}

// detected counts the repetition detector's firings of a finished request
// (res may be nil).
func (m *metrics) detected(res *scheduler.Result) {
	if res == nil {
		return
	}
	for _, e := range res.Events {
		m.detections.WithLabelValues(string(e.Action)).Inc()
	}
}
