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
type TimedBackend struct {
	backend.Backend
	mu    sync.Mutex
	phase string
	stats map[opKey]*OpTime
	err   error // the wrapper's own first error (see Err)
}

type opKey struct {
	phase, op  string
	rows, cols int // of the first operand
	wr, wc     int // of the weight (MatMul, Embed), else 0
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

func (t *TimedBackend) end(start time.Time, op string, x, w backend.Tensor) {
	backend.Sync(t.Backend)
	d := time.Since(start)
	k := opKey{op: op}
	k.rows, k.cols = dims(x)
	k.wr, k.wc = dims(w)
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

// Embed times the wrapped operation.
func (t *TimedBackend) Embed(out, emb backend.Tensor, tokens []int32) {
	s := t.begin()
	t.Backend.Embed(out, emb, tokens)
	t.end(s, "Embed", out, emb)
}

// LayerNorm times the wrapped operation.
func (t *TimedBackend) LayerNorm(out, x, w, b backend.Tensor, eps float32) {
	s := t.begin()
	t.Backend.LayerNorm(out, x, w, b, eps)
	t.end(s, "LayerNorm", x, nil)
}

// GroupNorm times the wrapped operation.
func (t *TimedBackend) GroupNorm(out, x, w, b backend.Tensor, groups int, eps float32) {
	s := t.begin()
	t.Backend.GroupNorm(out, x, w, b, groups, eps)
	t.end(s, "GroupNorm", x, nil)
}

// MatMul times the wrapped operation.
func (t *TimedBackend) MatMul(out, x, w backend.Tensor) {
	s := t.begin()
	t.Backend.MatMul(out, x, w)
	t.end(s, "MatMul", x, w)
}

// Map times the wrapped operation.
func (t *TimedBackend) Map(out, x backend.Tensor, f backend.Unary) {
	s := t.begin()
	t.Backend.Map(out, x, f)
	t.end(s, unaryNames[f], x, nil)
}

// Zip times the wrapped operation.
func (t *TimedBackend) Zip(out, a, b backend.Tensor, f backend.Binary) {
	s := t.begin()
	t.Backend.Zip(out, a, b, f)
	t.end(s, binaryNames[f], a, nil)
}

// Slice times the wrapped operation.
func (t *TimedBackend) Slice(out, x backend.Tensor, col int) {
	s := t.begin()
	t.Backend.Slice(out, x, col)
	t.end(s, "Slice", out, nil)
}

// GatherRows times the wrapped operation.
func (t *TimedBackend) GatherRows(out, x backend.Tensor, rows []int) {
	s := t.begin()
	t.Backend.GatherRows(out, x, rows)
	t.end(s, "GatherRows", out, nil)
}

// Shift times the wrapped operation.
func (t *TimedBackend) Shift(prev, x, state backend.Tensor, off int) {
	s := t.begin()
	t.Backend.Shift(prev, x, state, off)
	t.end(s, "Shift", x, nil)
}

// Mix times the wrapped operation.
func (t *TimedBackend) Mix(out, x, prev, mix backend.Tensor, style backend.MixStyle) {
	s := t.begin()
	t.Backend.Mix(out, x, prev, mix, style)
	t.end(s, "Mix", x, nil)
}

// MixN times the wrapped operation.
func (t *TimedBackend) MixN(outs []backend.Tensor, x, prev backend.Tensor, mixes []backend.Tensor, style backend.MixStyle) {
	s := t.begin()
	t.Backend.MixN(outs, x, prev, mixes, style)
	t.end(s, "MixN", x, nil)
}

// WKV4 times the wrapped operation.
func (t *TimedBackend) WKV4(out, k, v, w, u, state backend.Tensor, off int) {
	s := t.begin()
	t.Backend.WKV4(out, k, v, w, u, state, off)
	t.end(s, "WKV4", k, nil)
}

// WKV5 times the wrapped operation.
func (t *TimedBackend) WKV5(out, r, k, v, w, u, state backend.Tensor, off, heads int) {
	s := t.begin()
	t.Backend.WKV5(out, r, k, v, w, u, state, off, heads)
	t.end(s, "WKV5", k, nil)
}

// WKV7 times the wrapped operation.
func (t *TimedBackend) WKV7(out, r, w, k, v, kk, a, state backend.Tensor, off, heads int) {
	s := t.begin()
	t.Backend.WKV7(out, r, w, k, v, kk, a, state, off, heads)
	t.end(s, "WKV7", k, nil)
}

// KeyV7 times the wrapped operation.
func (t *TimedBackend) KeyV7(kk, k, a, kK, kA backend.Tensor, heads int) {
	s := t.begin()
	t.Backend.KeyV7(kk, k, a, kK, kA, heads)
	t.end(s, "KeyV7", k, nil)
}

// ValueV7 times the wrapped operation.
func (t *TimedBackend) ValueV7(v, first, gate backend.Tensor) {
	s := t.begin()
	t.Backend.ValueV7(v, first, gate)
	t.end(s, "ValueV7", v, nil)
}

// BonusV7 times the wrapped operation.
func (t *TimedBackend) BonusV7(out, r, k, v, rK backend.Tensor, heads int) {
	s := t.begin()
	t.Backend.BonusV7(out, r, k, v, rK, heads)
	t.end(s, "BonusV7", out, nil)
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

// MatMulT times the wrapped operation.
func (t *TimedBackend) MatMulT(out, x, wt backend.Tensor) {
	s := t.begin()
	t.Backend.MatMulT(out, x, wt)
	t.end(s, "MatMulT", x, wt)
}

// Read times the wrapped operation.
func (t *TimedBackend) Read(x backend.Tensor, row int, dst []float32) {
	s := t.begin()
	t.Backend.Read(x, row, dst)
	t.end(s, "Read", x, nil)
}

// Write times the wrapped operation.
func (t *TimedBackend) Write(x backend.Tensor, row int, src []float32) {
	s := t.begin()
	t.Backend.Write(x, row, src)
	t.end(s, "Write", x, nil)
}

var unaryNames = map[backend.Unary]string{backend.Sigmoid: "Map/Sigmoid", backend.Tanh: "Map/Tanh", backend.SiLU: "Map/SiLU",
	backend.ReLUSquare: "Map/ReLUSquare", backend.NegExpExp: "Map/NegExpExp", backend.V7Decay: "Map/V7Decay"}

var binaryNames = map[backend.Binary]string{backend.Add: "Zip/Add", backend.Sub: "Zip/Sub", backend.Mul: "Zip/Mul"}

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
