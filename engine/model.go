// Package engine runs RWKV language models (v4, v5.1, v5.2, v6, v7) on a
// backend.Backend: the model graph of each version is written once here, and
// the backend (pure Go by default, CUDA when built with it) runs the operations.
//
// A Model holds the weights; a Session is one sequence with its own
// constant-size state. Sessions are fed tokens and return logits; their state
// can be saved, restored and forked. Model.Step runs many sessions at once in
// one ragged batch (each with its own number of tokens). An Engine serves
// many generation requests on one model with continuous batching
// (Engine.Submit returns a Stream of tokens).
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
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
	"github.com/rwkvgo/rwkvgo/internal/fault"
	"github.com/rwkvgo/rwkvgo/weights"
)

// ErrClosed is returned when a closed Model or Session is used.
var ErrClosed = errors.New("engine: use of closed model or session")

// ErrWeightsUnreadable is returned (wrapped) by a step that faulted reading
// weights used in place from the model's memory-mapped file (the file was
// truncated or became unreadable after Load), and by every later step of
// that model: the process keeps running and other models are unaffected,
// but the model's outputs can no longer be trusted. Close it and load the
// file again. Load and New return it when the file faults while they read
// it. It is backend.ErrWeightsUnreadable and weights.ErrUnreadable.
var ErrWeightsUnreadable = backend.ErrWeightsUnreadable

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
	// Quantize stores the large weight matrices in a lower-precision type,
	// quantized at load (see Quantization); the zero value keeps every
	// tensor in its file's type.
	Quantize Quantization
	// StateSlots, when > 0, is the capacity of the state pool in
	// sequences, allocated once by Load and never moved (graphs captured
	// over it stay valid): beyond it, the least recently used session's
	// state is copied out to host memory, and back in when the session is
	// next used. 0: the pool grows on demand.
	StateSlots int
}

// Quantization is a lower-precision type for the large weight matrices,
// produced at load (Options.Quantize).
type Quantization string

// Quantizations.
const (
	// NoQuantization keeps every tensor in its file's type.
	NoQuantization Quantization = ""
	// QuantizeInt8 stores the matrices of the time mix (receptance, key,
	// value, output and, for v5.2/v6, gate), of the channel mix (key,
	// value, receptance) and the head as backend.I8: int8 codes with one
	// float32 scale per stored row, symmetric (scale = max|row| / 127,
	// codes rounded to nearest, see blockfmt.QuantizeI8). Matrices are
	// stored as the graph multiplies them: x @ W^T with W [out, in], so the
	// scale is per output channel, except the channel mix's value
	// projection, stored transposed [ffn, width] for the sparse product
	// (only the rows of non-zero squared-ReLU activations are read), whose
	// scale is per row of that layout, one per ffn channel. Only F32, F16
	// and BF16 matrices are quantized; the embedding, norms, vectors,
	// per-head parameters, the LoRA matrices of v6/v7 and matrices a file
	// stores block-quantized keep their types. The backend must support
	// backend.I8.
	QuantizeInt8 Quantization = "int8"
	// QuantizeFP8 is QuantizeInt8 with backend.F8E4M3: fp8 e4m3 codes
	// nearest to w/scale with scale = max|row| / 448 (see
	// blockfmt.QuantizeF8E4M3). The CUDA backend has it on devices of
	// compute capability 8.9 and later; the CPU backend does not.
	QuantizeFP8 Quantization = "fp8"
)

// ParseQuantization parses a quantization name: "int8", "fp8", or "" and
// "none" for no quantization.
func ParseQuantization(s string) (Quantization, error) {
	switch s {
	case "", "none":
		return NoQuantization, nil
	case "int8":
		return QuantizeInt8, nil
	case "fp8":
		return QuantizeFP8, nil
	}
	return NoQuantization, fmt.Errorf("engine: unknown quantization %q (want int8, fp8 or none)", s)
}

// dtype returns the backend type of the quantized matrices and the
// quantizer (ok false for NoQuantization).
func (q Quantization) dtype() (dt backend.DType, quantize func(w []float32, rows, cols int) []byte, ok bool) {
	switch q {
	case QuantizeInt8:
		return backend.I8, blockfmt.QuantizeI8, true
	case QuantizeFP8:
		return backend.F8E4M3, blockfmt.QuantizeF8E4M3, true
	}
	return 0, nil, false
}

// embeddingName names the embedding matrix, the model's one matrix read
// only by gathering rows (one per token), never multiplied.
const embeddingName = "emb.weight"

// rowGathered reports whether the matrix named name is read only a row at a
// time (the embedding: one row per token): loading does not prefault its
// pages, most of which a run never reads (the 65,536 rows of a 0.1B
// model's F32 embedding are 192 MB).
func rowGathered(name string) bool { return name == embeddingName }

// quantizable reports whether the canonical matrix name is one that
// Options.Quantize stores in a lower-precision type.
func quantizable(name string) bool {
	if name == "head.weight" {
		return true
	}
	if !strings.HasPrefix(name, "blocks.") {
		return false
	}
	for _, s := range [...]string{".att.receptance.weight", ".att.key.weight", ".att.value.weight", ".att.output.weight",
		".att.gate.weight", ".ffn.key.weight", ".ffn.value.weight", ".ffn.receptance.weight"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Model is a loaded RWKV model. Its methods are safe for concurrent use; steps
// are serialised.
type Model struct {
	cfg    weights.Config
	be     backend.Backend
	ownsBE bool
	mu     sync.Mutex
	closed bool
	// broken is the fault that made the weights unreadable (see
	// ErrWeightsUnreadable): every later step returns it.
	broken    atomic.Pointer[error]
	emb, head backend.Tensor
	ln0w      backend.Tensor
	ln0b      backend.Tensor
	lnOutW    backend.Tensor
	lnOutB    backend.Tensor
	layers    []*layer
	owned     []backend.Tensor // every uploaded tensor, for Close
	// wm is the weights file whose memory some tensors use in place
	// (Borrow): kept open until Close. Nil when every tensor was copied.
	wm      *weights.Model
	states  *statePool
	stores  map[*StateStore]struct{} // live StateStores, freed by Close
	scratch scratchCache
	// reused per-step buffers (guarded by mu)
	stepCount                       uint64
	stepping                        bool // a step is running: its sessions are not evicted
	round                           []*Request
	starts, offsets, slots, outRows []int
	tokens                          []int32
	// matmulWeights and matmulBytes: the weights and device bytes of the
	// matrices a step multiplies by (every uploaded matrix except the
	// embedding, which is gathered).
	matmulWeights, matmulBytes int64
	// decode is set for a step in which every sequence has one token: the
	// layer graphs then use the backend's fused decode operations, if any.
	decode bool
	// prods holds the products of one FusedProducts.MatMulGroup call of
	// the layer graphs (no allocation per step).
	prods [backend.MaxGroup]backend.Product
	// admitting is the decoder whose rows draw the first tokens of the
	// step's requests with admitRow set (Decoder.Add); admitMap maps the
	// head's rows to its rows.
	admitting *Decoder
	admitMap  []int
	// decoders are idle one-row decoders kept for Session.Generate;
	// liveDecoders every decoder not closed yet (freed by Close).
	decoders     []*Decoder
	liveDecoders map[*Decoder]struct{}
}

// Load reads a checkpoint (rwkv.cpp, safetensors or .pth) and prepares it on
// the backend. On a backend that keeps its tensors in host memory
// (backend.Borrower, such as the default pure-Go one), weight matrices are
// used in place from the memory-mapped file: the file's pages are shared
// with the page cache (and with other processes mapping the same file), and
// only matrices that need a transform (a transposed layout, a type the
// backend lacks) are copied. The file stays mapped until Close.
func Load(path string, opts Options) (*Model, error) {
	wm, err := weights.Load(path, weights.Options{V5GroupNormEps: opts.V5GroupNormEps})
	if err != nil {
		return nil, err
	}
	m, err := newModel(wm, opts, true)
	if err != nil || m.wm == nil {
		wm.Close()
	}
	return m, err
}

// New prepares a canonical model on the backend. The weights are copied, so wm
// may be closed afterwards.
func New(wm *weights.Model, opts Options) (*Model, error) {
	return newModel(wm, opts, false)
}

// newModel is New; with borrow, tensors may use wm's memory in place, and
// then the Model takes wm over (m.wm) and closes it in Close. On error the
// caller keeps wm, and everything uploaded so far is freed.
func newModel(wm *weights.Model, opts Options, borrow bool) (*Model, error) {
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
	if err := m.uploadGuarded(wm, borrow, opts.Quantize); err != nil {
		// Free what was uploaded (and clear the backend's pending error,
		// so that the backend stays usable); the caller closes wm.
		m.wm = nil
		m.Close()
		return nil, err
	}
	states, err := newStatePool(m, opts.StateSlots)
	if err != nil {
		m.wm = nil
		m.Close()
		return nil, err
	}
	m.states = states
	return m, nil
}

// uploadGuarded is upload where a fault reading the weights (a mapped file
// that shrank since it was opened) is an error wrapping ErrWeightsUnreadable.
func (m *Model) uploadGuarded(wm *weights.Model, borrow bool, q Quantization) (err error) {
	defer fault.Catch(&err, debug.SetPanicOnFault(true))
	return m.upload(wm, borrow, q)
}

// Config returns the model's hyperparameters.
func (m *Model) Config() weights.Config { return m.cfg }

// MatMulWeights returns the number of weights and the bytes of the weight
// matrices one step multiplies by, as stored on the backend (quantized
// matrices in their blocks, or widened to F32 where the backend does not
// take them): the head and every layer's matrices,
// not the embedding, which a step only gathers rows of. A decode step reads
// each of them once.
func (m *Model) MatMulWeights() (weights, bytes int64) { return m.matmulWeights, m.matmulBytes }

// Err returns the error that made the model unusable (wrapping
// ErrWeightsUnreadable: its weights file faulted during a step), or nil.
// Every step of such a model fails with it. It does not wait for a step in
// progress.
func (m *Model) Err() error {
	if p := m.broken.Load(); p != nil {
		return *p
	}
	return nil
}

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
	for d := range m.liveDecoders {
		d.closeLocked()
	}
	m.decoders, m.liveDecoders = nil, nil
	m.scratch.freeAll(m.be)
	if m.states != nil {
		m.states.destroy()
	}
	for s := range m.stores {
		m.be.Free(s.t)
		s.t = nil
	}
	m.stores = nil
	var err error
	if m.ownsBE {
		err = m.be.Close()
	} else {
		err = m.be.Err()
	}
	// The tensors that used the file's memory are freed: unmap it.
	if m.wm != nil {
		if cerr := m.wm.Close(); err == nil {
			err = cerr
		}
		m.wm = nil
	}
	return err
}

// upload copies the canonical tensors to the backend, or with borrow lends
// it the ones it can use in place (setting m.wm when any is).
func (m *Model) upload(wm *weights.Model, borrow bool, q Quantization) error {
	be := m.be
	if _, err := ParseQuantization(string(q)); err != nil {
		return err
	}
	if dt, _, ok := q.dtype(); ok && !backend.Supports(be, dt) {
		return fmt.Errorf("engine: the %s backend does not support %s weights (%s)", be.Name(), q, dt)
	}
	up := uploader{be: be, wm: wm, quant: q}
	if bo, ok := be.(backend.Borrower); ok && borrow {
		up.bo = bo
	}
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
	var uploadT func(w *weights.Tensor, transposed bool) backend.Tensor
	upload := func(name string, transposed bool) backend.Tensor {
		w, err := wm.Matrix(name)
		if err != nil {
			setErr(err)
			return nil
		}
		return uploadT(w, transposed)
	}
	rows := func(name string, parts []backend.Tensor) {
		w, err := wm.Matrix(name)
		if err != nil {
			setErr(err)
			return
		}
		ws, err := splitRows(w, len(parts))
		if err != nil {
			setErr(err)
			return
		}
		for j, p := range ws {
			parts[j] = uploadT(p, false)
		}
	}
	uploadT = func(w *weights.Tensor, transposed bool) backend.Tensor {
		name := w.Name
		t, borrowed, err := up.matrix(w, transposed)
		if err != nil {
			setErr(err)
			return nil
		}
		if borrowed {
			m.wm = wm
		}
		m.owned = append(m.owned, t)
		if name != embeddingName && t != nil {
			n := int64(t.Rows()) * int64(t.Cols())
			m.matmulWeights += n
			m.matmulBytes += int64(t.Rows()) * int64(max(t.DType().RowBytes(t.Cols()), 0))
		}
		return t
	}
	m.emb = upload(embeddingName, false)
	m.head = upload("head.weight", false)
	m.ln0w, m.ln0b = vec("blocks.0.ln0.weight"), vec("blocks.0.ln0.bias")
	m.lnOutW, m.lnOutB = vec("ln_out.weight"), vec("ln_out.bias")
	v, ok := versions[m.cfg.Version]
	if !ok {
		return fmt.Errorf("engine: no layer graph for RWKV %s", m.cfg.Version)
	}
	bd := &binder{wm: wm, cfg: m.cfg, vec: vec, mat: upload, rows: rows}
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

// uploader moves weight matrices to the backend.
type uploader struct {
	be backend.Backend
	wm *weights.Model
	bo backend.Borrower // non-nil: tensors may use wm's memory in place
	// quant: the quantization of the large matrices (Options.Quantize).
	quant Quantization
}

// dtypes maps the weight types to the backend's.
var dtypes = map[weights.DType]backend.DType{
	weights.F32: backend.F32, weights.F16: backend.F16, weights.BF16: backend.BF16,
	weights.Q4_0: backend.Q4_0, weights.Q4_1: backend.Q4_1, weights.Q5_0: backend.Q5_0,
	weights.Q5_1: backend.Q5_1, weights.Q8_0: backend.Q8_0,
}

// matrix prepares a weight matrix [rows, cols] on the backend: in place
// when the backend borrows it (borrowed true), else copied. A transposed
// matrix (for MatMulT) is copied transposed, and the file's pages of the
// original are released since nothing reads them; a block-quantized matrix
// the backend supports stays quantized in its stored layout even when
// transposed is asked (blocks run along rows): the graph multiplies it with
// MatMul. Types the backend lacks are widened to F32.
func (up *uploader) matrix(w *weights.Tensor, transposed bool) (t backend.Tensor, borrowed bool, err error) {
	be := up.be
	if len(w.Shape) != 2 {
		return nil, false, fmt.Errorf("engine: matrix %q has shape %s", w.Name, w.ShapeString())
	}
	rows, cols := w.Shape[0], w.Shape[1]
	if _, _, ok := up.quant.dtype(); ok && quantizable(w.Name) && (w.DType == weights.F32 || w.DType == weights.F16 || w.DType == weights.BF16) {
		return up.quantized(w, transposed)
	}
	dt, known := dtypes[w.DType]
	// Quantized rows must be whole blocks (a file may store a matrix whose
	// row is not, blocks running across rows: it is widened instead).
	native := known && backend.Supports(be, dt) && dt.RowBytes(cols) > 0
	if native && (dt.Quantized() || !transposed) {
		if up.bo != nil {
			if t, ok := up.bo.Borrow(dt, rows, cols, w.Data); ok {
				// Read the file now, not at the first step; a matrix
				// read only a row per token is left to fault in the
				// rows it reads.
				if !rowGathered(w.Name) {
					up.wm.Prefault(w)
				}
				return t, true, nil
			}
		}
		return be.Upload(dt, rows, cols, w.Data), false, nil
	}
	if !native {
		v, err := w.Float32()
		if err != nil {
			return nil, false, fmt.Errorf("engine: matrix %q: %w", w.Name, err)
		}
		if transposed {
			v = transposeF32(v, rows, cols)
			rows, cols = cols, rows
		}
		up.wm.DropPages(w)
		if up.bo != nil && len(v) > 0 {
			// The widened copy is ours: lend it rather than copy it again.
			if t, ok := up.bo.Borrow(backend.F32, rows, cols, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))); ok {
				return t, false, nil
			}
		}
		return be.UploadF32(rows, cols, v), false, nil
	}
	// A plain type, transposed.
	if rb := dt.RowBytes(cols); rows <= 0 || rb <= 0 || len(w.Data) != rows*rb {
		return nil, false, fmt.Errorf("engine: matrix %q: %s %s does not match its %d data bytes", w.Name, w.DType, w.ShapeString(), len(w.Data))
	}
	tr := transposeRaw(w.Data, rows, cols, dt.Size())
	up.wm.DropPages(w)
	if up.bo != nil {
		// The copy is ours: lend it rather than copy it again.
		if t, ok := up.bo.Borrow(dt, cols, rows, tr); ok {
			return t, false, nil
		}
	}
	return be.Upload(dt, cols, rows, tr), false, nil
}

// quantized prepares w in the type of up.quant (I8 or F8E4M3), in the
// layout the graph multiplies it in: transposed when asked (the scale is
// then per row of the transposed layout).
func (up *uploader) quantized(w *weights.Tensor, transposed bool) (backend.Tensor, bool, error) {
	rows, cols := w.Shape[0], w.Shape[1]
	v, err := w.Float32()
	if err != nil {
		return nil, false, fmt.Errorf("engine: matrix %q: %w", w.Name, err)
	}
	if transposed {
		v = transposeF32(v, rows, cols)
		rows, cols = cols, rows
	}
	dt, quantize, _ := up.quant.dtype()
	enc := quantize(v, rows, cols)
	up.wm.DropPages(w)
	if up.bo != nil {
		// The encoding is ours: lend it rather than copy it again.
		if t, ok := up.bo.Borrow(dt, rows, cols, enc); ok {
			return t, false, nil
		}
	}
	return up.be.Upload(dt, rows, cols, enc), false, nil
}

// transposeF32 returns the transpose [cols, rows] of v [rows, cols].
func transposeF32(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	if len(v) > 0 {
		transposeTiles(unsafe.Slice((*uint32)(unsafe.Pointer(&out[0])), len(out)), unsafe.Slice((*uint32)(unsafe.Pointer(&v[0])), len(v)), rows, cols)
	}
	return out
}

// transposeRaw transposes a row-major [rows, cols] array of size-byte
// elements (tiles of 32x32, typed for 2- and 4-byte elements).
func transposeRaw(data []byte, rows, cols, size int) []byte {
	out := make([]byte, len(data))
	if len(data) == 0 {
		return out
	}
	p := unsafe.Pointer(unsafe.SliceData(data))
	switch {
	case size == 2 && (unalignedOK || uintptr(p)%2 == 0):
		transposeTiles(unsafe.Slice((*uint16)(unsafe.Pointer(&out[0])), rows*cols), unsafe.Slice((*uint16)(p), rows*cols), rows, cols)
	case size == 4 && (unalignedOK || uintptr(p)%4 == 0):
		transposeTiles(unsafe.Slice((*uint32)(unsafe.Pointer(&out[0])), rows*cols), unsafe.Slice((*uint32)(p), rows*cols), rows, cols)
	default:
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				copy(out[(c*rows+r)*size:(c*rows+r+1)*size], data[(r*cols+c)*size:(r*cols+c+1)*size])
			}
		}
	}
	return out
}

// unalignedOK: the CPU reads 2- and 4-byte values at any address (Go
// allows unaligned slices of pointer-free types).
const unalignedOK = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// transposeTiles sets dst [cols, rows] to the transpose of src [rows, cols]
// tile by tile, the columns split among up to GOMAXPROCS goroutines for a
// large matrix.
func transposeTiles[T uint16 | uint32](dst, src []T, rows, cols int) {
	nc := (cols + transposeTile - 1) / transposeTile
	workers := min(runtime.GOMAXPROCS(0), nc, max(1, rows*cols/transposeMinPerWorker))
	if workers <= 1 {
		transposeCols(dst, src, rows, cols, 0, cols)
		return
	}
	per := (nc + workers - 1) / workers * transposeTile
	var wg sync.WaitGroup
	for c0 := 0; c0 < cols; c0 += per {
		wg.Go(func() { transposeCols(dst, src, rows, cols, c0, min(c0+per, cols)) })
	}
	wg.Wait()
}

// transposeTile is the side of the tiles of transposeTiles, and
// transposeMinPerWorker the fewest elements a goroutine transposes.
const (
	transposeTile         = 64
	transposeMinPerWorker = 1 << 18
)

// transposeCols writes the rows [c0, c1) of dst, the transpose of src's
// columns [c0, c1), through a tile-sized buffer: src tiles are read and dst
// tiles written a whole row segment at a time. Writing dst directly (one
// element per dst row per src row) touches a tile's worth of dst lines
// whose addresses differ by a multiple of the row size, a power of two in
// the models, which fall into one L1 set and evict each other.
func transposeCols[T uint16 | uint32](dst, src []T, rows, cols, c0, c1 int) {
	var buf [transposeTile][transposeTile]T
	for r0 := 0; r0 < rows; r0 += transposeTile {
		r1 := min(r0+transposeTile, rows)
		for cb := c0; cb < c1; cb += transposeTile {
			ce := min(cb+transposeTile, c1)
			for r := r0; r < r1; r++ {
				for i, v := range src[r*cols+cb : r*cols+ce] {
					buf[i][r-r0] = v
				}
			}
			for c := cb; c < ce; c++ {
				copy(dst[c*rows+r0:c*rows+r1], buf[c-cb][:r1-r0])
			}
		}
	}
}

// splitRows returns parts matrices of equal blocks of w's rows (the same
// name, so quantized on load like w). A matrix whose rows are not separable
// in its stored form (blocks running across rows) is widened to float32
// first, as uploading it would.
func splitRows(w *weights.Tensor, parts int) ([]*weights.Tensor, error) {
	if len(w.Shape) != 2 || parts <= 0 || w.Shape[0]%parts != 0 {
		return nil, fmt.Errorf("engine: matrix %q of shape %s does not split into %d blocks of rows", w.Name, w.ShapeString(), parts)
	}
	rows, cols := w.Shape[0], w.Shape[1]
	per := rows / parts
	dt, data := w.DType, w.Data
	rb := 0
	if bdt, ok := dtypes[w.DType]; ok && bdt.RowBytes(cols) > 0 && len(w.Data) == rows*bdt.RowBytes(cols) {
		rb = bdt.RowBytes(cols)
	} else {
		v, err := w.Float32()
		if err != nil {
			return nil, fmt.Errorf("engine: matrix %q: %w", w.Name, err)
		}
		dt, data, rb = weights.F32, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)), 4*cols
	}
	out := make([]*weights.Tensor, parts)
	for j := range out {
		out[j] = &weights.Tensor{Name: w.Name, DType: dt, Shape: []int{per, cols}, Data: data[j*per*rb : (j+1)*per*rb : (j+1)*per*rb]}
	}
	return out, nil
}
