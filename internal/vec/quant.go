package vec

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/rwkvgo/rwkvgo/internal/half"
)

// QType is one of ggml's 32-element block-quantized weight formats, as
// rwkv.cpp stores them (little-endian; d and m are IEEE fp16):
//
//	Q4_0 18 bytes: d, qs[16]            x[j] = ((qs[j]&15)-8)*d, x[j+16] = ((qs[j]>>4)-8)*d
//	Q4_1 20 bytes: d, m, qs[16]         x = q*d + m (same nibble order)
//	Q5_0 22 bytes: d, qh u32, qs[16]    q = nibble | (bit j, or j+16, of qh) << 4; x = (q-16)*d
//	Q5_1 24 bytes: d, m, qh u32, qs[16] x = q*d + m
//	Q8_0 34 bytes: d, int8 qs[32]       x = q*d
//
// Dequantization rounds like package weights: float32(q)*d, then + m, each
// rounded to float32 (no fused multiply-add).
type QType uint8

// Block formats.
const (
	Q4_0 QType = iota
	Q4_1
	Q5_0
	Q5_1
	Q8_0
	numQTypes
)

// QBlock is the number of elements of a block.
const QBlock = 32

var qBlockBytes = [numQTypes]int{18, 20, 22, 24, 34}

// BlockBytes returns the encoded size of one block of q.
func (q QType) BlockBytes() int {
	if q >= numQTypes {
		return 0
	}
	return qBlockBytes[q]
}

func (q QType) String() string {
	if q >= numQTypes {
		return fmt.Sprintf("QType(%d)", uint8(q))
	}
	return [...]string{"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"}[q]
}

// Dequantize decodes len(dst) elements (a multiple of 32) of type q from src,
// which must hold at least len(dst)/32 blocks. The assembly and portable
// decoders give the same bits.
func Dequantize(q QType, dst []float32, src []byte) {
	bb := q.BlockBytes()
	if bb == 0 {
		panic(fmt.Sprintf("vec: unknown block type %d", uint8(q)))
	}
	if len(dst)%QBlock != 0 {
		panic(fmt.Sprintf("vec: %d elements is not a whole number of blocks", len(dst)))
	}
	nblk := len(dst) / QBlock
	if len(src) < nblk*bb {
		panic(fmt.Sprintf("vec: %d bytes hold fewer than %d %s blocks", len(src), nblk, q))
	}
	if nblk == 0 {
		return
	}
	if useAsm {
		dequantAsm[q](&dst[0], &src[0], nblk)
		return
	}
	dequantGeneric[q](dst, src[:nblk*bb])
}

// Tiles of dequantized weights: with one token, about qTileOne floats (in
// L1) are decoded and multiplied before the next tile; with several, a tile
// of chunkRows rows (in L2) is multiplied with every token. From
// qSmallBatch tokens on, that is the float32 block of the 16-bit products
// (decodeBlocks) for every row length, and it runs at the float32 tiles'
// speed: on an Intel Xeon with AVX-512 (BenchmarkGemmQBatch, 128 tokens, CPU
// time, medians of 5) Q8_0 took 12.1, 51 and 82 ms at 2048 x 2048,
// 8192 x 2048 and 2048 x 8192 against 13.1, 58 and 79 ms for GemmF32 on the
// weights dequantized beforehand, the dequantization 6-10% of the time.
const qTileOne = 8 << 10

// qSmallBatch is the number of tokens from which the block-quantized
// products dequantize blocks of rows into a buffer for the float32 tiles
// rather than decoding blocks in registers for four tokens at a time, and
// qChunkBytes the encoded bytes of a block of rows of the latter.
//
// From qSmallBatch tokens on, the buffer is also faster than AVX-512 tiles
// that dequantize Q8_0 blocks in registers: the multiply by the block's d
// runs on the two FMA pipes, once per 16 weights per tile, and measured on
// Zen 5 (BenchmarkGemmQBatch, CPU time per 128-token product) a 4-row x
// 6-token tile took 6.35-6.69 ms against 5.93-6.15 ms through the buffer
// (5.42-5.51 ms without the multiply), and a 2-row x 12-token tile, with
// half the multiplies but twice the loads of x, 6.24-7.00 ms.
const (
	qSmallBatch = 8
	qChunkBytes = 64 << 10
)

// useAVX512 selects the AVX-512 one-token kernels where the CPU has them
// (tests turn it off to run the AVX2 ones).
var useAVX512 = hasAVX512

// qFused selects the fused one-token kernels (benchmarks compare both).
var qFused = true

// qScratch holds per-call tiles; a pointer is pooled so that Get and Put
// allocate nothing in steady state.
var qScratch = sync.Pool{New: func() any { return new([]float32) }}

// GemmQ is GemmF32 with w a row-major [rows, k] matrix of type q blocks (k a
// multiple of 32; a row is k/32 consecutive blocks): it computes
// dst[t*ldd + r] = dot(dequantized row r, x row t) for r < rows, t < n.
// With one token the assembly kernels decode the blocks in registers and
// feed them to the FMA chains directly (the weights stream from memory once,
// in their compact form); with a small batch (fewer than qSmallBatch tokens)
// and AVX-512, a decoded block feeds the chains of four tokens; with more,
// rows are dequantized tile by tile into a cache-resident buffer that the
// GemmF32 kernels multiply with every token (with long rows and many tokens,
// a block of rows one range of elements at a time, see kblocked). Either way the weights are
// dequantized exactly (see QType) and the results equal GemmF32 on the
// dequantized matrix bitwise, with the same numerical contract. It panics if
// a slice is too short.
func GemmQ(q QType, dst []float32, ldd int, w []byte, rows, k int, x []float32, n int) {
	bb := q.BlockBytes()
	if bb == 0 {
		panic(fmt.Sprintf("vec: unknown block type %d", uint8(q)))
	}
	if k%QBlock != 0 {
		panic(fmt.Sprintf("vec: k %d is not a whole number of blocks", k))
	}
	rb := k / QBlock * bb
	if rows >= 0 && len(w) < rows*rb {
		panic(fmt.Sprintf("vec: %d bytes hold fewer than %d rows of %d %s blocks", len(w), rows, k/QBlock, q))
	}
	if !checkGemm(len(dst), ldd, rows*k, rows, k, len(x), n) {
		return
	}
	if k == 0 {
		clearOut(dst, ldd, rows, n)
		return
	}
	if n == 1 && useAsm && qFused {
		// One token: rows are decoded in registers and fed to the FMA
		// chains directly, four rows at a time with AVX-512, two with
		// AVX2; all give the same bits.
		if useAVX512 && rows >= 4 {
			r4 := rows &^ 3
			gemv4Avx512[q](&dst[0], &w[0], r4/4, rb, k/QBlock, &x[0])
			dst, w, rows = dst[r4:], w[r4*rb:], rows-r4
		}
		if rows >= 2 {
			r2 := rows &^ 1
			gemvAsm[q](&dst[0], &w[0], r2/2, rb, k/QBlock, &x[0])
			dst, w, rows = dst[r2:], w[r2*rb:], rows-r2
		}
		if rows == 0 {
			return
		}
	}
	if n > 1 && n < qSmallBatch && useAsm && useAVX512 && qFused && rows >= 4 {
		// A small batch: each block is decoded in registers once per four
		// tokens (AVX-512, four rows x four tokens), the tokens left over
		// one at a time; blocks of rows stay in L2 while the tokens pass.
		// All give the one-token kernels' bits.
		r4 := rows &^ 3
		chunk := max(qChunkBytes/rb&^3, 4)
		for r0 := 0; r0 < r4; r0 += chunk {
			nr := min(chunk, r4-r0)
			t := 0
			for ; t+4 <= n; t += 4 {
				gemm4x4Avx512[q](&dst[t*ldd+r0], ldd, &w[r0*rb], nr/4, rb, k/QBlock, &x[t*k])
			}
			for ; t < n; t++ {
				gemv4Avx512[q](&dst[t*ldd+r0], &w[r0*rb], nr/4, rb, k/QBlock, &x[t*k])
			}
		}
		if r4 == rows {
			return
		}
		dst, w, rows = dst[r4:], w[r4*rb:], rows-r4
	}
	if kb := kBlock(k, n); n > 1 && useAsm && useAVX512 && kernF32.tile[0] != nil && kb < k && kb%QBlock == 0 && rows >= 4 {
		// Long rows: the float32 tiles' k-blocked product, each block
		// of rows dequantized one range of elements at a time.
		r4 := rows &^ 3
		sp := qScratch.Get().(*[]float32)
		kblocked(&kernF32.tile, dst, ldd, r4, k, x, n, kb, func(r0, rc, k0, kw int) ([]float32, int) {
			buf := growBuf(sp, rc*kw)
			for i := range rc {
				Dequantize(q, buf[i*kw:(i+1)*kw], w[(r0+i)*rb+k0/QBlock*bb:])
			}
			return buf, kw
		})
		qScratch.Put(sp)
		if r4 == rows {
			return
		}
		dst, w, rows = dst[r4:], w[r4*rb:], rows-r4
	}
	tile := max(qTileOne/k&^3, 4)
	if n > 1 {
		// The block of rows that GemmF32 multiplies with all tokens.
		tile = chunkRows(4 * k)
		if useAsm && useAVX512 && kernF32.tile[0] != nil && k%16 == 0 {
			tile = tileChunkRows(4 * k)
		}
	}
	tile = min(tile, rows)
	sp := qScratch.Get().(*[]float32)
	if cap(*sp) < tile*k {
		*sp = make([]float32, tile*k)
	}
	buf := (*sp)[:tile*k]
	for r := 0; r < rows; r += tile {
		tr := min(tile, rows-r)
		Dequantize(q, buf[:tr*k], w[r*rb:(r+tr)*rb])
		GemmF32(dst[r:], ldd, buf[:tr*k], tr, k, x, n)
	}
	qScratch.Put(sp)
}

// The portable decoders (the same arithmetic as package weights).

var dequantGeneric = [numQTypes]func(dst []float32, src []byte){
	dequantQ4_0, dequantQ4_1, dequantQ5_0, dequantQ5_1, dequantQ8_0,
}

func f16At(b []byte) float32 { return half.F16ToF32(binary.LittleEndian.Uint16(b)) }

func dequantQ4_0(dst []float32, data []byte) {
	for len(dst) >= QBlock && len(data) >= 18 {
		b, y := data[:18:18], dst[:QBlock:QBlock]
		d := f16At(b)
		for j, q := range b[2:18] {
			y[j] = float32(int32(q&15)-8) * d
			y[j+16] = float32(int32(q>>4)-8) * d
		}
		dst, data = dst[QBlock:], data[18:]
	}
}

func dequantQ4_1(dst []float32, data []byte) {
	for len(dst) >= QBlock && len(data) >= 20 {
		b, y := data[:20:20], dst[:QBlock:QBlock]
		d, m := f16At(b), f16At(b[2:])
		for j, q := range b[4:20] {
			y[j] = float32(float32(q&15)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
		dst, data = dst[QBlock:], data[20:]
	}
}

func dequantQ5_0(dst []float32, data []byte) {
	for len(dst) >= QBlock && len(data) >= 22 {
		b, y := data[:22:22], dst[:QBlock:QBlock]
		d := f16At(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		for j, q := range b[6:22] {
			lo := int32(q&15) | int32(qh>>uint(j)&1)<<4
			hi := int32(q>>4) | int32(qh>>uint(j+16)&1)<<4
			y[j] = float32(lo-16) * d
			y[j+16] = float32(hi-16) * d
		}
		dst, data = dst[QBlock:], data[22:]
	}
}

func dequantQ5_1(dst []float32, data []byte) {
	for len(dst) >= QBlock && len(data) >= 24 {
		b, y := data[:24:24], dst[:QBlock:QBlock]
		d, m := f16At(b), f16At(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		for j, q := range b[8:24] {
			lo := uint32(q&15) | (qh>>uint(j)&1)<<4
			hi := uint32(q>>4) | (qh>>uint(j+16)&1)<<4
			y[j] = float32(float32(lo)*d) + m
			y[j+16] = float32(float32(hi)*d) + m
		}
		dst, data = dst[QBlock:], data[24:]
	}
}

func dequantQ8_0(dst []float32, data []byte) {
	for len(dst) >= QBlock && len(data) >= 34 {
		b, y := data[:34:34], dst[:QBlock:QBlock]
		d := f16At(b)
		for j, q := range b[2:34] {
			y[j] = float32(int8(q)) * d
		}
		dst, data = dst[QBlock:], data[34:]
	}
}
