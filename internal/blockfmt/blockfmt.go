// Package blockfmt describes the element encodings that files (package
// weights) and backends (package engine/backend) share: F32, F16, BF16 and
// ggml's 32-element block-quantized formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// numbered in that order by both weights.DType and backend.DType, and I8 and
// F8E4M3, the per-row int8 and fp8 encodings that backends hold for weights
// quantized at load (no file format stores them; weights.DType leaves their
// codes unused).
package blockfmt

import (
	"encoding/binary"
	"math"

	"github.com/rwkvgo/rwkvgo/internal/half"
)

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
	// F8E4M3 is I8's layout with OCP FP8 E4M3 (E4M3FN) codes instead of
	// int8: element (r, c) is e4m3(q[r*cols+c]) * scale[r], where a code
	// has a sign, 4 exponent bits (bias 7) and 3 mantissa bits, exponent 0
	// is subnormal (m * 2^-9), S.1111.111 is NaN and there are no
	// infinities (largest value 448). QuantizeF8E4M3 sets the scale to
	// max|row| / 448.
	F8E4M3
	count
)

// blockBytes is the encoded size of one block (of one element for the
// plain types and I8, whose scales RowBytes adds), by code.
var blockBytes = [count]int{F32: 4, F16: 2, BF16: 2, Q4_0: 18, Q4_1: 20, Q5_0: 22, Q5_1: 24, Q8_0: 34, I8: 1, F8E4M3: 1}

// Scaled reports whether code is a per-row scaled encoding (I8, F8E4M3).
func Scaled(code uint8) bool { return code == I8 || code == F8E4M3 }

// Quantized reports whether code is a block-quantized encoding (not I8 or
// F8E4M3, whose rows are not blocks).
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

// RowBytes returns the encoded size of a row of cols elements (for I8 and
// F8E4M3, the row's codes and its share of the scales: cols + 4), or -1 when cols is
// not positive, not a whole number of blocks, or code is unknown. A
// [rows, cols] array takes rows * RowBytes(cols) bytes.
func RowBytes(code uint8, cols int) int {
	bb, bs := BlockBytes(code), BlockSize(code)
	if bb == 0 || cols <= 0 || cols%bs != 0 {
		return -1
	}
	if Scaled(code) {
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
	return quantizeRows(w, rows, cols, 127, func(x float64) byte {
		return byte(int8(max(-127, min(127, math.Round(x)))))
	})
}

// QuantizeF8E4M3 encodes the row-major [rows, cols] matrix w as F8E4M3:
// per row, scale = max|w| / 448 rounded to float32 and q = the E4M3 code
// nearest to w / scale (ties to the even code), at most 448 in magnitude.
// Zero and non-finite rows are treated as by QuantizeI8.
func QuantizeF8E4M3(w []float32, rows, cols int) []byte {
	return quantizeRows(w, rows, cols, 448, encodeE4M3)
}

// quantizeRows encodes the row-major [rows, cols] matrix w as a scaled
// one-byte type: per row, scale = max|w| / qmax rounded to float32 and code
// = encode(w / scale), then the float32 scales after all the codes. An
// all-zero row has scale 0 and codes 0; a row holding a NaN or an infinity
// has scale NaN and codes 0.
func quantizeRows(w []float32, rows, cols int, qmax float32, encode func(float64) byte) []byte {
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
			scale = amax / qmax
			inv := 1 / float64(scale)
			for c, v := range row {
				q[c] = encode(float64(v) * inv)
			}
		}
		putF32(out[rows*cols+4*r:], scale)
	}
	return out
}

// DecodeE4M3 returns the value of the E4M3 code b (exact in float32).
func DecodeE4M3(b byte) float32 {
	em := uint32(b & 0x7f)
	var v float32
	switch {
	case em == 0x7f:
		v = float32(math.NaN())
	case em >= 8:
		v = math.Float32frombits((em + 120<<3) << 20)
	default:
		v = float32(em) / 512
	}
	if b&0x80 != 0 {
		v = -v
	}
	return v
}

// encodeE4M3 returns the finite E4M3 code nearest to x (ties to the even
// code), saturating at +-448.
func encodeE4M3(x float64) byte {
	var sign byte
	if x < 0 || (x == 0 && math.Signbit(x)) {
		sign, x = 0x80, -x
	}
	// Positive codes 0..0x7e are increasing in value: binary search for the
	// first whose value is >= x, then pick the nearer of it and the one below.
	lo, hi := 0, 0x7e
	if x >= 448 {
		return sign | 0x7e
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if float64(DecodeE4M3(byte(mid))) < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	c := lo
	if c > 0 {
		below, above := float64(DecodeE4M3(byte(c-1))), float64(DecodeE4M3(byte(c)))
		if x-below < above-x || (x-below == above-x && (c-1)&1 == 0) {
			c--
		}
	}
	return sign | byte(c)
}

// SplitI8 returns the codes and the scales of an encoded [rows, cols] I8 or
// F8E4M3 matrix (scales decoded; the codes alias enc).
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

// DecodeBlocks decodes the whole blocks of the block-quantized encoding
// code (Q4_0 ... Q8_0) in data into dst, 32 elements per block, as many
// as both hold; other codes decode nothing. This is the one definition of
// the block layouts on the Go side (package weights dequantizes with it;
// librwkvcu's is cuda/qblock.cuh, and the backend conformance suite checks
// that both give the same floats): little-endian, fp16 d and m,
//
//	Q4_0 18 bytes: d, qs[16]            x[j] = ((qs[j]&15)-8)*d, x[j+16] = ((qs[j]>>4)-8)*d
//	Q4_1 20 bytes: d, m, qs[16]         x = q*d + m (same nibble order)
//	Q5_0 22 bytes: d, qh u32, qs[16]    q = nibble | (bit j, or j+16, of qh) << 4; x = (q-16)*d
//	Q5_1 24 bytes: d, m, qh u32, qs[16] x = q*d + m
//	Q8_0 34 bytes: d, int8 qs[32]       x = q*d
//
// with every product and sum rounded to float32 (q*d first, then + m).
func DecodeBlocks(code uint8, dst []float32, data []byte) {
	switch code {
	case Q4_0:
		decodeQ4_0(dst, data)
	case Q4_1:
		decodeQ4_1(dst, data)
	case Q5_0:
		decodeQ5_0(dst, data)
	case Q5_1:
		decodeQ5_1(dst, data)
	case Q8_0:
		decodeQ8_0(dst, data)
	}
}

const qk = 32 // elements per block

func f16At(b []byte) float32 { return half.F16ToF32(binary.LittleEndian.Uint16(b)) }

func decodeQ4_0(dst []float32, data []byte) {
	for len(dst) >= qk && len(data) >= 18 {
		b, y := data[:18:18], dst[:qk:qk]
		d := f16At(b)
		qs := b[2:18]
		for j, q := range qs {
			y[j] = float32(int32(q&15)-8) * d
			y[j+16] = float32(int32(q>>4)-8) * d
		}
		dst, data = dst[qk:], data[18:]
	}
}

func decodeQ4_1(dst []float32, data []byte) {
	for len(dst) >= qk && len(data) >= 20 {
		b, y := data[:20:20], dst[:qk:qk]
		d, m := f16At(b), f16At(b[2:])
		qs := b[4:20]
		for j, q := range qs {
			y[j] = float32(float32(q&15)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
		dst, data = dst[qk:], data[20:]
	}
}

func decodeQ5_0(dst []float32, data []byte) {
	for len(dst) >= qk && len(data) >= 22 {
		b, y := data[:22:22], dst[:qk:qk]
		d := f16At(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		qs := b[6:22]
		for j, q := range qs {
			lo := int32(q&15) | int32(qh>>uint(j)&1)<<4
			hi := int32(q>>4) | int32(qh>>uint(j+16)&1)<<4
			y[j] = float32(lo-16) * d
			y[j+16] = float32(hi-16) * d
		}
		dst, data = dst[qk:], data[22:]
	}
}

func decodeQ5_1(dst []float32, data []byte) {
	for len(dst) >= qk && len(data) >= 24 {
		b, y := data[:24:24], dst[:qk:qk]
		d, m := f16At(b), f16At(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		qs := b[8:24]
		for j, q := range qs {
			lo := uint32(q&15) | (qh>>uint(j)&1)<<4
			hi := uint32(q>>4) | (qh>>uint(j+16)&1)<<4
			y[j] = float32(float32(lo)*d) + m
			y[j+16] = float32(float32(hi)*d) + m
		}
		dst, data = dst[qk:], data[24:]
	}
}

func decodeQ8_0(dst []float32, data []byte) {
	for len(dst) >= qk && len(data) >= 34 {
		b, y := data[:34:34], dst[:qk:qk]
		d := f16At(b)
		qs := b[2:34]
		for j, q := range qs {
			y[j] = float32(int8(q)) * d
		}
		dst, data = dst[qk:], data[34:]
	}
}
