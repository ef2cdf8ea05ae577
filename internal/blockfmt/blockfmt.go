// Package blockfmt describes the element encodings that files (package
// weights) and backends (package engine/backend) share: F32, F16, BF16 and
// ggml's 32-element block-quantized formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// numbered in that order by both weights.DType and backend.DType, and I8,
// the per-row int8 encoding that backends hold for weights quantized at load
// (no file format stores it; weights.DType leaves its code unused).
package blockfmt

import "math"

// Codes of the encodings, the values of weights.DType and backend.DType.
const (
	F32 = iota
	F16
	BF16
	Q4_0
	Q4_1
	Q5_0
	Q5_1
	Q8_0
	// I8 is a [rows, cols] matrix of int8 codes with one float32 scale per
	// row: element (r, c) is float32(q[r*cols+c]) * scale[r]. The encoding
	// is planar, the layout of librwkvcu's RWKVCU_I8 (rwkvcu_tensor_upload):
	// the rows*cols codes row-major, then the rows scales as float32
	// little-endian, so a row of codes is contiguous and a matrix-vector
	// product streams it. The scale belongs to the row of the stored
	// orientation: for a weight multiplied as x @ W^T (W [out, in]) it is
	// per output channel; for a weight stored transposed (x @ WT, WT
	// [in, out]) it is per input channel. QuantizeI8 sets it symmetric,
	// max|row| / 127.
	I8
	count
)

// blockBytes is the encoded size of one block (of one element for the
// plain types and I8, whose scales RowBytes adds), by code.
var blockBytes = [count]int{F32: 4, F16: 2, BF16: 2, Q4_0: 18, Q4_1: 20, Q5_0: 22, Q5_1: 24, Q8_0: 34, I8: 1}

// Quantized reports whether code is a block-quantized encoding (not I8,
// whose rows are not blocks).
func Quantized(code uint8) bool { return code >= Q4_0 && code <= Q8_0 }

// BlockSize returns the number of elements one block of code holds: 32 for
// the quantized encodings, 1 for the others.
func BlockSize(code uint8) int {
	if Quantized(code) {
		return 32
	}
	return 1
}

// BlockBytes returns the encoded size of one block of code; 0 for an
// unknown code.
func BlockBytes(code uint8) int {
	if int(code) >= len(blockBytes) {
		return 0
	}
	return blockBytes[code]
}

// RowBytes returns the encoded size of a row of cols elements (for I8, the
// row's codes and its share of the scales: cols + 4), or -1 when cols is
// not positive, not a whole number of blocks, or code is unknown. A
// [rows, cols] array takes rows * RowBytes(cols) bytes.
func RowBytes(code uint8, cols int) int {
	bb, bs := BlockBytes(code), BlockSize(code)
	if bb == 0 || cols <= 0 || cols%bs != 0 {
		return -1
	}
	if code == I8 {
		return cols + 4
	}
	return cols / bs * bb
}

// QuantizeI8 encodes the row-major [rows, cols] matrix w as I8: per row,
// scale = max|w| / 127 rounded to float32 and q = round(w / scale) (halves
// away from zero) clamped to [-127, 127]. An all-zero row has scale 0 and
// codes 0; a row holding a NaN or an infinity has scale NaN (its products
// are NaN, as with the original row) and codes 0.
func QuantizeI8(w []float32, rows, cols int) []byte {
	out := make([]byte, rows*cols+4*rows)
	for r := 0; r < rows; r++ {
		row := w[r*cols : (r+1)*cols]
		q := out[r*cols : (r+1)*cols]
		var amax float32
		finite := true
		for _, v := range row {
			a := float32(math.Abs(float64(v)))
			if a != a || a > math.MaxFloat32 {
				finite = false
			}
			amax = max(amax, a)
		}
		var scale float32
		switch {
		case !finite:
			scale = float32(math.NaN())
		case amax > 0:
			scale = amax / 127
			inv := 1 / float64(scale)
			for c, v := range row {
				x := math.Round(float64(v) * inv)
				x = max(-127, min(127, x))
				q[c] = byte(int8(x))
			}
		}
		putF32(out[rows*cols+4*r:], scale)
	}
	return out
}

// SplitI8 returns the codes and the scales of an encoded [rows, cols] I8
// matrix (scales decoded; the codes alias enc).
func SplitI8(enc []byte, rows, cols int) (codes []byte, scales []float32) {
	codes = enc[:rows*cols]
	scales = make([]float32, rows)
	for r := range scales {
		b := enc[rows*cols+4*r:]
		scales[r] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	}
	return codes, scales
}

func putF32(b []byte, v float32) {
	u := math.Float32bits(v)
	b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
}
