package sampler

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// RegisterFlags registers the sampler flags on fs and returns a function that
// builds and validates the Config from the parsed values. Flags (defaults are
// the neutral settings of DefaultConfig):
//
//	--temperature F         (1; 0 = greedy)
//	--top-k N               (0 = off)
//	--top-p F               (1 = off)
//	--min-p F               (0 = off)
//	--typical F             (1 = off)
//	--repetition-penalty F  (1 = off)
//	--penalty-window N      (0 = whole history)
//	--presence-penalty F    (0)
//	--frequency-penalty F   (0)
//	--penalty-decay F       (1)
//	--no-repeat-ngram N     (0 = off)
//	--seed S                (0)
//	--logit-bias ID:V,...   (V may be -inf)
//	--ban ID,...
//	--stop-token ID,...
//	--order STAGE,...       (default penalties,ngram,bias,temperature,top_k,top_p,min_p,typical)
//	--rep-threshold F       (0 = detector off)
//	--rep-n N               (4)
//	--rep-window N          (64)
//	--rep-action A          (report, stop or escalate)
//
// and the anti-repetition samplers, with llama.cpp's flag names and
// defaults:
//
//	--dry-multiplier F           (0 = off)
//	--dry-base F                 (1.75)
//	--dry-allowed-length N       (2)
//	--dry-penalty-last-n N       (-1 = whole history, 0 = off)
//	--dry-sequence-breaker S     (repeatable; replaces the defaults "\n", ":",
//	                              "\"", "*"; "none" for no breakers)
//	--xtc-probability F          (0 = off)
//	--xtc-threshold F            (0.1)
//	--top-n-sigma F              (0 = off; llama.cpp's -1 is accepted as off)
//	--mirostat N                 (0 = off, 2 = Mirostat 2.0)
//	--mirostat-tau F             (5)
//	--mirostat-eta F             (0.1)
//	--ngram-penalty F            (0 = off)
//	--ngram-penalty-n N          (3)
//	--ngram-penalty-last-n N     (0 = whole history)
//
// Sequence breakers are text: when DRY is on, the returned Config holds them
// in DRYBreakerText (llama.cpp's defaults unless --dry-sequence-breaker is
// given), to be turned into token sequences with the model's tokenizer by
// Config.ResolveDRYBreakers (as llama.cpp does) or Config.EncodeDRYBreakers
// (BytesEncoder for byte-level vocabularies without a tokenizer).
//
// It does not register --stop (stop strings), which RegisterSearchFlags
// provides for commands that generate text.
func RegisterFlags(fs *flag.FlagSet) func() (Config, error) {
	d := DefaultConfig()
	c := &d
	fs.Float64Var(&c.Temperature, "temperature", c.Temperature, "sampling temperature (0 = greedy)")
	fs.IntVar(&c.TopK, "top-k", 0, "keep tokens whose logit is at least the k-th largest (0 = off)")
	fs.Float64Var(&c.TopP, "top-p", c.TopP, "nucleus sampling mass in (0,1] (1 = off)")
	fs.Float64Var(&c.MinP, "min-p", 0, "keep tokens with probability >= min-p times the largest (0 = off)")
	fs.Float64Var(&c.Typical, "typical", c.Typical, "locally typical sampling mass in (0,1] (1 = off)")
	fs.Float64Var(&c.RepetitionPenalty, "repetition-penalty", c.RepetitionPenalty, "CTRL repetition penalty (1 = off)")
	fs.IntVar(&c.PenaltyWindow, "penalty-window", 0, "history tokens seen by the penalties (0 = all)")
	fs.Float64Var(&c.PresencePenalty, "presence-penalty", 0, "presence penalty")
	fs.Float64Var(&c.FrequencyPenalty, "frequency-penalty", 0, "frequency penalty")
	fs.Float64Var(&c.PenaltyDecay, "penalty-decay", c.PenaltyDecay, "per-token decay of frequency counts in (0,1]")
	fs.IntVar(&c.NoRepeatNGram, "no-repeat-ngram", 0, "ban tokens completing an n-gram already in the history (0 = off)")
	fs.Uint64Var(&c.Seed, "seed", 0, "random seed")
	bias := fs.String("logit-bias", "", "comma-separated ID:VALUE logit biases (VALUE may be -inf)")
	ban := fs.String("ban", "", "comma-separated token ids to ban")
	stopTok := fs.String("stop-token", "", "comma-separated token ids that end generation")
	order := fs.String("order", "", "comma-separated processing stage order")
	fs.Float64Var(&c.Detector.Threshold, "rep-threshold", 0, "repetition detector seq-rep-n threshold in (0,1) (0 = off)")
	fs.IntVar(&c.Detector.N, "rep-n", 4, "repetition detector n-gram size")
	fs.IntVar(&c.Detector.Window, "rep-window", 64, "repetition detector window in tokens")
	action := fs.String("rep-action", string(DetectReport), "repetition detector action: report, stop or escalate")
	fs.Float64Var(&c.DRYMultiplier, "dry-multiplier", 0, "DRY repetition penalty multiplier (0 = off)")
	fs.Float64Var(&c.DRYBase, "dry-base", c.DRYBase, "DRY penalty base")
	fs.IntVar(&c.DRYAllowedLength, "dry-allowed-length", c.DRYAllowedLength, "longest repetition DRY does not penalise")
	fs.IntVar(&c.DRYPenaltyLastN, "dry-penalty-last-n", c.DRYPenaltyLastN, "history tokens DRY scans (-1 = all, 0 = off)")
	var breakers stringList
	fs.Var(&breakers, "dry-sequence-breaker", `DRY sequence breaker text (repeatable; replaces the defaults "\n", ":", "\"", "*"; "none" for none)`)
	fs.Float64Var(&c.XTCProbability, "xtc-probability", 0, "probability that XTC applies at a step (0 = off)")
	fs.Float64Var(&c.XTCThreshold, "xtc-threshold", c.XTCThreshold, "XTC probability threshold")
	fs.Float64Var(&c.TopNSigma, "top-n-sigma", 0, "keep tokens within N standard deviations of the largest logit (0 or -1 = off)")
	fs.IntVar(&c.Mirostat, "mirostat", 0, "Mirostat sampling: 0 off, 2 Mirostat 2.0")
	fs.Float64Var(&c.MirostatTau, "mirostat-tau", c.MirostatTau, "Mirostat target surprise in bits")
	fs.Float64Var(&c.MirostatEta, "mirostat-eta", c.MirostatEta, "Mirostat learning rate")
	fs.Float64Var(&c.NGramPenalty, "ngram-penalty", 0, "penalty per earlier occurrence of the n-gram a token would complete (0 = off)")
	fs.IntVar(&c.NGramPenaltyN, "ngram-penalty-n", c.NGramPenaltyN, "n-gram length of the n-gram penalty")
	fs.IntVar(&c.NGramPenaltyLastN, "ngram-penalty-last-n", 0, "history tokens whose n-grams the n-gram penalty counts (0 = all)")
	return func() (Config, error) {
		out := c.clone()
		out.Detector.Action = DetectorAction(*action)
		if out.TopNSigma == -1 {
			out.TopNSigma = 0 // llama.cpp's "off"
		}
		if out.DRYMultiplier != 0 {
			switch {
			case len(breakers) == 0:
				out.DRYBreakerText = slices.Clone(DefaultDRYBreakers)
			case len(breakers) == 1 && breakers[0] == "none":
				out.DRYBreakerText = nil
			default:
				for _, b := range breakers {
					if b == "" || b == "none" {
						return Config{}, fmt.Errorf("--dry-sequence-breaker: %q is not a breaker (\"none\" must be given alone)", b)
					}
				}
				out.DRYBreakerText = slices.Clone([]string(breakers))
			}
		}
		var err error
		if out.LogitBias, err = ParseLogitBias(*bias); err != nil {
			return Config{}, err
		}
		if out.Banned, err = ParseIDs(*ban); err != nil {
			return Config{}, fmt.Errorf("--ban: %w", err)
		}
		if out.StopTokens, err = ParseIDs(*stopTok); err != nil {
			return Config{}, fmt.Errorf("--stop-token: %w", err)
		}
		if out.Order, err = ParseOrder(*order); err != nil {
			return Config{}, err
		}
		// Text breakers are checked once encoded.
		text := out.DRYBreakerText
		out.DRYBreakerText = nil
		if err := out.Validate(); err != nil {
			return Config{}, err
		}
		out.DRYBreakerText = text
		return out, nil
	}
}

// DefaultDRYBreakers are llama.cpp's default DRY sequence breakers.
var DefaultDRYBreakers = []string{"\n", ":", "\"", "*"}

// SearchFlags holds the values of the flags registered by
// RegisterSearchFlags.
type SearchFlags struct {
	// Stop lists the stop strings (Config.StopStrings).
	Stop []string
	// Beams is the beam count; 0 means no beam search.
	Beams int
	// LengthPenalty is BeamConfig.LengthPenalty.
	LengthPenalty float64
	// EarlyStopping is BeamConfig.EarlyStopping.
	EarlyStopping bool
	// Contrastive is non-nil when contrastive search was requested.
	Contrastive *ContrastiveConfig
}

// RegisterSearchFlags registers --stop (repeatable), --beams,
// --length-penalty, --early-stopping, --contrastive ALPHA (contrastive search
// when > 0 or when --contrastive-top-k is given) and --contrastive-top-k K
// (default 4) on fs, for commands that generate text. The returned function
// validates the values (beam search and contrastive search are exclusive).
func RegisterSearchFlags(fs *flag.FlagSet) func() (SearchFlags, error) {
	var stops stringList
	fs.Var(&stops, "stop", "stop string (repeatable); the stop text is not emitted")
	beams := fs.Int("beams", 0, "beam search with this many beams (0 = off)")
	lp := fs.Float64("length-penalty", 1, "beam search length penalty exponent")
	early := fs.Bool("early-stopping", false, "beam search stops when --beams hypotheses are finished")
	alpha := fs.Float64("contrastive", 0, "contrastive search with this penalty alpha in [0,1]")
	topK := fs.Int("contrastive-top-k", 4, "contrastive search candidates")
	return func() (SearchFlags, error) {
		sf := SearchFlags{Stop: append([]string(nil), stops...), Beams: *beams, LengthPenalty: *lp, EarlyStopping: *early}
		contrastive := *alpha != 0
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "contrastive" || f.Name == "contrastive-top-k" {
				contrastive = true
			}
		})
		if contrastive {
			sf.Contrastive = &ContrastiveConfig{Alpha: *alpha, TopK: *topK}
			if err := sf.Contrastive.Validate(); err != nil {
				return SearchFlags{}, err
			}
		}
		if sf.Beams < 0 {
			return SearchFlags{}, fmt.Errorf("--beams must be >= 0, got %d", sf.Beams)
		}
		if sf.Beams > 0 && sf.Contrastive != nil {
			return SearchFlags{}, fmt.Errorf("--beams and --contrastive are exclusive")
		}
		if !finite(sf.LengthPenalty) {
			return SearchFlags{}, fmt.Errorf("--length-penalty must be finite")
		}
		for _, s := range sf.Stop {
			if s == "" {
				return SearchFlags{}, fmt.Errorf("--stop: empty stop string")
			}
		}
		return sf, nil
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// ParseIDs parses a comma-separated list of non-negative token ids ("1,2,3";
// spaces around ids are allowed; "" gives nil).
func ParseIDs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	ids := make([]int, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("bad token id %q", p)
		}
		if id < 0 {
			return nil, fmt.Errorf("negative token id %d", id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ParseLogitBias parses "ID:VALUE,..." (VALUE a float, "-inf" bans); "" gives
// nil. A repeated id is an error.
func ParseLogitBias(s string) (map[int]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[int]float64{}
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			return nil, fmt.Errorf("--logit-bias: %q is not ID:VALUE", p)
		}
		id, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || id < 0 {
			return nil, fmt.Errorf("--logit-bias: bad token id %q", k)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("--logit-bias: bad value %q", v)
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("--logit-bias: token %d given twice", id)
		}
		m[id] = x
	}
	return m, nil
}

// ParseOrder parses a comma-separated stage order ("" gives nil, the default
// order). Validation of the stage set happens in Config.Validate.
func ParseOrder(s string) ([]Stage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Stage
	for _, p := range strings.Split(s, ",") {
		out = append(out, Stage(strings.TrimSpace(p)))
	}
	return out, nil
}
