package sampler

import "fmt"

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
