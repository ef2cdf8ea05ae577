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
