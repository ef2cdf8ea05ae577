package vec

import "fmt"

// I8 weights: int8 codes with one float32 scale per weight row (the I8
// encoding of internal/blockfmt). The kernels multiply the codes, converted
// exactly to float32, with the token values under the same accumulation
// contract as the float weights (package doc), in assembly where the float
// kernels are (AVX2; one-token products on AVX-512 CPUs use a four-row zmm
// kernel that gives the same bits). The integers are exact in float32, so a
// product of codes equals GemmF32 on the codes converted to float32, and
// the row scale is applied once per output.

// GemmI8 computes dst[t*ldd + r] = scales[r] * dot(w[r*k:(r+1)*k], x[t*k:(t+1)*k])
// for r < rows and t < n, with w the row-major [rows, k] int8 codes of an I8
// matrix and scales its row scales: the dot product of the codes (converted
// exactly) and the token is computed as GemmF32 computes it on the converted
// codes, bitwise, then multiplied by the scale with one rounding. Shapes and
// panics are GemmF32's; len(scales) must be at least rows.
func GemmI8(dst []float32, ldd int, w []int8, scales []float32, rows, k int, x []float32, n int) {
	if rows > 0 && len(scales) < rows {
		panic(fmt.Sprintf("vec: %d scales for %d rows", len(scales), rows))
	}
	if !checkGemm(len(dst), ldd, len(w), rows, k, len(x), n) {
		return
	}
	if k == 0 {
		clearOut(dst, ldd, rows, n)
		return
	}
	switch {
	case !useAsm:
		gemmGenericI8(dst, ldd, w, rows, k, x, n)
	case n == 1 && useAVX512 && rows >= 4:
		r4 := rows &^ 3
		gemv4I8Avx512(&dst[0], &w[0], r4/4, k, &x[0])
		if r4 < rows {
			kernI8.g1x1(&dst[r4], &w[r4*k], rows-r4, k, &x[0])
		}
	default:
		gemmAsm(&kernI8, dst, ldd, w, rows, k, x, n, 1)
	}
	for t := range n {
		d := dst[t*ldd : t*ldd+rows]
		for r, s := range scales[:rows] {
			d[r] *= s
		}
	}
}

// GemmTI8 is GemmTF32 with wt given as int8 codes converted exactly: the
// results equal GemmTF32 on the converted codes bitwise. The scales of an
// I8 matrix stored transposed belong to its rows, the inputs: the caller
// multiplies each x entry by its row's scale first (keeping zero entries
// zero, so that they still contribute nothing).
func GemmTI8(dst []float32, ldd int, x []float32, ldx, n, k int, wt []int8, ldw, cols int) {
	gemmT(&kernI8, 1, axpyGenericI8, dst, ldd, x, ldx, n, k, wt, ldw, cols)
}

// SparseRowsI8 is SparseRowsF32 with wt given as int8 codes converted
// exactly (the caller folds the row scales into vals, see GemmTI8); the
// results equal SparseRowsF32 on the converted codes bitwise.
func SparseRowsI8(dst []float32, idx []int32, vals []float32, wt []int8, ldw int) {
	if !checkSparse(len(dst), idx, len(vals), len(wt), ldw) {
		clear(dst)
		return
	}
	if useAsm {
		sparseAsm(&kernI8, dst, idx, vals, wt, ldw)
		return
	}
	sparseGeneric(dst, idx, vals, wt, ldw, axpyGenericI8)
}

// axpyGenericI8 is axpyGenericF32 with x as int8 codes.
func axpyGenericI8(dst []float32, a float32, x []int8) {
	for i, v := range x[:len(dst)] {
		dst[i] += float32(a * float32(v))
	}
}

// dotI8Generic is dotGeneric for int8 codes.
func dotI8Generic(w []int8, x []float32) float32 {
	x = x[:len(w)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += float32(float32(w[i]) * x[i])
		s1 += float32(float32(w[i+1]) * x[i+1])
		s2 += float32(float32(w[i+2]) * x[i+2])
		s3 += float32(float32(w[i+3]) * x[i+3])
	}
	if i < len(w) {
		s0 += float32(float32(w[i]) * x[i])
	}
	if i+1 < len(w) {
		s1 += float32(float32(w[i+1]) * x[i+1])
	}
	if i+2 < len(w) {
		s2 += float32(float32(w[i+2]) * x[i+2])
	}
	return (s0 + s1) + (s2 + s3)
}

// gemmGenericI8 is the portable product of int8 codes: the operations of
// gemmGenericF32 on the converted codes, decoding on the fly.
func gemmGenericI8(dst []float32, ldd int, w []int8, rows, k int, x []float32, n int) {
	chunk := chunkRows(k)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		for t := range n {
			xt := x[t*k : (t+1)*k]
			d := dst[t*ldd : t*ldd+rows]
			for r := r0; r < r1; r++ {
				d[r] = dotI8Generic(w[r*k:(r+1)*k], xt)
			}
		}
	}
}
