package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rwkvgo/rwkvgo/bench/telemetry"
)

// Progress reports the progress of long runs to a writer: a redrawn progress
// bar when the writer is a terminal, otherwise plain lines (one per step of
// at least 10% or every few seconds). A nil *Progress reports nothing.
type Progress struct {
	w        io.Writer
	terminal bool
	name     string
	total    int
	done     int
	start    time.Time
	lastPct  int
	lastLine time.Time
	now      func() time.Time
}

// NewProgress returns a Progress writing to w; terminal selects the bar.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal, now: time.Now}
}

// Begin starts a task of total units (total <= 0: unknown).
func (p *Progress) Begin(name string, total int) {
	if p == nil {
		return
	}
	p.name, p.total, p.done = name, total, 0
	p.start, p.lastLine = p.now(), p.now()
	p.lastPct = -1
	if !p.terminal {
		fmt.Fprintf(p.w, "%s ...\n", name)
		p.lastPct = 0
		return
	}
	p.draw()
}

// Add records n more units done.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.done += n
	if p.terminal {
		p.draw()
		return
	}
	pct := p.pct()
	if pct >= p.lastPct+10 || p.now().Sub(p.lastLine) >= 5*time.Second {
		if p.total > 0 {
			fmt.Fprintf(p.w, "%s: %d/%d (%d%%) %s\n", p.name, p.done, p.total, pct, p.elapsed())
		} else {
			fmt.Fprintf(p.w, "%s: %d %s\n", p.name, p.done, p.elapsed())
		}
		p.lastPct = pct - pct%10
		p.lastLine = p.now()
	}
}

// End finishes the current task with a one-line result.
func (p *Progress) End(result string) {
	if p == nil {
		return
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K")
	}
	if result != "" {
		result = ": " + result
	}
	fmt.Fprintf(p.w, "%s done in %s%s\n", p.name, p.elapsed(), result)
}

// Logf writes one line of information.
func (p *Progress) Logf(format string, args ...any) {
	if p == nil {
		return
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *Progress) pct() int {
	if p.total <= 0 {
		return 0
	}
	return min(100, 100*p.done/p.total)
}

func (p *Progress) elapsed() string {
	return p.now().Sub(p.start).Round(100 * time.Millisecond).String()
}

func (p *Progress) draw() {
	const width = 30
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r\033[K%s %d %s", p.name, p.done, p.elapsed())
		return
	}
	fill := width * min(p.done, p.total) / p.total
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3d%% %s %s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), p.pct(), p.name, p.elapsed())
}

// Env carries what every run reports to: progress and telemetry. Both may be
// nil.
type Env struct {
	Progress *Progress
	Sampler  *telemetry.Sampler
	// OnPhase, if set, is called with the name of each phase as it starts
	// (e.g. TimedBackend.SetPhase).
	OnPhase func(phase string)
}

// phase tags the following telemetry samples.
func (e *Env) phase(name string) {
	if e == nil {
		return
	}
	if e.Sampler != nil {
		e.Sampler.SetPhase(name)
	}
	if e.OnPhase != nil {
		e.OnPhase(name)
	}
}

// sample takes one telemetry sample now (at the end of a phase).
func (e *Env) sample() {
	if e != nil && e.Sampler != nil {
		e.Sampler.Sample()
	}
}

func (e *Env) progress() *Progress {
	if e == nil {
		return nil
	}
	return e.Progress
}
