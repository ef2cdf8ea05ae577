// Package backend is the home of rwkvgo's backends: the Backend interface
// between the RWKV model graphs (package engine) and the code that runs their
// operations, the registry of backends by name (Register, Open), and the
// optional capabilities a backend may add (Syncer, EventTimer,
// DeviceReporter, VendorMatMuler, Attender). The production CPU backend is
// engine/cpu; the CUDA backend is package bindings. Benchmarks (package
// bench) only consume what is declared here.
//
// A Backend owns its tensors (host or device memory) and implements operations,
// never whole models. Every operation works on a batch of rows: the rows of an
// activation tensor are the tokens of one step, grouped by sequence as described
// by the step's Batch (a ragged batch: each sequence has its own number of
// tokens and its own state slot), which BeginStep hands to the backend once per
// step. A step with one token per sequence is batched decode; a step with many
// tokens for one sequence is prefill.
//
// Ownership: every tensor handle a Backend returns — from Upload, UploadF32,
// New or View — is released with Free exactly once. A view shares its
// parent's memory and owns none of it; views and parents may be freed in any
// order, but a view must not be used after its parent is freed.
//
// Errors are sticky: operations do not return errors; the first failure (bad
// shapes, device errors) is recorded and reported by Err, after which further
// operations may be skipped. The graph checks Err once per step.
package backend

import "fmt"

// DType is the element type of a tensor held by a backend.
type DType uint8

// Tensor element types. Activations and state are always F32; weight matrices
// may be stored in any of these. The block-quantized types (rwkv.cpp's ggml
// formats), I8 (int8 with one float32 scale per row) and F8E4M3 (fp8 e4m3
// with one float32 scale per row), for weights quantized at load (see
// dtypes.go), are optional: a backend that takes them says so through
// DTypeSupporter.
const (
	F32 DType = iota
	F16
	BF16
	Q4_0
	Q4_1
	Q5_0
	Q5_1
	Q8_0
	I8
	F8E4M3
)

// String names the type.
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case BF16:
		return "BF16"
	case Q4_0:
		return "Q4_0"
	case Q4_1:
		return "Q4_1"
	case Q5_0:
		return "Q5_0"
	case Q5_1:
		return "Q5_1"
	case Q8_0:
		return "Q8_0"
	case I8:
		return "I8"
	case F8E4M3:
		return "F8E4M3"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the size of one element in bytes: 4 for F32, 2 for F16 and
// BF16, and 0 for the block-quantized types, I8 and F8E4M3, whose encodings have
// more than elements (see BlockBytes and RowBytes).
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// Tensor is an opaque handle to a 2-D row-major array owned by a Backend.
// Vectors are [1, n].
type Tensor interface {
	Rows() int
	Cols() int
	DType() DType
}

// Batch describes how the rows of a step's activations map to sequences:
// sequence i owns rows [Offsets[i], Offsets[i+1]) and reads and writes state row
// Slots[i] of the state tensors. len(Offsets) == len(Slots)+1, Offsets[0] == 0
// and Offsets is strictly increasing (every sequence has at least one row).
type Batch struct {
	Offsets []int
	Slots   []int
}

// Seqs returns the number of sequences.
func (b Batch) Seqs() int { return len(b.Slots) }

// Rows returns the total number of rows (tokens).
func (b Batch) Rows() int {
	if len(b.Offsets) == 0 {
		return 0
	}
	return b.Offsets[len(b.Offsets)-1]
}

// Validate checks the batch's invariants against a state tensor with nslots rows.
func (b Batch) Validate(nslots int) error {
	if len(b.Offsets) != len(b.Slots)+1 || len(b.Slots) == 0 {
		return fmt.Errorf("backend: batch has %d offsets for %d sequences", len(b.Offsets), len(b.Slots))
	}
	if b.Offsets[0] != 0 {
		return fmt.Errorf("backend: batch offsets must start at 0, not %d", b.Offsets[0])
	}
	for i, s := range b.Slots {
		if b.Offsets[i+1] <= b.Offsets[i] {
			return fmt.Errorf("backend: sequence %d of the batch has no tokens", i)
		}
		if s < 0 || s >= nslots {
			return fmt.Errorf("backend: state slot %d out of range [0, %d)", s, nslots)
		}
	}
	return nil
}

// Unary is an elementwise function of one argument.
type Unary uint8

// Elementwise functions.
const (
	Sigmoid    Unary = iota // 1 / (1 + exp(-x))
	Tanh                    // tanh(x)
	SiLU                    // x * sigmoid(x)
	ReLUSquare              // max(x, 0)^2
	NegExpExp               // exp(-exp(x)): RWKV v5/v6 decay
	V7Decay                 // exp(-exp(-0.5) * sigmoid(x)): RWKV v7 decay
)

// Binary is an elementwise function of two arguments.
type Binary uint8

// Elementwise functions of two arguments.
const (
	Add Binary = iota // a + b
	Sub               // a - b
	Mul               // a * b
)

// MixStyle selects the token-shift interpolation formula.
type MixStyle uint8

// Token-shift formulas (mathematically equal up to mix -> 1-mix; kept distinct so
// each version reproduces its reference arithmetic).
const (
	MixLerp  MixStyle = iota // x*mix + prev*(1-mix)      (v4, v5)
	MixDelta                 // x + (prev-x)*mix          (v6, v7)
)

// MaxMixN is the largest number of mixes one MixN call computes: enough for
// every RWKV version's token shift (RWKV-7 mixes six inputs).
const MaxMixN = 8

// Backend runs the operations of the RWKV graphs. Shapes below are [rows, cols];
// N is the number of rows of the step, C the model width, H the number of heads.
// A "[1|N, C]" argument is either a vector broadcast over rows or one row per
// token. Outputs may alias inputs only where stated.
type Backend interface {
	// Name identifies the backend ("cpu", "cuda").
	Name() string
	// Err returns the first error recorded since the last call to Err, and clears it.
	Err() error
	// Close releases every resource of the backend. Tensors must not be used after.
	Close() error

	// Upload copies a [rows, cols] array encoded as dt (little-endian) into a new tensor.
	Upload(dt DType, rows, cols int, data []byte) Tensor
	// UploadF32 copies float32 values into a new F32 tensor.
	UploadF32(rows, cols int, data []float32) Tensor
	// New returns a zeroed F32 tensor.
	New(rows, cols int) Tensor
	// View returns the first rows rows of t (sharing memory). The view is
	// a handle of its own: Free it like any tensor (see the package doc).
	View(t Tensor, rows int) Tensor
	// Read copies rows [row, row+len(dst)/cols) of an F32 tensor into dst.
	Read(t Tensor, row int, dst []float32)
	// Write copies src into rows starting at row of an F32 tensor.
	Write(t Tensor, row int, src []float32)
	// Free releases a tensor or a view (nil-safe); each handle is freed once.
	Free(t Tensor)

	// Embed sets out[i] = emb[tokens[i]]; out [N, C], emb [V, C] of any dtype.
	Embed(out, emb Tensor, tokens []int32)
	// LayerNorm normalises each row of x [N, C]: (x-mean)/sqrt(var+eps)*w + b; w, b [1, C]. out may alias x.
	LayerNorm(out, x, w, b Tensor, eps float32)
	// GroupNorm normalises each of the groups equal slices of each row, then *w + b. out may alias x.
	GroupNorm(out, x, w, b Tensor, groups int, eps float32)
	// MatMul sets out [N, O] = x [N, I] @ w[O, I]^T, accumulating in float32 or better.
	MatMul(out, x, w Tensor)
	// MatMulT sets out [N, O] = x [N, I] @ wt [I, O], for a weight stored
	// transposed. Zero entries of x are skipped exactly, so a sparse input (the
	// squared-ReLU activations of the channel mix, mostly zeros) reads only the
	// weight rows it needs. Each output accumulates over i in increasing order.
	// A backend may refuse a block-quantized wt with an error (their blocks
	// run along the stored rows, which MatMul multiplies; the engine keeps
	// such matrices in their stored layout and uses MatMul).
	MatMulT(out, x, wt Tensor)
	// Map sets out = f(x) elementwise; out may alias x.
	Map(out, x Tensor, f Unary)
	// Zip sets out = f(a, b) elementwise; b is [1|N, cols]; out may alias a.
	Zip(out, a, b Tensor, f Binary)
	// Slice copies columns [col, col+out.Cols()) of x into out.
	Slice(out, x Tensor, col int)
	// GatherRows copies rows rows[i] of x into row i of out.
	GatherRows(out, x Tensor, rows []int)
	// CopyRows copies the n whole rows [srcRow, srcRow+n) of src into rows
	// [dstRow, dstRow+n) of dst, on the backend (no host round trip). Both
	// are F32 with the same number of columns; the row ranges must lie inside
	// their tensors and n >= 1. dst and src may be the same tensor when the
	// two ranges do not overlap. It moves sequence states between the state
	// pool and a device-resident cache (engine.Session.SaveRows).
	CopyRows(dst Tensor, dstRow int, src Tensor, srcRow, n int)

	// BeginStep sets the batch of the step that follows: the Shift and WKV
	// operations until the next BeginStep read their sequences' rows and
	// state slots from it. Call it once per step, before the first of them;
	// the backend copies what it needs (the caller may reuse b's slices).
	// A malformed batch is reported by the operations that use it.
	BeginStep(b Batch)

	// Shift writes into prev [N, C] the previous token's row of x [N, C] for each
	// row: the row before it in the same sequence, or for a sequence's first row
	// state[slot][off:off+C]; then stores each sequence's last row of x into
	// state[slot][off:off+C]. Sequences and slots are the step's (BeginStep).
	Shift(prev, x, state Tensor, off int)
	// Mix interpolates between x [N, C] and prev [N, C] with mix [1|N, C] using style.
	Mix(out, x, prev, mix Tensor, style MixStyle)
	// MixN computes several mixes of the same x [N, C] and prev [N, C] in one
	// pass over them: outs[j] [N, C] = Mix(x, prev, mixes[j]) for every
	// j < len(outs), where each mixes[j] is [1|N, C] (broadcast or per-row
	// independently of the others). The formula per element is Mix's, so
	// each outs[j] equals the result of the corresponding Mix exactly.
	// len(mixes) must equal len(outs), which must be in [1, MaxMixN]. The
	// outputs must not alias x, prev, a mix or one another.
	MixN(outs []Tensor, x, prev Tensor, mixes []Tensor, style MixStyle)

	// WKV4 runs the RWKV-4 recurrence over each sequence's rows. k, v [N, C];
	// w (stored decay, -exp(time_decay)) and u (time_first) [1, C]; the state row
	// holds aa, bb, pp at off, off+C, off+2C. out [N, C] receives wkv.
	// Sequences and slots are the step's (BeginStep), as for WKV5 and WKV7.
	WKV4(out, k, v, w, u, state Tensor, off int)
	// WKV5 runs the RWKV-5/6 recurrence with per-head matrix state S[h][key][value]
	// at state[slot][off:]: y = r^T (u*k v^T + S); S = k v^T + w*S. r, k, v [N, C];
	// w [1|N, C] is the decay exp(-exp(.)) indexed by key; u [1, C]. out [N, C].
	WKV5(out, r, k, v, w, u, state Tensor, off, heads int)
	// WKV7 runs the RWKV-7 generalised delta rule with state S[h][value][key] at
	// state[slot][off:]: S = S*diag(w) + (S @ -kk)(kk*a)^T + v k^T; y = S r.
	// r, w, k, v, kk, a [N, C]. out [N, C].
	WKV7(out, r, w, k, v, kk, a, state Tensor, off, heads int)

	// KeyV7 computes RWKV-7's key preprocessing: kk = normalize_per_head(k*kK)
	// (L2, eps 1e-12) and k = k*(1+(a-1)*kA) in place. k, a, kk [N, C]; kK, kA [1, C].
	KeyV7(kk, k, a, kK, kA Tensor, heads int)
	// ValueV7 applies RWKV-7's value residual in place: v += (first-v)*sigmoid(gate). All [N, C].
	ValueV7(v, first, gate Tensor)
	// BonusV7 adds RWKV-7's bonus term: out += sum_head(r*k*rK) * v. out, r, k, v [N, C]; rK [1, C].
	BonusV7(out, r, k, v, rK Tensor, heads int)
}
