package backendtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
)

// scaledType is a weight type of one-byte codes with a float32 scale per
// row (internal/blockfmt): its quantizer and the exact value of a code.
type scaledType struct {
	dt       backend.DType
	quantize func(w []float32, rows, cols int) []byte
	value    func(code byte) float64
}

var scaledTypes = []scaledType{
	{backend.I8, blockfmt.QuantizeI8, func(b byte) float64 { return float64(int8(b)) }},
	{backend.F8E4M3, blockfmt.QuantizeF8E4M3, func(b byte) float64 { return float64(blockfmt.DecodeE4M3(b)) }},
}

// forScaled runs fn for each scaled type the backend supports and skips the
// test when it supports none.
func forScaled(t *testing.T, be backend.Backend, fn func(st scaledType)) {
	any := false
	for _, st := range scaledTypes {
		if backend.Supports(be, st.dt) {
			any = true
			fn(st)
		}
	}
	if !any {
		t.Skipf("%s supports no scaled weight type", be.Name())
	}
}

// scaledMatrix quantizes a random [rows, cols] matrix to st and returns the
// encoding and the dequantized values in float64 (exact: code * scale), the
// weights the backend must compute with. Row 0 is zero (scale 0) and row 1,
// when there is one, is a thousand times larger than the others, so that
// the scales really differ by row.
func (st scaledType) matrix(r rng, rows, cols int) ([]byte, []float64) {
	v := r.normal(rows*cols, 1)
	clear(v[:cols])
	if rows > 1 {
		for i := cols; i < 2*cols; i++ {
			v[i] *= 1000
		}
	}
	data := st.quantize(v, rows, cols)
	codes, scales := blockfmt.SplitI8(data, rows, cols)
	exact := make([]float64, rows*cols)
	for i, q := range codes {
		exact[i] = st.value(q) * float64(scales[i/cols])
	}
	return data, exact
}

// i8Matrix is scaledMatrix for I8.
func i8Matrix(r rng, rows, cols int) ([]byte, []float64) { return scaledTypes[0].matrix(r, rows, cols) }

// testMatMulScaled: MatMul with I8 and F8E4M3 weights (a scale per output channel) against
// the float64 product of the dequantized matrix, on one and several tokens,
// widths that are and are not multiples of the kernels' 16-element blocks,
// odd row counts and a view of the first rows. The error model is the float
// product's (tolReduce) plus one rounding of the scale product, relative
// 2^-24.
func testMatMulScaled(t *testing.T, be backend.Backend) {
	forScaled(t, be, func(st scaledType) { matMulScaled(t, be, st) })
}

func matMulScaled(t *testing.T, be backend.Backend, st scaledType) {
	dt := st.dt
	r := newRNG(31)
	for _, s := range [][3]int{{1, 1, 1}, {1, 7, 9}, {1, 13, 64}, {2, 64, 64}, {3, 65, 31}, {1, 300, 801}, {9, 129, 256}, {17, 33, 97}} {
		n, o, k := s[0], s[1], s[2]
		wdata, wexact := st.matrix(r, o, k)
		xv := r.normal(n*k, 1)
		w, x := be.Upload(dt, o, k, wdata), be.UploadF32(n, k, xv)
		if w.Rows() != o || w.Cols() != k || w.DType() != dt {
			t.Fatalf("Upload %s [%d, %d]: tensor %s [%d, %d]", dt, o, k, w.DType(), w.Rows(), w.Cols())
		}
		out := be.New(n, o)
		be.MatMul(out, x, w)
		want, scale := refMatMul64(xv, wexact, n, o, k)
		got := read(be, out)
		check(t, fmt.Sprintf("MatMul %s n=%d o=%d k=%d", dt, n, o, k), got, want, scale, tolReduce)
		if n > 1 {
			one := be.New(1, o)
			be.MatMul(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
			check(t, fmt.Sprintf("MatMul %s: last row alone vs in a batch of %d", dt, n), read(be, one),
				f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
			be.Free(one)
		}
		if o > 2 {
			v := be.View(w, o-2)
			vo := be.New(n, o-2)
			be.MatMul(vo, x, v)
			vw, vs := refMatMul64(xv, wexact[:(o-2)*k], n, o-2, k)
			check(t, fmt.Sprintf("MatMul %s view of %d rows", dt, o-2), read(be, vo), vw, vs, tolReduce)
			be.Free(v)
			be.Free(vo)
		}
		be.Free(w)
		be.Free(x)
		be.Free(out)
	}
}

// testMatMulTScaled: MatMulT with an I8 or F8E4M3 weight stored transposed (wt [I, O], a
// scale per stored row, that is per input) against the float64 product,
// with mostly-zero inputs like the channel mix's, one and several tokens.
func testMatMulTScaled(t *testing.T, be backend.Backend) {
	forScaled(t, be, func(st scaledType) { matMulTScaled(t, be, st) })
}

func matMulTScaled(t *testing.T, be backend.Backend, st scaledType) {
	dt := st.dt
	r := newRNG(32)
	for _, s := range [][3]int{{1, 1, 1}, {1, 7, 9}, {2, 64, 256}, {3, 65, 31}, {1, 769, 300}, {6, 130, 97}, {9, 40, 33}} {
		n, o, k := s[0], s[1], s[2]
		wdata, wexact := st.matrix(r, k, o)
		xv := r.normal(n*k, 1)
		for i := range xv {
			if r.Float64() < 0.6 {
				xv[i] = 0
			}
		}
		w, x := be.Upload(dt, k, o, wdata), be.UploadF32(n, k, xv)
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
		check(t, fmt.Sprintf("MatMulT %s n=%d o=%d k=%d", dt, n, o, k), got, want, scale, tolReduce)
		if n > 1 {
			one := be.New(1, o)
			be.MatMulT(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
			check(t, fmt.Sprintf("MatMulT %s: last row alone vs in a batch of %d", dt, n), read(be, one),
				f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
			be.Free(one)
		}
		be.Free(w)
		be.Free(x)
		be.Free(out)
	}
}

// testEmbedScaled: Embed from an I8 or F8E4M3 table gives the dequantized
// rows, the code's value times the row's scale (one rounding).
func testEmbedScaled(t *testing.T, be backend.Backend) {
	forScaled(t, be, func(st scaledType) { embedScaled(t, be, st) })
}

func embedScaled(t *testing.T, be backend.Backend, st scaledType) {
	r := newRNG(33)
	const V, C = 37, 96
	data, exact := st.matrix(r, V, C)
	emb := be.Upload(st.dt, V, C, data)
	tokens := []int32{0, 36, 1, 5, 5, 17}
	out := be.New(len(tokens), C)
	be.Embed(out, emb, tokens)
	var want []float64
	for _, tok := range tokens {
		want = append(want, exact[int(tok)*C:(int(tok)+1)*C]...)
	}
	check(t, "Embed "+st.dt.String(), read(be, out), want, nil, tolElem)
	be.Free(emb)
	be.Free(out)
}

// testScaledErrors: malformed I8 and F8E4M3 uploads (codes or scales
// missing, a byte too many, no rows) are reported, never a crash.
func testScaledErrors(t *testing.T, be backend.Backend) {
	forScaled(t, be, func(st scaledType) { scaledErrors(t, be, st.dt) })
}

func scaledErrors(t *testing.T, be backend.Backend, dt backend.DType) {
	for _, c := range []struct{ rows, cols, bytes int }{
		{2, 8, 2 * 8},         // no scales
		{2, 8, 2*8 + 4},       // one scale short
		{2, 8, 2*8 + 2*4 + 1}, // one byte too many
		{0, 8, 0},             // no rows
		{1, -8, 4},            // negative width
	} {
		w := be.Upload(dt, c.rows, c.cols, make([]byte, c.bytes))
		if err := be.Err(); err == nil {
			t.Fatalf("Upload %s [%d, %d] with %d bytes: no error", dt, c.rows, c.cols, c.bytes)
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

// testF8E4M3Codes: every one of the 256 E4M3 codes decodes exactly
// (blockfmt.DecodeE4M3), read through Embed with scale 1; NaN codes read as
// NaN.
func testF8E4M3Codes(t *testing.T, be backend.Backend) {
	if !backend.Supports(be, backend.F8E4M3) {
		t.Skipf("%s does not support F8E4M3 weights", be.Name())
	}
	const rows, cols = 2, 128
	data := make([]byte, rows*cols+4*rows)
	for i := 0; i < rows*cols; i++ {
		data[i] = byte(i)
	}
	for r := 0; r < rows; r++ {
		binary.LittleEndian.PutUint32(data[rows*cols+4*r:], math.Float32bits(1))
	}
	emb := be.Upload(backend.F8E4M3, rows, cols, data)
	out := be.New(rows, cols)
	be.Embed(out, emb, []int32{0, 1})
	got := read(be, out)
	for i, v := range got {
		want := blockfmt.DecodeE4M3(byte(i))
		if want != want {
			if v == v {
				t.Fatalf("code %#02x: %g, want NaN", i, v)
			}
			continue
		}
		if math.Float32bits(v) != math.Float32bits(want) {
			t.Fatalf("code %#02x: %g, want %g", i, v, want)
		}
	}
	be.Free(emb)
	be.Free(out)
}
