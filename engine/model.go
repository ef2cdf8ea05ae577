// Package engine runs RWKV language models (v4, v5.1, v5.2, v6, v7) on a
// backend.Backend: the model graph of each version is written once here, and
// the backend (pure Go by default, CUDA when built with it) runs the operations.
//
// A Model holds the weights; a Session is one sequence with its own
// constant-size state. Sessions are fed tokens and return logits; their state
// can be saved, restored and forked. Model.Step runs many sessions at once in
// one ragged batch (each with its own number of tokens).
//
//	m, err := engine.Load("model.pth", engine.Options{})
//	if err != nil { ... }
//	defer m.Close()
//	s, _ := m.NewSession()
//	defer s.Close()
//	logits, err := s.Feed([]int{34, 105, 110})
package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

// ErrClosed is returned when a closed Model or Session is used.
var ErrClosed = errors.New("engine: use of closed model or session")

// Options configures Load and New.
type Options struct {
	// Backend runs the operations. Nil means a new pure-Go backend, owned and
	// closed by the Model.
	Backend backend.Backend
	// Threads is the number of goroutines of the default pure-Go backend
	// (0: GOMAXPROCS).
	Threads int
	// V5GroupNormEps overrides the GroupNorm epsilon of v5.x models (0: the
	// default of the file's format; see weights.Options).
	V5GroupNormEps float32
}

// Model is a loaded RWKV model. Its methods are safe for concurrent use; steps
// are serialised.
type Model struct {
	cfg       weights.Config
	be        backend.Backend
	ownsBE    bool
	mu        sync.Mutex
	closed    bool
	emb, head backend.Tensor
	ln0w      backend.Tensor
	ln0b      backend.Tensor
	lnOutW    backend.Tensor
	lnOutB    backend.Tensor
	layers    []*layer
	owned     []backend.Tensor // every uploaded tensor, for Close
	states    *statePool
	scratch   scratchCache
	// reused per-step buffers (guarded by mu)
	stepCount                       uint64
	round                           []*Request
	starts, offsets, slots, outRows []int
	tokens                          []int32
}

// Load reads a checkpoint (rwkv.cpp, safetensors or .pth) and prepares it on the backend.
func Load(path string, opts Options) (*Model, error) {
	wm, err := weights.Load(path, weights.Options{V5GroupNormEps: opts.V5GroupNormEps})
	if err != nil {
		return nil, err
	}
	defer wm.Close()
	return New(wm, opts)
}

// New prepares a canonical model on the backend. The weights are copied, so wm
// may be closed afterwards.
func New(wm *weights.Model, opts Options) (*Model, error) {
	be := opts.Backend
	owns := false
	if be == nil {
		be = cpu.New(opts.Threads)
		owns = true
	}
	m := &Model{cfg: wm.Config, be: be, ownsBE: owns}
	if opts.V5GroupNormEps > 0 && (wm.Config.Version == weights.V51 || wm.Config.Version == weights.V52) {
		m.cfg.GroupNormEps = opts.V5GroupNormEps
	}
	if err := m.upload(wm); err != nil {
		// Free what was uploaded (and clear the backend's pending error,
		// so that the backend stays usable).
		m.Close()
		return nil, err
	}
	m.states = newStatePool(m)
	return m, nil
}

// Config returns the model's hyperparameters.
func (m *Model) Config() weights.Config { return m.cfg }

// Backend returns the backend the model runs on.
func (m *Model) Backend() backend.Backend { return m.be }

// Close frees the model's tensors (and the backend, if the model created it).
// Sessions of the model must not be used afterwards. Close is idempotent.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for _, t := range m.owned {
		m.be.Free(t)
	}
	m.owned = nil
	m.scratch.freeAll(m.be)
	if m.states != nil {
		m.states.destroy()
	}
	if m.ownsBE {
		return m.be.Close()
	}
	return m.be.Err()
}

// upload copies the canonical tensors to the backend.
func (m *Model) upload(wm *weights.Model) error {
	be := m.be
	var firstErr error
	setErr := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	vec := func(name string) backend.Tensor {
		v, err := wm.Vector(name)
		if err != nil {
			setErr(err)
			return nil
		}
		t := be.UploadF32(1, len(v), v)
		m.owned = append(m.owned, t)
		return t
	}
	upload := func(name string, transposed bool) backend.Tensor {
		w, err := wm.Matrix(name)
		if err != nil {
			setErr(err)
			return nil
		}
		t, err := uploadMatrix(be, w, transposed)
		if err != nil {
			setErr(err)
			return nil
		}
		m.owned = append(m.owned, t)
		return t
	}
	m.emb = upload("emb.weight", false)
	m.head = upload("head.weight", false)
	m.ln0w, m.ln0b = vec("blocks.0.ln0.weight"), vec("blocks.0.ln0.bias")
	m.lnOutW, m.lnOutB = vec("ln_out.weight"), vec("ln_out.bias")
	v, ok := versions[m.cfg.Version]
	if !ok {
		return fmt.Errorf("engine: no layer graph for RWKV %s", m.cfg.Version)
	}
	bd := &binder{wm: wm, cfg: m.cfg, vec: vec, mat: upload}
	for i := 0; i < m.cfg.Layers && firstErr == nil; i++ {
		l, err := bd.newLayer(v, i)
		if err != nil {
			return err
		}
		m.layers = append(m.layers, l)
	}
	if firstErr != nil {
		return firstErr
	}
	if err := be.Err(); err != nil {
		return fmt.Errorf("engine: uploading weights: %w", err)
	}
	return nil
}

// uploadMatrix copies a weight matrix, optionally transposed, widening
// quantized types to F32.
func uploadMatrix(be backend.Backend, w *weights.Tensor, transposed bool) (backend.Tensor, error) {
	if len(w.Shape) != 2 {
		return nil, fmt.Errorf("engine: matrix %q has shape %s", w.Name, w.ShapeString())
	}
	rows, cols := w.Shape[0], w.Shape[1]
	var dt backend.DType
	switch w.DType {
	case weights.F32:
		dt = backend.F32
	case weights.F16:
		dt = backend.F16
	case weights.BF16:
		dt = backend.BF16
	default:
		v, err := w.Float32()
		if err != nil {
			return nil, fmt.Errorf("engine: matrix %q: %w", w.Name, err)
		}
		if transposed {
			v = transposeF32(v, rows, cols)
			rows, cols = cols, rows
		}
		return be.UploadF32(rows, cols, v), nil
	}
	data := w.Data
	if transposed {
		data = transposeRaw(data, rows, cols, dt.Size())
		rows, cols = cols, rows
	}
	return be.Upload(dt, rows, cols, data), nil
}

func transposeF32(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// transposeRaw transposes a row-major [rows, cols] array of size-byte elements.
func transposeRaw(data []byte, rows, cols, size int) []byte {
	out := make([]byte, len(data))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			copy(out[(c*rows+r)*size:(c*rows+r+1)*size], data[(r*cols+c)*size:(r*cols+c+1)*size])
		}
	}
	return out
}
