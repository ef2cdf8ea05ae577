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
	//	Zip(x, x, residual, Add)         // only when residual is not nil
	//	LayerNorm(xx, x, lnW, lnB, eps)
	//	Shift(prev, xx, state, off)
	//	MixN(outs, xx, prev, mixes, style)
	//
	// including every side effect: x is updated in place, xx and prev
	// receive the normalised rows and the previous token's rows, and the
	// state rows [off, off+C) of the step's slots (BeginStep) receive each
	// sequence's last normalised row. x, residual, xx, prev and the outs
	// are [N, C]; lnW and lnB [1, C]; each mix [1|N, C]; len(outs) ==
	// len(mixes), in [1, MaxMixN]. xx, prev, x and the outs must be
	// distinct tensors, none of them an input (residual, lnW, lnB, state, a
	// mix). A failing call reports the error through Err and changes
	// nothing. A backend that computes the composition with the same
	// float32 operations in the same order gives the same bits; others agree
	// within the LayerNorm's reduction tolerance.
	AddNormShiftMix(outs []Tensor, xx, prev, x, residual, lnW, lnB, state Tensor, off int, mixes []Tensor, style MixStyle, eps float32)
}
