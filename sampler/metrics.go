package sampler

import "fmt"

// SeqRep returns seq-rep-n of seq, the fraction of repeated n-grams:
// 1 - |unique n-grams| / |n-grams|, over the len(seq)-n+1 overlapping
// n-grams. It is 0 when seq has no n-gram (len(seq) < n) or n < 1.
func SeqRep(seq []int, n int) float64 {
	if n < 1 || len(seq) < n {
		return 0
	}
	total := len(seq) - n + 1
	seen := make(map[string]struct{}, total)
	for i := 0; i < total; i++ {
		seen[ngramKey(seq[i:i+n])] = struct{}{}
	}
	return 1 - float64(len(seen))/float64(total)
}

func ngramKey(g []int) string {
	b := make([]byte, 0, 8*len(g))
	for _, t := range g {
		u := uint64(t)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
	}
	return string(b)
}

// UniqSeq returns uniq-seq of seq: the number of distinct tokens.
func UniqSeq(seq []int) int {
	seen := make(map[int]struct{}, len(seq))
	for _, t := range seq {
		seen[t] = struct{}{}
	}
	return len(seen)
}

// Rep returns rep/l of a token sequence, the token-level repetition of
// Welleck et al. 2019 ("Neural text degeneration with unlikelihood
// training") applied to the sequence's own tokens as the next-token
// predictions and as their context:
//
//	rep/l = (1/T) * #{ t in [0, T) : seq[t] in seq[max(0, t-l) : t] }
//
// with T = len(seq): the fraction of tokens that repeat one of the l
// preceding tokens. It is 0 for an empty sequence or l < 1.
func Rep(seq []int, l int) float64 {
	return TeacherForcedRep(seq, seq, l)
}

// WRep returns wrep/l of a generated continuation gen against a reference
// continuation ref of the same prompt: the fraction of positions that repeat
// one of the l preceding generated tokens and differ from the reference
// token at that position,
//
//	wrep/l = (1/T) * #{ t in [0, T) : gen[t] in gen[max(0, t-l) : t] and (t >= len(ref) or gen[t] != ref[t]) }
//
// with T = len(gen). Positions past the end of ref count as wrong. This is
// the paper's "wrong repetition" with the generated text as its own context
// and ref as the ground truth.
func WRep(gen, ref []int, l int) float64 {
	if l < 1 || len(gen) == 0 {
		return 0
	}
	n := 0
	for t, x := range gen {
		if inWindow(gen, t, l, x) && (t >= len(ref) || x != ref[t]) {
			n++
		}
	}
	return float64(n) / float64(len(gen))
}

// TeacherForcedRep computes rep/l exactly as defined by Welleck et al. for
// next-token predictions under teacher forcing: pred[t] is the model's top-1
// prediction given the ground truth prefix ctx[:t]. With T = len(pred)
// (which must not exceed len(ctx); extra predictions are ignored):
//
//	rep/l = (1/T) * #{ t : pred[t] in ctx[max(0, t-l) : t] }
//
// Use TeacherForcedWRep for the wrong-repetition variant.
func TeacherForcedRep(pred, ctx []int, l int) float64 {
	r, _ := teacherForced(pred, ctx, l)
	return r
}

// TeacherForcedWRep computes wrep/l of Welleck et al. under teacher forcing:
// the fraction of predictions pred[t] that occur in ctx[max(0, t-l) : t] and
// differ from the ground truth token ctx[t]. Predictions at positions t >=
// len(ctx) are ignored.
func TeacherForcedWRep(pred, ctx []int, l int) float64 {
	_, w := teacherForced(pred, ctx, l)
	return w
}

func teacherForced(pred, ctx []int, l int) (rep, wrep float64) {
	if len(pred) > len(ctx) {
		pred = pred[:len(ctx)]
	}
	if l < 1 || len(pred) == 0 {
		return 0, 0
	}
	var r, w int
	for t, x := range pred {
		if inWindow(ctx, t, l, x) {
			r++
			if x != ctx[t] {
				w++
			}
		}
	}
	n := float64(len(pred))
	return float64(r) / n, float64(w) / n
}

// inWindow reports whether x occurs in s[max(0, t-l) : t].
func inWindow(s []int, t, l, x int) bool {
	lo := t - l
	if lo < 0 {
		lo = 0
	}
	for _, y := range s[lo:t] {
		if y == x {
			return true
		}
	}
	return false
}

// Metrics holds the repetition metrics of one token sequence, as printed by
// `rwkvgo metrics`: seq_rep_n = SeqRep(n), uniq_seq = UniqSeq, rep_l =
// Rep(l), and, when a reference continuation is given, wrep_l = WRep(l);
// tokens is the sequence length.
type Metrics struct {
	SeqRep2 float64  `json:"seq_rep_2"`
	SeqRep3 float64  `json:"seq_rep_3"`
	SeqRep4 float64  `json:"seq_rep_4"`
	UniqSeq int      `json:"uniq_seq"`
	Rep16   float64  `json:"rep_16"`
	Rep32   float64  `json:"rep_32"`
	Rep128  float64  `json:"rep_128"`
	WRep16  *float64 `json:"wrep_16,omitempty"`
	WRep32  *float64 `json:"wrep_32,omitempty"`
	WRep128 *float64 `json:"wrep_128,omitempty"`
	Tokens  int      `json:"tokens"`
}

// ComputeMetrics computes Metrics of seq. When ref is non-nil the wrep
// fields are filled with WRep(seq, ref, l); otherwise they are nil.
func ComputeMetrics(seq, ref []int) Metrics {
	m := Metrics{
		SeqRep2: SeqRep(seq, 2),
		SeqRep3: SeqRep(seq, 3),
		SeqRep4: SeqRep(seq, 4),
		UniqSeq: UniqSeq(seq),
		Rep16:   Rep(seq, 16),
		Rep32:   Rep(seq, 32),
		Rep128:  Rep(seq, 128),
		Tokens:  len(seq),
	}
	if ref != nil {
		w16, w32, w128 := WRep(seq, ref, 16), WRep(seq, ref, 32), WRep(seq, ref, 128)
		m.WRep16, m.WRep32, m.WRep128 = &w16, &w32, &w128
	}
	return m
}

// DetectorAction is what the live repetition detector does when it fires.
type DetectorAction string

// Detector actions.
const (
	// DetectReport only reports the event.
	DetectReport DetectorAction = "report"
	// DetectStop stops generation.
	DetectStop DetectorAction = "stop"
	// DetectEscalate raises the penalties of the sampler for the rest of the
	// generation (see DetectorConfig).
	DetectEscalate DetectorAction = "escalate"
)

// DetectorConfig configures the live repetition detector. It fires when
// seq-rep-N over the last Window generated tokens exceeds Threshold; the
// value is only evaluated once Window tokens have been observed. After firing
// the window is cleared, so the next event needs Window new tokens.
type DetectorConfig struct {
	// Threshold on seq-rep-N in (0, 1); 0 disables the detector.
	Threshold float64
	// N is the n-gram size (default 4 when 0).
	N int
	// Window is the number of most recent tokens examined (default 64 when
	// 0); it must be larger than N.
	Window int
	// Action is what to do on firing (default DetectReport when empty).
	Action DetectorAction
	// EscalateRepetition multiplies the repetition penalty on each
	// escalation (default 1.2 when 0; must be >= 1).
	EscalateRepetition float64
	// EscalatePresence is added to the presence penalty on each escalation
	// (default 0.5 when 0; must be >= 0).
	EscalatePresence float64
}

// Enabled reports whether the detector is on.
func (c *DetectorConfig) Enabled() bool { return c.Threshold != 0 }

// Validate reports an invalid detector setting.
func (c *DetectorConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	d := c.withDefaults()
	switch {
	case !(d.Threshold > 0 && d.Threshold < 1):
		return fmt.Errorf("sampler: detector threshold must be in (0, 1), got %v", d.Threshold)
	case d.N < 1:
		return fmt.Errorf("sampler: detector n-gram size must be >= 1, got %d", d.N)
	case d.Window <= d.N:
		return fmt.Errorf("sampler: detector window %d must be larger than its n-gram size %d", d.Window, d.N)
	case d.Action != DetectReport && d.Action != DetectStop && d.Action != DetectEscalate:
		return fmt.Errorf("sampler: unknown detector action %q", d.Action)
	case !finite(d.EscalateRepetition) || d.EscalateRepetition < 1:
		return fmt.Errorf("sampler: detector repetition escalation must be >= 1, got %v", d.EscalateRepetition)
	case !finite(d.EscalatePresence) || d.EscalatePresence < 0:
		return fmt.Errorf("sampler: detector presence escalation must be >= 0, got %v", d.EscalatePresence)
	}
	return nil
}

func (c DetectorConfig) withDefaults() DetectorConfig {
	if c.N == 0 {
		c.N = 4
	}
	if c.Window == 0 {
		c.Window = 64
	}
	if c.Action == "" {
		c.Action = DetectReport
	}
	if c.EscalateRepetition == 0 {
		c.EscalateRepetition = 1.2
	}
	if c.EscalatePresence == 0 {
		c.EscalatePresence = 0.5
	}
	return c
}

// Detector watches generated tokens for loops. It is not safe for
// concurrent use.
type Detector struct {
	cfg DetectorConfig
	buf []int
}

// NewDetector validates cfg, fills in defaults and returns a Detector. It is
// an error to pass a disabled config (Threshold 0).
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if !cfg.Enabled() {
		return nil, fmt.Errorf("sampler: detector threshold must be in (0, 1), got 0")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg.withDefaults()}, nil
}

// Config returns the detector's configuration with defaults filled in.
func (d *Detector) Config() DetectorConfig { return d.cfg }

// Observe records one generated token. It returns fired = true with the
// measured seq-rep-N when Window tokens have been seen since the last event
// and seq-rep-N over them exceeds Threshold; the window is then cleared.
func (d *Detector) Observe(token int) (fired bool, value float64) {
	d.buf = append(d.buf, token)
	if len(d.buf) > d.cfg.Window {
		copy(d.buf, d.buf[len(d.buf)-d.cfg.Window:])
		d.buf = d.buf[:d.cfg.Window]
	}
	if len(d.buf) < d.cfg.Window {
		return false, 0
	}
	v := SeqRep(d.buf, d.cfg.N)
	if v > d.cfg.Threshold {
		d.buf = d.buf[:0]
		return true, v
	}
	return false, v
}

// Reset forgets every observed token.
func (d *Detector) Reset() { d.buf = d.buf[:0] }
