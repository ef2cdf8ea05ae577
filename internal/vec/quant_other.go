//go:build !amd64 || purego

package vec

// dequantAsm is never called without the assembly kernels.
var (
	dequantAsm  [numQTypes]func(dst *float32, src *byte, nblk int)
	gemvAsm     [numQTypes]func(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)
	gemv4Avx512 [numQTypes]func(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)
	// gemm4x4Avx512 is never called without the assembly kernels.
	gemm4x4Avx512 [numQTypes]func(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)
)

const hasAVX512 = false

// gemv4I8Avx512 is never called without the assembly kernels.
func gemv4I8Avx512(dst *float32, w *int8, nquad, k int, x *float32) {}

// wkv7HeadAvx512 is never called without the assembly kernels.
func wkv7HeadAvx512(s *float32, n int, w, k, v, kk, ka, r, out *float32) {
	panic("vec: no AVX-512 kernels")
}

// mapAvx512 is never called without the assembly kernels.
func mapAvx512(f int, dst, src *float32, n int, c *[32]float32) { panic("vec: no AVX-512 kernels") }

// mapAvx2 is never called without the assembly kernels.
func mapAvx2(f int, dst, src *float32, n int, c *[32]float32) { panic("vec: no AVX2 kernels") }
