//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// Block dequantizers (quant_amd64.s): dst[0 : 32*nblk] = the nblk blocks at
// src, decoded exactly as the portable decoders do; nblk >= 1.

//go:noescape
func dequantQ4_0Asm(dst *float32, src *byte, nblk int)

//go:noescape
func dequantQ4_1Asm(dst *float32, src *byte, nblk int)

//go:noescape
func dequantQ5_0Asm(dst *float32, src *byte, nblk int)

//go:noescape
func dequantQ5_1Asm(dst *float32, src *byte, nblk int)

//go:noescape
func dequantQ8_0Asm(dst *float32, src *byte, nblk int)

// Matrix-vector kernels: dst[i] = dot(row i, x) for the 2*npair rows at w
// (rowBytes apart, nblk blocks each), decoded in registers and accumulated
// as the Gemm kernels do; npair >= 1, nblk >= 1.

//go:noescape
func gemvQ4_0Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)

//go:noescape
func gemvQ4_1Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)

//go:noescape
func gemvQ5_0Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)

//go:noescape
func gemvQ5_1Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)

//go:noescape
func gemvQ8_0Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)

var gemvAsm = [numQTypes]func(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32){
	gemvQ4_0Asm, gemvQ4_1Asm, gemvQ5_0Asm, gemvQ5_1Asm, gemvQ8_0Asm,
}

// AVX-512 matrix-vector kernels, four rows at a time (see quant_amd64.s):
// the same results as the AVX2 ones.

//go:noescape
func gemv4Q4_0Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemv4Q4_1Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemv4Q5_0Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemv4Q5_1Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemv4Q8_0Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)

// hasAVX512 reports whether the CPU (and OS) support the AVX-512 kernels.
var hasAVX512 = hasAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

var gemv4Avx512 = [numQTypes]func(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32){
	gemv4Q4_0Avx512, gemv4Q4_1Avx512, gemv4Q5_0Avx512, gemv4Q5_1Avx512, gemv4Q8_0Avx512,
}

var dequantAsm = [numQTypes]func(dst *float32, src *byte, nblk int){
	dequantQ4_0Asm, dequantQ4_1Asm, dequantQ5_0Asm, dequantQ5_1Asm, dequantQ8_0Asm,
}

// gemv4I8Avx512 computes dst[i] = dot(row i, x) for the 4*nquad rows of k
// int8 codes at w (k apart, k >= 1, nquad >= 1) with AVX-512: the same
// results as gemm1x1I8 (see quant_amd64.s).
//
//go:noescape
func gemv4I8Avx512(dst *float32, w *int8, nquad, k int, x *float32)

// AVX-512 products of four rows x four tokens (see quant_amd64.s):
// dst[t*ldd + i] = dot(row i, x row t) for the 4*nquad rows at w and 4
// tokens, the same results as the one-token kernels.

//go:noescape
func gemm4x4Q4_0Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemm4x4Q4_1Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemm4x4Q5_0Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemm4x4Q5_1Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)

//go:noescape
func gemm4x4Q8_0Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)

var gemm4x4Avx512 = [numQTypes]func(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32){
	gemm4x4Q4_0Avx512, gemm4x4Q4_1Avx512, gemm4x4Q5_0Avx512, gemm4x4Q5_1Avx512, gemm4x4Q8_0Avx512,
}
