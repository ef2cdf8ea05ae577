package backendtest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
	"github.com/rwkvgo/rwkvgo/weights"
)

// quantTypes are the block-quantized weight types with their encodings in
// package weights.
var quantTypes = []struct {
	dt backend.DType
	w  weights.DType
}{
	{backend.Q4_0, weights.Q4_0},
	{backend.Q4_1, weights.Q4_1},
	{backend.Q5_0, weights.Q5_0},
	{backend.Q5_1, weights.Q5_1},
	{backend.Q8_0, weights.Q8_0},
}

// quantize encodes v as wt with ggml's reference quantizers and returns the
// bytes and the dequantized values the backend must compute with.
func quantize(t *testing.T, wt weights.DType, v []float32) ([]byte, []float32) {
	t.Helper()
	data, err := weights.Encode(wt, v)
	if err != nil {
		t.Fatal(err)
	}
	exact := make([]float32, len(v))
	if err := weights.DecodeFloat32(exact, wt, data); err != nil {
		t.Fatal(err)
	}
	return data, exact
}

// supported runs fn for each quantized type the backend supports and skips
// the test when it supports none.
func forQuant(t *testing.T, be backend.Backend, fn func(dt backend.DType, wt weights.DType)) {
	any := false
	for _, q := range quantTypes {
		if backend.Supports(be, q.dt) {
			any = true
			fn(q.dt, q.w)
		}
	}
	if !any {
		t.Skipf("%s supports no block-quantized weight type", be.Name())
	}
}

// refMatMul returns x [n, k] @ w [o, k]^T in float64 and the sums of |terms|.
func refMatMul(xv, w []float32, n, o, k int) (want, scale []float64) {
	want, scale = make([]float64, n*o), make([]float64, n*o)
	for tk := 0; tk < n; tk++ {
		for j := 0; j < o; j++ {
			for i := 0; i < k; i++ {
				p := float64(xv[tk*k+i]) * float64(w[j*k+i])
				want[tk*o+j] += p
				scale[tk*o+j] += math.Abs(p)
			}
		}
	}
	return want, scale
}

// testMatMulQuant: MatMul with block-quantized weights against the float64
// product of the dequantized matrix, on odd row counts, one and several
// tokens, and widths of 1, 3 and many blocks.
func testMatMulQuant(t *testing.T, be backend.Backend) {
	r := newRNG(21)
	forQuant(t, be, func(dt backend.DType, wt weights.DType) {
		for _, s := range [][3]int{{1, 1, 32}, {1, 7, 96}, {2, 64, 64}, {3, 65, 32}, {1, 300, 800}, {9, 129, 256}, {17, 33, 96}} {
			n, o, k := s[0], s[1], s[2]
			wdata, wexact := quantize(t, wt, r.normal(o*k, 1))
			xv := r.normal(n*k, 1)
			w, x := be.Upload(dt, o, k, wdata), be.UploadF32(n, k, xv)
			if w.Rows() != o || w.Cols() != k || w.DType() != dt {
				t.Fatalf("Upload %s [%d, %d]: tensor %s [%d, %d]", dt, o, k, w.DType(), w.Rows(), w.Cols())
			}
			out := be.New(n, o)
			be.MatMul(out, x, w)
			want, scale := refMatMul(xv, wexact, n, o, k)
			got := read(be, out)
			check(t, fmt.Sprintf("MatMul %s n=%d o=%d k=%d", dt, n, o, k), got, want, scale, tolReduce)
			if n > 1 {
				one := be.New(1, o)
				be.MatMul(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
				check(t, fmt.Sprintf("MatMul %s: last row alone vs in a batch of %d", dt, n), read(be, one),
					f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
				be.Free(one)
			}
			// A view of the first rows multiplies those rows.
			if o > 2 {
				v := be.View(w, o-2)
				vo := be.New(n, o-2)
				be.MatMul(vo, x, v)
				vw, vs := refMatMul(xv, wexact[:(o-2)*k], n, o-2, k)
				check(t, fmt.Sprintf("MatMul %s view of %d rows", dt, o-2), read(be, vo), vw, vs, tolReduce)
				be.Free(v)
				be.Free(vo)
			}
			be.Free(w)
			be.Free(x)
			be.Free(out)
		}
	})
}

// testEmbedQuant: Embed from a block-quantized table gives the dequantized rows.
func testEmbedQuant(t *testing.T, be backend.Backend) {
	r := newRNG(22)
	forQuant(t, be, func(dt backend.DType, wt weights.DType) {
		const V, C = 37, 96
		data, exact := quantize(t, wt, r.vec(V*C, -2, 2))
		emb := be.Upload(dt, V, C, data)
		tokens := []int32{0, 36, 5, 5, 17}
		out := be.New(len(tokens), C)
		be.Embed(out, emb, tokens)
		var want []float64
		for _, tok := range tokens {
			want = append(want, f64(exact[int(tok)*C:(int(tok)+1)*C])...)
		}
		check(t, "Embed "+dt.String(), read(be, out), want, nil, 0)
		be.Free(emb)
		be.Free(out)
	})
}

// testQuantErrors: malformed quantized uploads are reported, never a crash;
// a backend refuses the types it does not support with an error.
func testQuantErrors(t *testing.T, be backend.Backend) {
	for _, q := range quantTypes {
		dt := q.dt
		if !backend.Supports(be, dt) {
			continue
		}
		bb := dt.BlockBytes()
		for _, c := range []struct {
			rows, cols, bytes int
		}{
			{2, 33, 2 * 2 * bb},  // width not a whole number of blocks
			{2, 64, 2*2*bb - 1},  // short
			{2, 64, 2*2*bb + bb}, // long
			{0, 64, 0},           // no rows
			{1, -32, bb},         // negative width
		} {
			be.Upload(dt, c.rows, c.cols, make([]byte, max(c.bytes, 0)))
			if err := be.Err(); err == nil {
				t.Fatalf("Upload %s [%d, %d] with %d bytes: no error", dt, c.rows, c.cols, c.bytes)
			}
		}
	}
	// Unsupported types are refused with an error by every backend.
	for _, dt := range []backend.DType{backend.Q4_0, backend.Q4_1, backend.Q5_0, backend.Q5_1, backend.Q8_0, backend.I8, backend.F8E4M3, backend.DType(200)} {
		if backend.Supports(be, dt) {
			continue
		}
		w := be.Upload(dt, 1, 32, make([]byte, max(dt.RowBytes(32), 1)))
		if err := be.Err(); err == nil {
			t.Fatalf("Upload of unsupported %s: no error", dt)
		}
		be.Free(w)
	}
}

// testBorrow: on a Borrower, borrowed weights of every type it supports
// multiply like uploaded ones, the tensor reads the caller's memory in place
// (a change to it is seen), and a borrowed tensor is refused as an output.
func testBorrow(t *testing.T, be backend.Backend) {
	bo, ok := be.(backend.Borrower)
	if !ok {
		t.Skipf("%s does not implement backend.Borrower", be.Name())
	}
	r := newRNG(23)
	all := append([]backend.DType(nil), dtypes...)
	for _, q := range quantTypes {
		all = append(all, q.dt)
	}
	all = append(all, backend.I8)
	const n, o, k = 3, 13, 64
	xv := r.normal(n*k, 1)
	x := be.UploadF32(n, k, xv)
	for _, dt := range all {
		if !backend.Supports(be, dt) {
			continue
		}
		var data []byte
		var exact []float32
		if dt == backend.I8 {
			var e64 []float64
			data, e64 = i8Matrix(r, o, k)
			for _, v := range e64 {
				exact = append(exact, float32(v)) // one rounding, far inside tolReduce
			}
		} else if dt.Quantized() {
			for _, q := range quantTypes {
				if q.dt == dt {
					data, exact = quantize(t, q.w, r.normal(o*k, 1))
				}
			}
		} else {
			data, exact = encode(dt, r.normal(o*k, 1))
		}
		buf := make([]byte, len(data)+8) // aligned for every type
		copy(buf, data)
		w, ok := bo.Borrow(dt, o, k, buf[:len(data)])
		if !ok {
			t.Fatalf("Borrow %s of aligned data refused", dt)
		}
		out := be.New(n, o)
		be.MatMul(out, x, w)
		want, scale := refMatMul(xv, exact, n, o, k)
		check(t, "MatMul borrowed "+dt.String(), read(be, out), want, scale, tolReduce)
		// In place: zero the caller's bytes and the product becomes zero.
		clear(buf)
		be.MatMul(out, x, w)
		check(t, "MatMul borrowed "+dt.String()+" after zeroing its memory", read(be, out), make([]float64, n*o), nil, 0)
		if dt == backend.F32 {
			// Same shape as x, so that only its being borrowed is wrong.
			xb := make([]byte, 4*n*k+4)
			bx, ok := bo.Borrow(dt, n, k, xb[:4*n*k])
			if ok {
				be.Map(bx, x, backend.Tanh)
				if err := be.Err(); err == nil {
					t.Fatal("a borrowed tensor accepted as an output")
				}
				be.Free(bx)
			}
		}
		be.Free(w)
		be.Free(out)
	}
	be.Free(x)
}

// randomBlocks returns rows*cols/32 random blocks of the block-quantized
// type dt, every bit random except that the fp16 scale d and minimum m are
// finite (normal or subnormal, either sign): random codes, random fifth bits
// of Q5_0/Q5_1 and random minima of Q4_1/Q5_1, none of which ggml's
// quantizers are bound to produce.
func randomBlocks(r rng, dt backend.DType, rows, cols int) []byte {
	bb := dt.BlockBytes()
	data := make([]byte, rows*dt.RowBytes(cols))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	finite := func(b []byte) {
		// exponent field 0..30: clear bit 14 when the exponent is 31
		if b[1]&0x7c == 0x7c {
			b[1] &^= 0x40
		}
	}
	for off := 0; off < len(data); off += bb {
		finite(data[off:])
		if dt == backend.Q4_1 || dt == backend.Q5_1 {
			finite(data[off+2:])
		}
	}
	return data
}

// testQuantDecode: the backend decodes random blocks of every
// block-quantized type it supports to exactly the floats of
// blockfmt.DecodeBlocks, the layouts' one definition on the Go side (for a
// CUDA backend this checks its own definition, cuda/qblock.cuh): Embed
// decodes rows, and MatMul (one token and batches: on a GPU backend the
// matrix-vector and the tiled kernels) and MatMulGroup with one-hot inputs
// select single elements. Exact: a one-hot product adds one decoded element
// to zeros, with no rounding.
func testQuantDecode(t *testing.T, be backend.Backend) {
	r := newRNG(24)
	forQuant(t, be, func(dt backend.DType, _ weights.DType) {
		const V, C = 37, 96
		data := randomBlocks(r, dt, V, C)
		exact := make([]float32, V*C)
		blockfmt.DecodeBlocks(uint8(dt), exact, data)
		emb := be.Upload(dt, V, C, data)
		tokens := make([]int32, V)
		for i := range tokens {
			tokens[i] = int32(V - 1 - i)
		}
		out := be.New(V, C)
		be.Embed(out, emb, tokens)
		var want []float64
		for _, tok := range tokens {
			want = append(want, f64(exact[int(tok)*C:(int(tok)+1)*C])...)
		}
		check(t, "Embed of random "+dt.String()+" blocks", read(be, out), want, nil, 0)
		be.Free(out)

		// Column i of the weight, for the columns of cols, as rows of an
		// [len(cols), V] result.
		column := func(cols []int) []float64 {
			var w []float64
			for _, i := range cols {
				for row := 0; row < V; row++ {
					w = append(w, float64(exact[row*C+i]))
				}
			}
			return w
		}
		oneHot := func(cols []int) backend.Tensor {
			x := make([]float32, len(cols)*C)
			for tk, i := range cols {
				x[tk*C+i] = 1
			}
			return be.UploadF32(len(cols), C, x)
		}
		all := make([]int, C)
		for i := range all {
			all[i] = i
		}
		g, grouped := be.(backend.FusedProducts)
		for _, n := range []int{1, 3, 8, C} {
			for c0 := 0; c0 < C; c0 += n {
				cols := all[c0:min(c0+n, C)]
				x := oneHot(cols)
				y := be.New(len(cols), V)
				be.MatMul(y, x, emb)
				check(t, fmt.Sprintf("MatMul of random %s blocks, one-hot columns %d..%d", dt, cols[0], cols[len(cols)-1]),
					read(be, y), column(cols), nil, 0)
				if grouped && len(cols) <= 8 {
					g.MatMulGroup([]backend.Product{{Out: y, In: x, W: emb}})
					check(t, fmt.Sprintf("MatMulGroup of random %s blocks, one-hot columns %d..%d", dt, cols[0], cols[len(cols)-1]),
						read(be, y), column(cols), nil, 0)
				}
				be.Free(x)
				be.Free(y)
			}
		}
		be.Free(emb)
		if err := be.Err(); err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
	})
}
