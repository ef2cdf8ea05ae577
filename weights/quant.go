package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
	"github.com/rwkvgo/rwkvgo/internal/half"
)

// This file converts between float32 and the element encodings of DType:
// plain F32/F16/BF16 and ggml's 32-element block formats. Block layouts
// (little-endian, d and m are IEEE fp16):
//
//	Q4_0 18 bytes: d, qs[16]            x[j] = ((qs[j]&15)-8)*d, x[j+16] = ((qs[j]>>4)-8)*d
//	Q4_1 20 bytes: d, m, qs[16]         x = q*d + m (same nibble order)
//	Q5_0 22 bytes: d, qh u32, qs[16]    q = nibble | bit j (or j+16) of qh << 4; x = (q-16)*d
//	Q5_1 24 bytes: d, m, qh u32, qs[16] x = q*d + m
//	Q8_0 34 bytes: d, int8 qs[32]       x = q*d
//
// Encode uses the same choice of scale and rounding as ggml's reference
// quantizers (quantize_row_*_reference), which rwkv.cpp uses to write model
// files, so re-quantizing a float32 model reproduces rwkv.cpp's bytes.

const qk = 32 // elements per quantized block

// DecodeFloat32 decodes len(dst) elements of type dt from data into dst.
// data must hold exactly the encoding of len(dst) elements (for block types
// len(dst) must be a whole number of blocks).
func DecodeFloat32(dst []float32, dt DType, data []byte) error {
	bb := dt.BlockBytes()
	if bb == 0 {
		return fmt.Errorf("weights: cannot decode unknown dtype %d", uint8(dt))
	}
	bs := dt.BlockSize()
	if len(dst)%bs != 0 {
		return fmt.Errorf("weights: %d elements is not a whole number of %s blocks of %d", len(dst), dt, bs)
	}
	if need := len(dst) / bs * bb; len(data) != need {
		return fmt.Errorf("weights: %d %s elements take %d bytes, got %d", len(dst), dt, need, len(data))
	}
	switch dt {
	case F32:
		decodeF32(dst, data)
	case F16:
		decodeF16(dst, data)
	case BF16:
		decodeBF16(dst, data)
	case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0:
		blockfmt.DecodeBlocks(uint8(dt), dst, data)
	}
	return nil
}

// Float32 decodes the tensor into a newly allocated slice of Len() values.
func (t *Tensor) Float32() ([]float32, error) {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("weights: tensor %q: negative dimension in shape %s", t.Name, t.ShapeString())
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return nil, fmt.Errorf("weights: tensor %q: shape %s overflows", t.Name, t.ShapeString())
		}
		n = int(lo)
	}
	// Check the size before allocating so a bogus shape cannot force a huge allocation.
	bb, bs := t.DType.BlockBytes(), t.DType.BlockSize()
	if bb == 0 {
		return nil, fmt.Errorf("weights: tensor %q: unknown dtype %d", t.Name, uint8(t.DType))
	}
	if n%bs != 0 || uint64(n/bs)*uint64(bb) != uint64(len(t.Data)) {
		return nil, fmt.Errorf("weights: tensor %q: %s %s does not match its %d data bytes", t.Name, t.DType, t.ShapeString(), len(t.Data))
	}
	dst := make([]float32, n)
	if err := DecodeFloat32(dst, t.DType, t.Data); err != nil {
		return nil, fmt.Errorf("weights: tensor %q: %w", t.Name, err)
	}
	return dst, nil
}

func decodeF32(dst []float32, data []byte) {
	data = data[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
}

// decodeF16 converts in chunks through a stack buffer so the table-driven
// half.DecodeF16 can be used without unaligned reinterpretation of data.
func decodeF16(dst []float32, data []byte) {
	var buf [512]uint16
	for len(dst) > 0 {
		n := min(len(dst), len(buf))
		src := data[:2*n]
		for i := range n {
			buf[i] = binary.LittleEndian.Uint16(src[2*i:])
		}
		half.DecodeF16(dst[:n], buf[:n])
		dst, data = dst[n:], data[2*n:]
	}
}

func decodeBF16(dst []float32, data []byte) {
	data = data[:2*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(data[2*i:])) << 16)
	}
}

// Encode encodes src as dt: F32 exactly, F16 and BF16 rounded to nearest
// even, and the block types with ggml's reference quantizers. len(src) must
// be a whole number of blocks. Quantized types reject NaN and infinite
// values, which have no meaningful block encoding.
func Encode(dt DType, src []float32) ([]byte, error) {
	size, err := dt.ByteSize(len(src))
	if err != nil {
		return nil, err
	}
	if dt.Quantized() {
		for i, v := range src {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("weights: cannot quantize non-finite value %v at element %d to %s", v, i, dt)
			}
		}
	}
	out := make([]byte, size)
	le := binary.LittleEndian
	switch dt {
	case F32:
		for i, v := range src {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			le.PutUint16(out[2*i:], half.F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			le.PutUint16(out[2*i:], half.F32ToBF16(v))
		}
	default:
		bb := dt.BlockBytes()
		for i := 0; i < len(src)/qk; i++ {
			x, b := src[i*qk:(i+1)*qk], out[i*bb:(i+1)*bb]
			switch dt {
			case Q4_0:
				quantizeQ4_0(b, x)
			case Q4_1:
				quantizeQ4_1(b, x)
			case Q5_0:
				quantizeQ5_0(b, x)
			case Q5_1:
				quantizeQ5_1(b, x)
			case Q8_0:
				quantizeQ8_0(b, x)
			}
		}
	}
	return out, nil
}

// The quantizers below compute in float32 exactly as ggml's reference C code
// does; explicit float32 conversions keep products from being fused into
// multiply-adds, which would change rounding.

// truncQ converts like C's integer conversion of a float (truncation toward
// zero) and clamps the result to [0, hi]. For the values the quantizers
// produce from finite input the clamp only applies ggml's own MIN(hi, q).
func truncQ(v float32, hi int32) uint32 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= float32(hi) {
		return uint32(hi)
	}
	return uint32(int32(v))
}

// absMax returns the element of largest magnitude (the first one on ties),
// keeping its sign, as ggml's Q4_0/Q5_0 quantizers choose it.
func absMax(x []float32) float32 {
	var amax, m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); amax < a {
			amax, m = a, v
		}
	}
	return m
}

// minMax returns the smallest and largest element.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

func quantizeQ4_0(b []byte, x []float32) {
	d := absMax(x) / -8
	id := inv(d)
	binary.LittleEndian.PutUint16(b, half.F32ToF16(d))
	qs := b[2:18]
	for j := range qs {
		x0 := float32(x[j] * id)
		x1 := float32(x[j+16] * id)
		qs[j] = byte(truncQ(x0+8.5, 15) | truncQ(x1+8.5, 15)<<4)
	}
}

func quantizeQ4_1(b []byte, x []float32) {
	lo, hi := minMax(x)
	d := (hi - lo) / 15
	id := inv(d)
	binary.LittleEndian.PutUint16(b, half.F32ToF16(d))
	binary.LittleEndian.PutUint16(b[2:], half.F32ToF16(lo))
	qs := b[4:20]
	for j := range qs {
		x0 := float32((x[j] - lo) * id)
		x1 := float32((x[j+16] - lo) * id)
		qs[j] = byte(truncQ(x0+0.5, 15) | truncQ(x1+0.5, 15)<<4)
	}
}

func quantizeQ5_0(b []byte, x []float32) {
	d := absMax(x) / -16
	id := inv(d)
	binary.LittleEndian.PutUint16(b, half.F32ToF16(d))
	var qh uint32
	qs := b[6:22]
	for j := range qs {
		x0 := float32(x[j] * id)
		x1 := float32(x[j+16] * id)
		q0, q1 := truncQ(x0+16.5, 31), truncQ(x1+16.5, 31)
		qs[j] = byte(q0&15 | (q1&15)<<4)
		qh |= (q0 >> 4) << uint(j)
		qh |= (q1 >> 4) << uint(j+16)
	}
	binary.LittleEndian.PutUint32(b[2:], qh)
}

func quantizeQ5_1(b []byte, x []float32) {
	lo, hi := minMax(x)
	d := (hi - lo) / 31
	id := inv(d)
	binary.LittleEndian.PutUint16(b, half.F32ToF16(d))
	binary.LittleEndian.PutUint16(b[2:], half.F32ToF16(lo))
	var qh uint32
	qs := b[8:24]
	for j := range qs {
		x0 := float32((x[j] - lo) * id)
		x1 := float32((x[j+16] - lo) * id)
		q0, q1 := truncQ(x0+0.5, 31), truncQ(x1+0.5, 31)
		qs[j] = byte(q0&15 | (q1&15)<<4)
		qh |= (q0 >> 4) << uint(j)
		qh |= (q1 >> 4) << uint(j+16)
	}
	binary.LittleEndian.PutUint32(b[4:], qh)
}

func quantizeQ8_0(b []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	id := inv(d)
	binary.LittleEndian.PutUint16(b, half.F32ToF16(d))
	qs := b[2:34]
	for j := range qs {
		// C's roundf: half away from zero; float32 -> float64 is exact.
		q := math.Round(float64(float32(x[j] * id)))
		q = max(-128, min(127, q))
		qs[j] = byte(int8(q))
	}
}
