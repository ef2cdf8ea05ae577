package backend

import "github.com/rwkvgo/rwkvgo/internal/blockfmt"

// Block-quantized weights. Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 are ggml's
// 32-element block formats as rwkv.cpp writes them: a row of a [rows, cols]
// matrix is cols/32 consecutive blocks (cols must be a multiple of 32), each
// block little-endian with IEEE fp16 scale d and minimum m:
//
//	Q4_0 18 bytes: d, qs[16]            x[j] = ((qs[j]&15)-8)*d, x[j+16] = ((qs[j]>>4)-8)*d
//	Q4_1 20 bytes: d, m, qs[16]         x = q*d + m (same nibble order)
//	Q5_0 22 bytes: d, qh u32, qs[16]    q = nibble | (bit j, or j+16, of qh) << 4; x = (q-16)*d
//	Q5_1 24 bytes: d, m, qh u32, qs[16] x = q*d + m
//	Q8_0 34 bytes: d, int8 qs[32]       x = q*d
//
// with every product and sum rounded to float32 (q*d first, then + m), which
// is how package weights dequantizes them.
//
// I8 is int8 with one float32 scale per row (internal/blockfmt): a [rows,
// cols] array is encoded as the rows*cols int8 codes row-major followed by
// the rows scales (float32 little-endian), and element (r, c) is
// float32(q[r][c]) * scale[r]. No file stores it: engine.Options.Quantize
// produces it at load from F32, F16 and BF16 matrices (symmetric, scale =
// max|row|/127). The scale belongs to the stored row: per output channel
// for MatMul's w [O, I], per input channel for MatMulT's wt [I, O]. Its
// row of codes is contiguous, so a matrix-vector product streams it.
//
// F8E4M3 is I8 with OCP FP8 E4M3 codes (blockfmt.DecodeE4M3) and scale =
// max|row|/448 (engine.QuantizeFP8); the CUDA backend has it on devices of
// compute capability 8.9 and later (and in the emulated library).

// BlockSize returns the number of elements of one block: 32 for the
// quantized types, 1 for the others.
func (d DType) BlockSize() int { return blockfmt.BlockSize(uint8(d)) }

// BlockBytes returns the encoded size of one block (of one element for the
// plain types); 0 for an unknown type.
func (d DType) BlockBytes() int { return blockfmt.BlockBytes(uint8(d)) }

// Quantized reports whether d is one of the block-quantized types (not I8).
func (d DType) Quantized() bool { return blockfmt.Quantized(uint8(d)) }

// RowBytes returns the encoded size of a row of cols elements (I8, F8E4M3:
// cols codes and a 4-byte scale), or -1 when cols is not positive, not a whole
// number of blocks, or d is unknown. A [rows, cols] array takes rows *
// RowBytes(cols) bytes.
func (d DType) RowBytes(cols int) int { return blockfmt.RowBytes(uint8(d), cols) }

// DTypeSupporter is implemented by backends that can tell which weight
// types Upload accepts. A backend that does not implement it accepts F32,
// F16 and BF16 only (see Supports).
type DTypeSupporter interface {
	Supports(dt DType) bool
}

// Supports reports whether be stores weights of type dt (Upload and, for a
// Borrower, Borrow accept it and MatMul reads it).
func Supports(be Backend, dt DType) bool {
	if s, ok := be.(DTypeSupporter); ok {
		return s.Supports(dt)
	}
	return dt == F32 || dt == F16 || dt == BF16
}

// Borrower is implemented by backends whose tensors live in host memory and
// that can use the caller's bytes in place instead of copying them (the
// pure-Go backend reading weights from a memory-mapped file).
type Borrower interface {
	// Borrow returns a read-only [rows, cols] tensor of type dt over data
	// without copying it, or ok false (nothing recorded) when it cannot use
	// data in place (an alignment the type needs, a type it does not
	// borrow): the caller then uses Upload. data must stay valid and
	// unchanged until the tensor is freed. A borrowed tensor is only read:
	// it may be a weight operand, never an output or a state.
	Borrow(dt DType, rows, cols int, data []byte) (t Tensor, ok bool)
}
