//go:build amd64 && !purego

#include "textflag.h"

// Block dequantizers for AVX2/F16C (hand-written; see quant.go for the
// formats). Each block of 32 elements becomes four ymm of float32 stored
// to dst: the integer codes are widened to int32, converted exactly, then
// multiplied by the block's scale d (VMULPS) and, for the _1 types, the
// minimum m is added (VADDPS): the same two roundings as the portable code.

// Constants: 16 bytes of 0x0F, of 8 and of 16; the bit-expansion masks.
DATA qLowNibble<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qLowNibble<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL qLowNibble<>(SB), RODATA|NOPTR, $16

DATA qEight<>+0(SB)/8, $0x0808080808080808
DATA qEight<>+8(SB)/8, $0x0808080808080808
GLOBL qEight<>(SB), RODATA|NOPTR, $16

DATA qSixteen<>+0(SB)/8, $0x1010101010101010
DATA qSixteen<>+8(SB)/8, $0x1010101010101010
DATA qSixteen<>+16(SB)/8, $0x1010101010101010
DATA qSixteen<>+24(SB)/8, $0x1010101010101010
GLOBL qSixteen<>(SB), RODATA|NOPTR, $32

// Byte j of the shuffle picks byte j/8 of the broadcast qh word.
DATA qBitShuf<>+0(SB)/8, $0x0000000000000000
DATA qBitShuf<>+8(SB)/8, $0x0101010101010101
DATA qBitShuf<>+16(SB)/8, $0x0202020202020202
DATA qBitShuf<>+24(SB)/8, $0x0303030303030303
GLOBL qBitShuf<>(SB), RODATA|NOPTR, $32

// Byte j of the mask has every bit set except bit j%8.
DATA qBitMask<>+0(SB)/8, $0x7fbfdfeff7fbfdfe
DATA qBitMask<>+8(SB)/8, $0x7fbfdfeff7fbfdfe
DATA qBitMask<>+16(SB)/8, $0x7fbfdfeff7fbfdfe
DATA qBitMask<>+24(SB)/8, $0x7fbfdfeff7fbfdfe
GLOBL qBitMask<>(SB), RODATA|NOPTR, $32

// NIBBLES splits the 16 bytes at off(SI) into X1 (low nibbles: elements
// 0-15) and X2 (high nibbles: elements 16-31). Needs X15 = 0x0F bytes.
#define NIBBLES(off) \
	VMOVDQU off(SI), X1 \
	VPSRLW  $4, X1, X2 \
	VPAND   X15, X1, X1 \
	VPAND   X15, X2, X2

// HIGHBITS ORs bit j of the u32 at off(SI) into bit 4 of element j's byte in
// X1 (j < 16) and X2 (j >= 16). Needs Y12 = shuffle, Y13 = bit mask,
// Y14 = 0x10 bytes; clobbers Y3, Y4.
#define HIGHBITS(off) \
	VPBROADCASTD off(SI), Y3 \
	VPSHUFB      Y12, Y3, Y3 \
	VPOR         Y13, Y3, Y3 \
	VPCMPEQB     Y4, Y4, Y4 \
	VPCMPEQB     Y4, Y3, Y3 \
	VPAND        Y14, Y3, Y3 \
	VPOR         X3, X1, X1 \
	VEXTRACTI128 $1, Y3, X3 \
	VPOR         X3, X2, X2

// WIDEN converts the 16 bytes of X1 and of X2 (signed with EXT = VPMOVSXBD,
// unsigned with VPMOVZXBD) to float32 in Y4, Y5 (from X1) and Y6, Y7 (X2).
#define WIDEN(EXT) \
	EXT       X1, Y4 \
	VPSRLDQ   $8, X1, X1 \
	EXT       X1, Y5 \
	EXT       X2, Y6 \
	VPSRLDQ   $8, X2, X2 \
	EXT       X2, Y7 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7

// SCALE multiplies Y4-Y7 by Y0 (d).
#define SCALE \
	VMULPS Y0, Y4, Y4 \
	VMULPS Y0, Y5, Y5 \
	VMULPS Y0, Y6, Y6 \
	VMULPS Y0, Y7, Y7

// OFFSET adds Y8 (m) to Y4-Y7.
#define OFFSET \
	VADDPS Y8, Y4, Y4 \
	VADDPS Y8, Y5, Y5 \
	VADDPS Y8, Y6, Y6 \
	VADDPS Y8, Y7, Y7

// STORE writes Y4-Y7 to the block's 32 floats at DI.
#define STORE \
	VMOVUPS Y4, (DI) \
	VMOVUPS Y5, 32(DI) \
	VMOVUPS Y6, 64(DI) \
	VMOVUPS Y7, 96(DI)

// D loads the fp16 at off(SI), converted, into all lanes of Y.
#define DSCALE(off, Y, X) \
	VPBROADCASTW off(SI), X \
	VCVTPH2PS    X, Y

// func dequantQ4_0Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ4_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	VMOVDQU qLowNibble<>(SB), X15
	VMOVDQU qEight<>(SB), X14

q40loop:
	DSCALE(0, Y0, X0)
	NIBBLES(2)
	VPSUBB X14, X1, X1
	VPSUBB X14, X2, X2
	WIDEN(VPMOVSXBD)
	SCALE
	STORE
	ADDQ $18, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  q40loop
	VZEROUPPER
	RET

// func dequantQ4_1Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ4_1Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	VMOVDQU qLowNibble<>(SB), X15

q41loop:
	DSCALE(0, Y0, X0)
	DSCALE(2, Y8, X8)
	NIBBLES(4)
	WIDEN(VPMOVZXBD)
	SCALE
	OFFSET
	STORE
	ADDQ $20, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  q41loop
	VZEROUPPER
	RET

// func dequantQ5_0Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ5_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	VMOVDQU qLowNibble<>(SB), X15
	VMOVDQU qBitShuf<>(SB), Y12
	VMOVDQU qBitMask<>(SB), Y13
	VMOVDQU qSixteen<>(SB), Y14

q50loop:
	DSCALE(0, Y0, X0)
	NIBBLES(6)
	HIGHBITS(2)
	VPSUBB X14, X1, X1
	VPSUBB X14, X2, X2
	WIDEN(VPMOVSXBD)
	SCALE
	STORE
	ADDQ $22, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  q50loop
	VZEROUPPER
	RET

// func dequantQ5_1Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ5_1Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	VMOVDQU qLowNibble<>(SB), X15
	VMOVDQU qBitShuf<>(SB), Y12
	VMOVDQU qBitMask<>(SB), Y13
	VMOVDQU qSixteen<>(SB), Y14

q51loop:
	DSCALE(0, Y0, X0)
	DSCALE(2, Y8, X8)
	NIBBLES(8)
	HIGHBITS(4)
	WIDEN(VPMOVZXBD)
	SCALE
	OFFSET
	STORE
	ADDQ $24, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  q51loop
	VZEROUPPER
	RET

// func dequantQ8_0Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ8_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX

q80loop:
	DSCALE(0, Y0, X0)
	VPMOVSXBD 2(SI), Y4
	VPMOVSXBD 10(SI), Y5
	VPMOVSXBD 18(SI), Y6
	VPMOVSXBD 26(SI), Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	SCALE
	STORE
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  q80loop
	VZEROUPPER
	RET
