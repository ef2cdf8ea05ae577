package backend

// FusedV7 is implemented by backends that run several of RWKV-7's decode
// operations as one. It is optional: the engine composes the same result from
// the Backend operations when a backend lacks it, and a backend may implement
// it to save launches (and the round trips of the intermediates through
// memory) on the decode path, where every sequence of the step has one token.
type FusedV7 interface {
	// AttnDecodeV7 runs the core of RWKV-7's time mix for a decode step
	// (every sequence of the step, BeginStep, has exactly one row; a step
	// with a longer sequence is an error and nothing is touched). Its result
	// is that of
	//
	//	KeyV7(kk, k, a, kK, kA, heads)
	//	WKV7(y, r, w, k, v, kk, a, state, off, heads)
	//	GroupNorm(y, y, lnW, lnB, heads, eps)
	//	BonusV7(y, r, k, v, rK, heads)
	//	Zip(y, y, g, Mul)
	//
	// including the side effects: kk receives the normalised key, k is
	// rescaled in place and the state rows of the step's slots are updated.
	// r, w, k, v, a, g, kk and y are [N, C]; kK, kA, rK, lnW and lnB are
	// [1, C]. y and kk must not alias an input. A backend that computes
	// the composition with the same float32 operations in the same order
	// gives the same bits; others agree within the reduction tolerance.
	AttnDecodeV7(y, kk, r, w, k, v, a, g, kK, kA, rK, lnW, lnB, state Tensor, off, heads int, eps float32)
}

// FusedV5 is implemented by backends that run the core of RWKV-5's and
// RWKV-6's decode attention as one operation. Optional like FusedV7.
type FusedV5 interface {
	// AttnDecodeV5 runs the core of the RWKV-5.1, 5.2 and 6 time mix for a
	// decode step (every sequence of the step, BeginStep, has exactly one
	// row; a step with a longer sequence is an error and nothing is
	// touched). Its result is that of
	//
	//	WKV5(y, r, k, v, w, u, state, off, heads)
	//	GroupNorm(y, y, lnW, lnB, heads, eps)
	//	Zip(y, y, g, Mul)                 // only when g is not nil (RWKV-5.1 has no gate)
	//
	// including the update of the state rows of the step's slots. r, k, v,
	// g and y are [N, C]; w is [1|N, C] (RWKV-5's static decay, RWKV-6's
	// per token); u, lnW and lnB are [1, C]. y must not alias an input. A
	// backend that computes the composition with the same float32
	// operations in the same order gives the same bits; others agree within
	// the reduction tolerance.
	AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state Tensor, off, heads int, eps float32)
}

// FusedV6 is implemented by backends that run RWKV-6's decode attention
// with its decay's LoRA-up as one operation. Optional like FusedV7.
type FusedV6 interface {
	// AttnDecodeV6 has the result of
	//
	//	MatMul(w, decayLo, decayW2)
	//	Zip(w, w, decay, Add)
	//	Map(w, w, NegExpExp)
	//	AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state, off, heads, eps)
	//
	// including the side effects: w receives the decay, the state rows of
	// the step's slots are updated. A decode step only, as AttnDecodeV5. r,
	// k, v, g, w and y are [N, C]; decayLo is [N, D]; decayW2 [C, D] of any
	// weight type the backend's MatMul takes; decay, u, lnW and lnB [1, C].
	// y and w must be distinct, neither of them an input. A backend that
	// computes the composition with the same float32 operations in the same
	// order gives the same bits; others agree within the reduction
	// tolerance.
	AttnDecodeV6(y, w, r, k, v, decayLo, decayW2, decay, u, g, lnW, lnB, state Tensor, off, heads int, eps float32)
}

// FusedElementwise is implemented by backends that apply an elementwise
// function of two arguments and one of one argument in a single pass, such as
// the bias add and activation that follow a LoRA product (RWKV-7's decay
// w = V7Decay(w + w0) and in-context rate a = Sigmoid(a + a0)). Optional like
// FusedV7.
type FusedElementwise interface {
	// ZipMap sets out = g(f(a, b)) elementwise, where b is [1|N, cols]: the
	// result of Zip(out, a, b, f) followed by Map(out, out, g), with the
	// intermediate rounded to float32, so the bits are those of the two
	// operations. out may alias a.
	ZipMap(out, a, b Tensor, f Binary, g Unary)
}

// FusedNorm is implemented by backends that open a sublayer of the layer
// graph (the time mix or the channel mix, of every version) in one
// operation: the residual add of the sublayer before it, the LayerNorm, the
// token shift and the token-shift mixes. Optional like FusedV7.
type FusedNorm interface {
	// AddNormShiftMix has the result of
	//
	//	Zip(xx, residual, gate, Mul)     // only when gate is not nil
	//	Zip(x, x, xx, Add)               // ... and then the gated residual
	//	Zip(x, x, residual, Add)         // only when residual is not nil and gate is nil
	//	LayerNorm(xx, x, lnW, lnB, eps)
	//	Shift(prev, xx, state, off)
	//	MixN(outs, xx, prev, mixes, style)
	//
	// including every side effect: x is updated in place, xx and prev
	// receive the normalised rows and the previous token's rows, and the
	// state rows [off, off+C) of the step's slots (BeginStep) receive each
	// sequence's last normalised row. The gate (the channel mix's
	// receptance, whose product with the sublayer's output the residual
	// add takes) needs a residual. x, residual, gate, xx, prev and the outs
	// are [N, C]; lnW and lnB [1, C]; each mix [1|N, C]; len(outs) ==
	// len(mixes), in [1, MaxMixN]. xx, prev, x and the outs must be
	// distinct tensors, none of them an input (residual, gate, lnW, lnB,
	// state, a mix). A failing call reports the error through Err and changes
	// nothing. A backend that computes the composition with the same
	// float32 operations in the same order gives the same bits; others agree
	// within the LayerNorm's reduction tolerance.
	AddNormShiftMix(outs []Tensor, xx, prev, x, residual, gate, lnW, lnB, state Tensor, off int, mixes []Tensor, style MixStyle, eps float32)
}

// FusedNormLoRA is implemented by backends that open RWKV-6's time mix
// together with the LoRA-downs of its data-dependent token shift in one
// operation. Optional like FusedV7.
type FusedNormLoRA interface {
	// AddNormShiftMixLoRA has the result of
	//
	//	AddNormShiftMix(outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style, eps)
	//	MatMul(lo[j], outs[0], w1[j])    // for every j
	//	Map(lo[j], lo[j], Tanh)
	//
	// including every side effect of AddNormShiftMix. lo and w1 have the
	// same number of entries, 1 to MaxGroup; w1[j] is [D_j, C] of any weight
	// type the backend's MatMul takes, lo[j] [N, D_j]. The lo must be
	// distinct tensors, none of them an operand of AddNormShiftMix or a
	// w1. A failing call reports the error through Err and changes
	// nothing. A backend that computes the composition with the same
	// float32 operations in the same order gives the same bits; others
	// agree within the LayerNorm's and the products' reduction tolerances.
	AddNormShiftMixLoRA(outs []Tensor, xx, prev, x, residual, gate, lnW, lnB, state Tensor, off int, mixes []Tensor,
		style MixStyle, eps float32, lo, w1 []Tensor)
}

// MaxGroup is the largest number of products one MatMulGroup call takes.
const MaxGroup = 8

// Activation is the optional elementwise function of a Product's epilogue:
// NoActivation (the zero value) or Activate(f) for a Unary f.
type Activation uint8

// NoActivation leaves a product as it is.
const NoActivation Activation = 0

// Activate returns the Activation that applies f.
func Activate(f Unary) Activation { return Activation(f) + 1 }

// Unary returns the function a applies; ok is false for NoActivation.
func (a Activation) Unary() (f Unary, ok bool) {
	if a == NoActivation {
		return 0, false
	}
	return Unary(a - 1), true
}

// Product is one entry of FusedProducts.MatMulGroup: a matrix product and
// its epilogue. With p [N, O] the product In [N, I] @ W[O, I]^T (Backend.MatMul;
// W of any weight type the backend's MatMul takes), the entry sets
//
//	p = p + Bias                     if Bias is not nil    (Zip(p, p, Bias, Add); Bias [1|N, O])
//	p = f(p)                         if Act is Activate(f) (Map(p, p, f))
//	Out = p                          if Lerp is nil
//	Out = Out + (Lerp - Out) * p     otherwise             (Out and Lerp [N, O]; Out is read first)
//
// each step rounded to float32. With Act = Activate(Sigmoid) the Lerp form
// is RWKV-7's value residual: ValueV7(Out, Lerp, gate) with gate the product
// plus Bias (v += (first - v) * sigmoid(gate)).
type Product struct {
	Out, In, W Tensor
	Bias       Tensor // optional
	Act        Activation
	Lerp       Tensor // optional
}

// FusedProducts is implemented by backends that run several matrix products
// with their epilogues as one operation: on the decode path (few rows) the
// products that read the same step's activations are memory-bound
// matrix-vector products, and one pass over all of them saves the launches
// of the separate products and of their elementwise epilogues, and the round
// trips of the intermediates through memory. Optional like FusedV7.
type FusedProducts interface {
	// MatMulGroup computes every entry of entries (1 to MaxGroup of them; see
	// Product): the result of MatMul(Out, In, W) followed by the epilogue's
	// Zip, Map and (for a Lerp) the in-place interpolation, entry by entry,
	// with every intermediate rounded to float32. Every In has the same
	// number of rows N >= 1. The entries are independent: no Out may overlap
	// (share memory with, views included) another Out or any entry's In, W,
	// Bias or Lerp, so a backend may compute them in any order or together.
	// A malformed group (a shape, a weight type, an activation, an overlap)
	// is an error and touches nothing. The CPU backend gives the bits of the
	// composition; a backend that sums the products in another order agrees
	// within the reduction tolerance (its MatMul's).
	MatMulGroup(entries []Product)
}
