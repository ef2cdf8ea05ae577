package backendtest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
)

// i8Matrix quantizes a random [rows, cols] matrix to I8 (internal/blockfmt)
// and returns the encoding and the dequantized values in float64 (exact:
// q * scale), the weights the backend must compute with. Row 0 is zero
// (scale 0) and row 1, when there is one, is a thousand times larger than
// the others, so that the scales really differ by row.
func i8Matrix(r rng, rows, cols int) ([]byte, []float64) {
	v := r.normal(rows*cols, 1)
	clear(v[:cols])
	if rows > 1 {
		for i := cols; i < 2*cols; i++ {
			v[i] *= 1000
		}
	}
	data := blockfmt.QuantizeI8(v, rows, cols)
	codes, scales := blockfmt.SplitI8(data, rows, cols)
	exact := make([]float64, rows*cols)
	for i, q := range codes {
		exact[i] = float64(int8(q)) * float64(scales[i/cols])
	}
	return data, exact
}

// supportsI8 skips the test on a backend without I8 weights.
func supportsI8(t *testing.T, be backend.Backend) {
	if !backend.Supports(be, backend.I8) {
		t.Skipf("%s does not support I8 weights", be.Name())
	}
}

// testMatMulI8: MatMul with I8 weights (a scale per output channel) against
// the float64 product of the dequantized matrix, on one and several tokens,
// widths that are and are not multiples of the kernels' 16-element blocks,
// odd row counts and a view of the first rows. The error model is the float
// product's (tolReduce) plus one rounding of the scale product, relative
// 2^-24.
func testMatMulI8(t *testing.T, be backend.Backend) {
	supportsI8(t, be)
	r := newRNG(31)
	for _, s := range [][3]int{{1, 1, 1}, {1, 7, 9}, {1, 13, 64}, {2, 64, 64}, {3, 65, 31}, {1, 300, 801}, {9, 129, 256}, {17, 33, 97}} {
		n, o, k := s[0], s[1], s[2]
		wdata, wexact := i8Matrix(r, o, k)
		xv := r.normal(n*k, 1)
		w, x := be.Upload(backend.I8, o, k, wdata), be.UploadF32(n, k, xv)
		if w.Rows() != o || w.Cols() != k || w.DType() != backend.I8 {
			t.Fatalf("Upload I8 [%d, %d]: tensor %s [%d, %d]", o, k, w.DType(), w.Rows(), w.Cols())
		}
		out := be.New(n, o)
		be.MatMul(out, x, w)
		want, scale := refMatMul64(xv, wexact, n, o, k)
		got := read(be, out)
		check(t, fmt.Sprintf("MatMul I8 n=%d o=%d k=%d", n, o, k), got, want, scale, tolReduce)
		if n > 1 {
			one := be.New(1, o)
			be.MatMul(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
			check(t, fmt.Sprintf("MatMul I8: last row alone vs in a batch of %d", n), read(be, one),
				f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
			be.Free(one)
		}
		if o > 2 {
			v := be.View(w, o-2)
			vo := be.New(n, o-2)
			be.MatMul(vo, x, v)
			vw, vs := refMatMul64(xv, wexact[:(o-2)*k], n, o-2, k)
			check(t, fmt.Sprintf("MatMul I8 view of %d rows", o-2), read(be, vo), vw, vs, tolReduce)
			be.Free(v)
			be.Free(vo)
		}
		be.Free(w)
		be.Free(x)
		be.Free(out)
	}
}

// testMatMulTI8: MatMulT with an I8 weight stored transposed (wt [I, O], a
// scale per stored row, that is per input) against the float64 product,
// with mostly-zero inputs like the channel mix's, one and several tokens.
func testMatMulTI8(t *testing.T, be backend.Backend) {
	supportsI8(t, be)
	r := newRNG(32)
	for _, s := range [][3]int{{1, 1, 1}, {1, 7, 9}, {2, 64, 256}, {3, 65, 31}, {1, 769, 300}, {6, 130, 97}, {9, 40, 33}} {
		n, o, k := s[0], s[1], s[2]
		wdata, wexact := i8Matrix(r, k, o)
		xv := r.normal(n*k, 1)
		for i := range xv {
			if r.Float64() < 0.6 {
				xv[i] = 0
			}
		}
		w, x := be.Upload(backend.I8, k, o, wdata), be.UploadF32(n, k, xv)
		out := be.New(n, o)
		be.MatMulT(out, x, w)
		want, scale := make([]float64, n*o), make([]float64, n*o)
		for tk := 0; tk < n; tk++ {
			for i := 0; i < k; i++ {
				for j := 0; j < o; j++ {
					p := float64(xv[tk*k+i]) * wexact[i*o+j]
					want[tk*o+j] += p
					scale[tk*o+j] += math.Abs(p)
				}
			}
		}
		got := read(be, out)
		check(t, fmt.Sprintf("MatMulT I8 n=%d o=%d k=%d", n, o, k), got, want, scale, tolReduce)
		if n > 1 {
			one := be.New(1, o)
			be.MatMulT(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
			check(t, fmt.Sprintf("MatMulT I8: last row alone vs in a batch of %d", n), read(be, one),
				f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
			be.Free(one)
		}
		be.Free(w)
		be.Free(x)
		be.Free(out)
	}
}

// testEmbedI8: Embed from an I8 table gives the dequantized rows, float32(q)
// times the row's scale (one rounding).
func testEmbedI8(t *testing.T, be backend.Backend) {
	supportsI8(t, be)
	r := newRNG(33)
	const V, C = 37, 96
	data, exact := i8Matrix(r, V, C)
	emb := be.Upload(backend.I8, V, C, data)
	tokens := []int32{0, 36, 1, 5, 5, 17}
	out := be.New(len(tokens), C)
	be.Embed(out, emb, tokens)
	var want []float64
	for _, tok := range tokens {
		want = append(want, exact[int(tok)*C:(int(tok)+1)*C]...)
	}
	check(t, "Embed I8", read(be, out), want, nil, tolElem)
	be.Free(emb)
	be.Free(out)
}

// testI8Errors: malformed I8 uploads (codes or scales missing, a byte too
// many, no rows) are reported, never a crash.
func testI8Errors(t *testing.T, be backend.Backend) {
	supportsI8(t, be)
	for _, c := range []struct{ rows, cols, bytes int }{
		{2, 8, 2 * 8},         // no scales
		{2, 8, 2*8 + 4},       // one scale short
		{2, 8, 2*8 + 2*4 + 1}, // one byte too many
		{0, 8, 0},             // no rows
		{1, -8, 4},            // negative width
	} {
		w := be.Upload(backend.I8, c.rows, c.cols, make([]byte, c.bytes))
		if err := be.Err(); err == nil {
			t.Fatalf("Upload I8 [%d, %d] with %d bytes: no error", c.rows, c.cols, c.bytes)
		}
		be.Free(w)
	}
}

// refMatMul64 is refMatMul with the weights in float64.
func refMatMul64(xv []float32, w []float64, n, o, k int) (want, scale []float64) {
	want, scale = make([]float64, n*o), make([]float64, n*o)
	for tk := 0; tk < n; tk++ {
		for j := 0; j < o; j++ {
			for i := 0; i < k; i++ {
				p := float64(xv[tk*k+i]) * w[j*k+i]
				want[tk*o+j] += p
				scale[tk*o+j] += math.Abs(p)
			}
		}
	}
	return want, scale
}
