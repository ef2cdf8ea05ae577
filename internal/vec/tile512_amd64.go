//go:build amd64 && !purego

package vec

// AVX-512 tiles for several tokens (kernels_amd64.s, see asm_gen.go):
// gemm4x<nt><E>Avx512 computes 4 rows x nt tokens per quad of rows, over
// nquad >= 1 quads of consecutive rows (k elements each, k a positive
// multiple of 16), with dst[t*ldd + r] for token t and row r of the call;
// every output equals the one-token kernels' bitwise.

//go:noescape
func gemm4x1F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32)

//go:noescape
func gemm4x2F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32)

//go:noescape
func gemm4x3F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32)

//go:noescape
func gemm4x4F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32)

//go:noescape
func gemm4x5F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32)

//go:noescape
func gemm4x6F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32)

//go:noescape
func gemm4x1F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x2F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x3F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x4F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x5F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x6F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x1BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x2BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x3BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x4BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x5BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x6BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32)

//go:noescape
func gemm4x1I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32)

//go:noescape
func gemm4x2I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32)

//go:noescape
func gemm4x3I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32)

//go:noescape
func gemm4x4I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32)

//go:noescape
func gemm4x5I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32)

//go:noescape
func gemm4x6I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32)

func init() {
	if !hasAVX512 {
		return
	}
	kernF32.tile = [maxTile512]tileKernel[float32]{gemm4x1F32Avx512, gemm4x2F32Avx512, gemm4x3F32Avx512, gemm4x4F32Avx512, gemm4x5F32Avx512, gemm4x6F32Avx512}
	kernF16.tile = [maxTile512]tileKernel[uint16]{gemm4x1F16Avx512, gemm4x2F16Avx512, gemm4x3F16Avx512, gemm4x4F16Avx512, gemm4x5F16Avx512, gemm4x6F16Avx512}
	kernBF16.tile = [maxTile512]tileKernel[uint16]{gemm4x1BF16Avx512, gemm4x2BF16Avx512, gemm4x3BF16Avx512, gemm4x4BF16Avx512, gemm4x5BF16Avx512, gemm4x6BF16Avx512}
	kernI8.tile = [maxTile512]tileKernel[int8]{gemm4x1I8Avx512, gemm4x2I8Avx512, gemm4x3I8Avx512, gemm4x4I8Avx512, gemm4x5I8Avx512, gemm4x6I8Avx512}
}
