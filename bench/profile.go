package bench

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/google/pprof/profile"
	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TimedBackend wraps a backend and accumulates the time spent in each
// operation, by phase, operation and operand shape. On asynchronous backends
// (backend.Syncer) it synchronises around every operation, which serialises the
// device's queue: use it to see where time goes, not for throughput figures.
// The accumulated times export as a pprof profile (WriteProfile).
//
// Its methods are generated from the backend.Backend interface (ztimed.go)
// except those written here: every operation is timed under its name (with
// its enumeration arguments, as in Map/Sigmoid) and the shapes of its first
// and last tensor arguments; methods with results and Free pass through.
//
//go:generate go run ../internal/cmd/abigen timed -backend ../engine/backend -passthrough Free -out ztimed.go
type TimedBackend struct {
	backend.Backend
	mu    sync.Mutex
	phase string
	stats map[opKey]*OpTime
	err   error // the wrapper's own first error (see Err)
}

// Supports is the wrapped backend's backend.Supports, so that a model loads
// its weights in the same types with and without the wrapper (a backend
// without DTypeSupporter takes F32, F16 and BF16 only: without this method a
// block-quantized file would be widened and the profile would time other
// kernels).
func (t *TimedBackend) Supports(dt backend.DType) bool { return backend.Supports(t.Backend, dt) }

type opKey struct {
	phase, op  string
	rows, cols int // of the first tensor argument
	wr, wc     int // of the last one, when it has another shape; else 0
}

// OpTime is the accumulated time of one operation at one shape in one phase.
type OpTime struct {
	Phase string        `json:"phase"`
	Op    string        `json:"op"`
	Shape string        `json:"shape"`
	Calls int64         `json:"calls"`
	Total time.Duration `json:"total_ns"`
}

// NewTimedBackend wraps be.
func NewTimedBackend(be backend.Backend) *TimedBackend {
	return &TimedBackend{Backend: be, stats: map[opKey]*OpTime{}}
}

// SetPhase attributes the following operations to phase.
func (t *TimedBackend) SetPhase(phase string) {
	t.mu.Lock()
	t.phase = phase
	t.mu.Unlock()
}

// Times returns the accumulated times, largest first.
func (t *TimedBackend) Times() []OpTime {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]OpTime, 0, len(t.stats))
	for _, s := range t.stats {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Phase+out[i].Op+out[i].Shape < out[j].Phase+out[j].Op+out[j].Shape
	})
	return out
}

func dims(x backend.Tensor) (int, int) {
	if x == nil {
		return 0, 0
	}
	return x.Rows(), x.Cols()
}

func (t *TimedBackend) begin() time.Time {
	backend.Sync(t.Backend) // errors surface through Err
	return time.Now()
}

// end records an operation that began at start; x and w are its first and
// last tensor arguments (w is shown only when its shape differs from x's).
func (t *TimedBackend) end(start time.Time, op string, x, w backend.Tensor) {
	backend.Sync(t.Backend)
	d := time.Since(start)
	k := opKey{op: op}
	k.rows, k.cols = dims(x)
	k.wr, k.wc = dims(w)
	if k.wr == k.rows && k.wc == k.cols {
		w, k.wr, k.wc = nil, 0, 0
	}
	t.mu.Lock()
	k.phase = t.phase
	s := t.stats[k]
	if s == nil {
		shape := fmt.Sprintf("[%d,%d]", k.rows, k.cols)
		if w != nil {
			shape += fmt.Sprintf("x[%d,%d]", k.wr, k.wc)
		}
		s = &OpTime{Phase: k.phase, Op: op, Shape: shape}
		t.stats[k] = s
	}
	s.Calls++
	s.Total += d
	t.mu.Unlock()
}

// Attention times the wrapped backend's Attention (backend.Attender); the
// shape is that of the cache. On a backend without it the call is an error
// that Err reports.
func (t *TimedBackend) Attention(out, q, k, v, kc, vc backend.Tensor, pos, heads int) {
	a, ok := t.Backend.(backend.Attender)
	if !ok {
		t.mu.Lock()
		if t.err == nil {
			t.err = fmt.Errorf("bench: the %s backend has no Attention", t.Backend.Name())
		}
		t.mu.Unlock()
		return
	}
	s := t.begin()
	a.Attention(out, q, k, v, kc, vc, pos, heads)
	t.end(s, "Attention", q, kc)
}

// Err returns the first error of the wrapper itself (an operation the
// wrapped backend lacks), else the wrapped backend's.
func (t *TimedBackend) Err() error {
	t.mu.Lock()
	err := t.err
	t.err = nil
	t.mu.Unlock()
	if err != nil {
		t.Backend.Err() // the wrapper's error came first; clear the backend's too
		return err
	}
	return t.Backend.Err()
}

// BeginStep passes the step's batch to the wrapped backend (not timed: it
// only hands over the batch).
func (t *TimedBackend) BeginStep(b backend.Batch) { t.Backend.BeginStep(b) }

var _ backend.Backend = (*TimedBackend)(nil)

// KernelProfile builds a pprof profile of per-operation device time: each
// sample's stack is phase > operation > operation at its shape, with the call
// count and the total time as values. `go tool pprof -top FILE` lists where
// the time goes.
func KernelProfile(times []OpTime, deviceName string) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "calls", Unit: "count"}, {Type: "time", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "time", Unit: "nanoseconds"},
		Period:     1,
		Comments:   []string{"per-operation time on " + deviceName},
	}
	funcs := map[string]*profile.Location{}
	loc := func(name string) *profile.Location {
		if l, ok := funcs[name]; ok {
			return l
		}
		f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
		p.Function = append(p.Function, f)
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
		p.Location = append(p.Location, l)
		funcs[name] = l
		return l
	}
	for _, t := range times {
		phase := t.Phase
		if phase == "" {
			phase = "(no phase)"
		}
		stack := []*profile.Location{loc(t.Op + " " + t.Shape), loc(t.Op), loc(phase)}
		p.Sample = append(p.Sample, &profile.Sample{Location: stack, Value: []int64{t.Calls, int64(t.Total)}})
	}
	return p
}

// WriteProfile writes times as a gzipped pprof profile.
func WriteProfile(w io.Writer, times []OpTime, deviceName string) error {
	return KernelProfile(times, deviceName).Write(w)
}

// KernelTimes converts kernel microbenchmark results into OpTimes (median
// time x repeats, per shape) for the pprof export.
func KernelTimes(rs []KernelResult) []OpTime {
	out := make([]OpTime, 0, len(rs))
	for _, r := range rs {
		out = append(out, OpTime{Phase: fmt.Sprintf("%s rows=%d", r.Shape, r.Rows), Op: r.Op, Shape: r.Dims, Calls: int64(r.Us.N),
			Total: time.Duration(r.Us.Mean * float64(r.Us.N) * 1e3)})
	}
	return out
}
