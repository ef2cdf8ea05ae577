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

var dequantAsm = [numQTypes]func(dst *float32, src *byte, nblk int){
	dequantQ4_0Asm, dequantQ4_1Asm, dequantQ5_0Asm, dequantQ5_1Asm, dequantQ8_0Asm,
}
