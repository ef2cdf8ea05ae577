// Package blockfmt describes the element encodings that files (package
// weights) and backends (package engine/backend) share: F32, F16, BF16 and
// ggml's 32-element block-quantized formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// numbered in that order by both weights.DType and backend.DType.
package blockfmt

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
	count
)

// blockBytes is the encoded size of one block (of one element for the
// plain types), by code.
var blockBytes = [count]int{F32: 4, F16: 2, BF16: 2, Q4_0: 18, Q4_1: 20, Q5_0: 22, Q5_1: 24, Q8_0: 34}

// Quantized reports whether code is a block-quantized encoding.
func Quantized(code uint8) bool { return code >= Q4_0 && code < count }

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
