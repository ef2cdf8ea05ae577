//go:build amd64 && !purego

package vec

// AVX-512 one-token kernels (gemv512_amd64.s): dst[i] = dot(row i, x) for
// the 4*nquad rows at w (k elements each, k a multiple of 16, nquad >= 1),
// with the results of the AVX2 kernels bitwise.

//go:noescape
func gemv4F32Avx512(dst *float32, w *float32, nquad, k int, x *float32)

//go:noescape
func gemv4F16Avx512(dst *float32, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemv4F16x32Avx512(dst *float32, w *uint16, nquad, k int, x *float32)

// gemv4F16 runs gemv4F16x32Avx512 where k is a multiple of 32,
// gemv4F16Avx512 otherwise.
func gemv4F16(dst *float32, w *uint16, nquad, k int, x *float32) {
	if k%32 == 0 {
		gemv4F16x32Avx512(dst, w, nquad, k, x)
		return
	}
	gemv4F16Avx512(dst, w, nquad, k, x)
}

func init() {
	if hasAVX512 {
		kernF32.g4z = gemv4F32Avx512
		kernF16.g4z = gemv4F16
		kernF32.sparse512 = sparseRows4F32Avx512
		kernF16.sparse512 = sparseRows4F16Avx512
		kernBF16.sparse512 = sparseRows4BF16Avx512
		kernI8.sparse512 = sparseRows4I8Avx512
	}
}

//go:noescape
func wkv7HeadAvx512(s *float32, n int, w, k, v, kk, ka, r, out *float32)

// mapAvx512 applies function f of Map to n (a multiple of 16) elements;
// c is mapConsts.
//
//go:noescape
func mapAvx512(f int, dst, src *float32, n int, c *[32]float32)

// mapAvx2 applies function f of Map to n (a multiple of 8) elements; c is
// mapConsts.
//
//go:noescape
func mapAvx2(f int, dst, src *float32, n int, c *[32]float32)

// AVX-512 one-token sparse kernels (SparseRows), cols a multiple of 32, with
// the results of the AVX2 kernels bitwise.

//go:noescape
func sparseRows4F32Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *float32, ldw int)

//go:noescape
func sparseRows4F16Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *uint16, ldw int)

//go:noescape
func sparseRows4BF16Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *uint16, ldw int)

//go:noescape
func sparseRows4I8Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *int8, ldw int)
