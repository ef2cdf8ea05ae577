//go:build amd64 && !purego

package vec

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

var dequantAsm = [numQTypes]func(dst *float32, src *byte, nblk int){
	dequantQ4_0Asm, dequantQ4_1Asm, dequantQ5_0Asm, dequantQ5_1Asm, dequantQ8_0Asm,
}
