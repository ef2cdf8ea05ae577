//go:build amd64 && !purego

#include "textflag.h"

// Block-quantized kernels for AVX2/FMA/F16C (hand-written; see quant.go for
// the formats). A block of 32 elements is decoded into four ymm of float32
// (Y4-Y7: elements 0-7, 8-15, 16-23, 24-31): the integer codes are widened
// to int32, converted exactly, multiplied by the block's scale d (VMULPS)
// and, for the _1 types, the minimum m is added (VADDPS): the same two
// roundings as the portable decoder. The dequantizers store them; the
// matrix-vector kernels feed them straight to the FMA chains of the dot
// product contract (package doc): lanes 0-7 and 8-15 of the 16-lane
// accumulator are two ymm registers, element i goes to lane i%16 in
// increasing i, and the final reduction is the Gemm kernels' one, so the
// results equal GemmF32 on the dequantized matrix bitwise.
//
// Registers of the decoders: Y0 d, Y8 m, Y1-Y3 scratch, Y4-Y7 the decoded
// block, Y13 all ones, Y14 the type's byte constant, Y15 0x0F bytes.

// Constants: 16 bytes of 0x0F, of 8 and of 16; the bit-expansion masks.
DATA qLowNibble<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qLowNibble<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL qLowNibble<>(SB), RODATA|NOPTR, $16

DATA qEight<>+0(SB)/8, $0x0808080808080808
DATA qEight<>+8(SB)/8, $0x0808080808080808
DATA qEight<>+16(SB)/8, $0x0808080808080808
DATA qEight<>+24(SB)/8, $0x0808080808080808
GLOBL qEight<>(SB), RODATA|NOPTR, $32

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

// Dword j holds bit j (qBit16Lo) and bit j+16 (qBit16Hi) of the Q5 high
// bits word, for the AVX-512 decoders; qDword0F and qDword10 are the dword
// constants 0x0F and 0x10.
DATA qBit16Lo<>+0(SB)/8, $0x0000000200000001
DATA qBit16Lo<>+8(SB)/8, $0x0000000800000004
DATA qBit16Lo<>+16(SB)/8, $0x0000002000000010
DATA qBit16Lo<>+24(SB)/8, $0x0000008000000040
DATA qBit16Lo<>+32(SB)/8, $0x0000020000000100
DATA qBit16Lo<>+40(SB)/8, $0x0000080000000400
DATA qBit16Lo<>+48(SB)/8, $0x0000200000001000
DATA qBit16Lo<>+56(SB)/8, $0x0000800000004000
GLOBL qBit16Lo<>(SB), RODATA|NOPTR, $64

DATA qBit16Hi<>+0(SB)/8, $0x0002000000010000
DATA qBit16Hi<>+8(SB)/8, $0x0008000000040000
DATA qBit16Hi<>+16(SB)/8, $0x0020000000100000
DATA qBit16Hi<>+24(SB)/8, $0x0080000000400000
DATA qBit16Hi<>+32(SB)/8, $0x0200000001000000
DATA qBit16Hi<>+40(SB)/8, $0x0800000004000000
DATA qBit16Hi<>+48(SB)/8, $0x2000000010000000
DATA qBit16Hi<>+56(SB)/8, $0x8000000040000000
GLOBL qBit16Hi<>(SB), RODATA|NOPTR, $64

DATA qDword0F<>+0(SB)/4, $0x0000000f
GLOBL qDword0F<>(SB), RODATA|NOPTR, $4

DATA qDword10<>+0(SB)/4, $0x00000010
GLOBL qDword10<>(SB), RODATA|NOPTR, $4

// Byte j of the mask has every bit set except bit j%8.
DATA qBitMask<>+0(SB)/8, $0x7fbfdfeff7fbfdfe
DATA qBitMask<>+8(SB)/8, $0x7fbfdfeff7fbfdfe
DATA qBitMask<>+16(SB)/8, $0x7fbfdfeff7fbfdfe
DATA qBitMask<>+24(SB)/8, $0x7fbfdfeff7fbfdfe
GLOBL qBitMask<>(SB), RODATA|NOPTR, $32

// NIBBLES splits the 16 bytes at off(R) into X1 (low nibbles: elements
// 0-15) and X2 (high nibbles: elements 16-31).
#define NIBBLES(off, R) \
	VMOVDQU off(R), X1 \
	VPSRLW  $4, X1, X2 \
	VPAND   X15, X1, X1 \
	VPAND   X15, X2, X2

// HIGHBITS ORs bit j of the u32 at off(R) into bit 4 of element j's byte in
// X1 (j < 16) and X2 (j >= 16). Needs Y13 = all ones, Y14 = 0x10 bytes.
#define HIGHBITS(off, R) \
	VPBROADCASTD off(R), Y3 \
	VPSHUFB      qBitShuf<>(SB), Y3, Y3 \
	VPOR         qBitMask<>(SB), Y3, Y3 \
	VPCMPEQB     Y13, Y3, Y3 \
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

// HALF loads the fp16 at off(R), converted, into all lanes of Y.
#define HALF(off, R, Y, X) \
	VPBROADCASTW off(R), X \
	VCVTPH2PS    X, Y

// The decoders of one block at R into Y4-Y7.
#define DEC_Q4_0(R) \
	HALF(0, R, Y0, X0) \
	NIBBLES(2, R) \
	VPSUBB X14, X1, X1 \
	VPSUBB X14, X2, X2 \
	WIDEN(VPMOVSXBD) \
	SCALE

#define DEC_Q4_1(R) \
	HALF(0, R, Y0, X0) \
	HALF(2, R, Y8, X8) \
	NIBBLES(4, R) \
	WIDEN(VPMOVZXBD) \
	SCALE \
	OFFSET

#define DEC_Q5_0(R) \
	HALF(0, R, Y0, X0) \
	NIBBLES(6, R) \
	HIGHBITS(2, R) \
	VPSUBB X14, X1, X1 \
	VPSUBB X14, X2, X2 \
	WIDEN(VPMOVSXBD) \
	SCALE

#define DEC_Q5_1(R) \
	HALF(0, R, Y0, X0) \
	HALF(2, R, Y8, X8) \
	NIBBLES(8, R) \
	HIGHBITS(4, R) \
	WIDEN(VPMOVZXBD) \
	SCALE \
	OFFSET

#define DEC_Q8_0(R) \
	HALF(0, R, Y0, X0) \
	VPMOVSXBD 2(R), Y4 \
	VPMOVSXBD 10(R), Y5 \
	VPMOVSXBD 18(R), Y6 \
	VPMOVSXBD 26(R), Y7 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7 \
	SCALE

// SETUP loads the decoders' constants: C, the type's byte constant (or
// qLowNibble when it has none).
#define SETUP(C) \
	VMOVDQU  qLowNibble<>(SB), X15 \
	VMOVDQU  C(SB), Y14 \
	VPCMPEQB Y13, Y13, Y13

// STORE writes Y4-Y7 to the block's 32 floats at DI.
#define STORE \
	VMOVUPS Y4, (DI) \
	VMOVUPS Y5, 32(DI) \
	VMOVUPS Y6, 64(DI) \
	VMOVUPS Y7, 96(DI)

// FMA4 accumulates the block times the 32 floats of x at DX into lanes
// 0-7 (A) and 8-15 (B): elements 0-7 and 16-23 into A, 8-15 and 24-31 into
// B, in increasing order.
#define FMA4(A, B) \
	VFMADD231PS (DX), Y4, A \
	VFMADD231PS 32(DX), Y5, B \
	VFMADD231PS 64(DX), Y6, A \
	VFMADD231PS 96(DX), Y7, B

// REDUCE sums the 16 lanes held in A (0-7) and B (8-15) as the Gemm kernels
// do, into the low float of XA (the X register of A); clobbers XT.
#define REDUCE(A, B, XA, XT) \
	VADDPS       B, A, A \
	VEXTRACTF128 $1, A, XT \
	VADDPS       XT, XA, XA \
	VMOVHLPS     XA, XA, XT \
	VADDPS       XT, XA, XA \
	VMOVSHDUP    XA, XT \
	VADDSS       XT, XA, XA

// func dequantQ4_0Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ4_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	SETUP(qEight<>)

loop:
	DEC_Q4_0(SI)
	STORE
	ADDQ $18, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// func gemvQ4_0Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 2*npair rows from w (rowBytes apart, nblk
// blocks each), two rows at a time.
TEXT ·gemvQ4_0Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ npair+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qEight<>)

pair:
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	DEC_Q4_0(AX)
	FMA4(Y9, Y10)
	DEC_Q4_0(R11)
	FMA4(Y11, Y12)
	ADDQ $18, AX
	ADDQ $18, R11
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE(Y9, Y10, X9, X3)
	REDUCE(Y11, Y12, X11, X3)
	VMOVSS X9, (DI)
	VMOVSS X11, 4(DI)
	ADDQ   $8, DI
	LEAQ   (SI)(R8*2), SI
	DECQ   BX
	JNZ    pair
	VZEROUPPER
	RET

// func dequantQ4_1Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ4_1Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	SETUP(qSixteen<>)

loop:
	DEC_Q4_1(SI)
	STORE
	ADDQ $20, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// func gemvQ4_1Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 2*npair rows from w (rowBytes apart, nblk
// blocks each), two rows at a time.
TEXT ·gemvQ4_1Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ npair+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)

pair:
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	DEC_Q4_1(AX)
	FMA4(Y9, Y10)
	DEC_Q4_1(R11)
	FMA4(Y11, Y12)
	ADDQ $20, AX
	ADDQ $20, R11
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE(Y9, Y10, X9, X3)
	REDUCE(Y11, Y12, X11, X3)
	VMOVSS X9, (DI)
	VMOVSS X11, 4(DI)
	ADDQ   $8, DI
	LEAQ   (SI)(R8*2), SI
	DECQ   BX
	JNZ    pair
	VZEROUPPER
	RET

// func dequantQ5_0Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ5_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	SETUP(qSixteen<>)

loop:
	DEC_Q5_0(SI)
	STORE
	ADDQ $22, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// func gemvQ5_0Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 2*npair rows from w (rowBytes apart, nblk
// blocks each), two rows at a time.
TEXT ·gemvQ5_0Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ npair+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)

pair:
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	DEC_Q5_0(AX)
	FMA4(Y9, Y10)
	DEC_Q5_0(R11)
	FMA4(Y11, Y12)
	ADDQ $22, AX
	ADDQ $22, R11
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE(Y9, Y10, X9, X3)
	REDUCE(Y11, Y12, X11, X3)
	VMOVSS X9, (DI)
	VMOVSS X11, 4(DI)
	ADDQ   $8, DI
	LEAQ   (SI)(R8*2), SI
	DECQ   BX
	JNZ    pair
	VZEROUPPER
	RET

// func dequantQ5_1Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ5_1Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	SETUP(qSixteen<>)

loop:
	DEC_Q5_1(SI)
	STORE
	ADDQ $24, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// func gemvQ5_1Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 2*npair rows from w (rowBytes apart, nblk
// blocks each), two rows at a time.
TEXT ·gemvQ5_1Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ npair+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)

pair:
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	DEC_Q5_1(AX)
	FMA4(Y9, Y10)
	DEC_Q5_1(R11)
	FMA4(Y11, Y12)
	ADDQ $24, AX
	ADDQ $24, R11
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE(Y9, Y10, X9, X3)
	REDUCE(Y11, Y12, X11, X3)
	VMOVSS X9, (DI)
	VMOVSS X11, 4(DI)
	ADDQ   $8, DI
	LEAQ   (SI)(R8*2), SI
	DECQ   BX
	JNZ    pair
	VZEROUPPER
	RET

// func dequantQ8_0Asm(dst *float32, src *byte, nblk int)
TEXT ·dequantQ8_0Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nblk+16(FP), CX
	SETUP(qSixteen<>)

loop:
	DEC_Q8_0(SI)
	STORE
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// func gemvQ8_0Asm(dst *float32, w *byte, npair, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 2*npair rows from w (rowBytes apart, nblk
// blocks each), two rows at a time.
TEXT ·gemvQ8_0Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ npair+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)

pair:
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	DEC_Q8_0(AX)
	FMA4(Y9, Y10)
	DEC_Q8_0(R11)
	FMA4(Y11, Y12)
	ADDQ $34, AX
	ADDQ $34, R11
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE(Y9, Y10, X9, X3)
	REDUCE(Y11, Y12, X11, X3)
	VMOVSS X9, (DI)
	VMOVSS X11, 4(DI)
	ADDQ   $8, DI
	LEAQ   (SI)(R8*2), SI
	DECQ   BX
	JNZ    pair
	VZEROUPPER
	RET

// AVX-512 matrix-vector kernels: the 16 lanes of the accumulator are one zmm
// register and a block is two zmm (elements 0-15, 16-31), four rows at a
// time. Decoders: Z0 d, Z8 m, Z4 and Z5 the block; X1, X2, Y3 scratch.
// Each block step also prefetches (into L2) the same block of the next four
// rows: a single core's hardware prefetchers alone keep too few weight
// lines in flight to stream them from memory at full speed.

// WIDEN512 converts the 16 bytes of X1 and of X2 (EXT = VPMOVSXBD or
// VPMOVZXBD) to float32 in Z4 (X1) and Z5 (X2).
#define WIDEN512(EXT) \
	EXT       X1, Z4 \
	EXT       X2, Z5 \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5

#define HALF512(off, R, Z, Y) \
	VPBROADCASTW off(R), Y \
	VCVTPH2PS    Y, Z

#define SCALE512 \
	VMULPS Z0, Z4, Z4 \
	VMULPS Z0, Z5, Z5

// SCALEOFFSET512 sets Z4 and Z5 to Z4*d + m and Z5*d + m, each with one
// rounding, which is the portable decoder's float32(q*d) + m: the product
// of a code below 32 and a binary16 scale is exact in float32.
#define SCALEOFFSET512 \
	VFMADD213PS Z8, Z0, Z4 \
	VFMADD213PS Z8, Z0, Z5

#define DEC512_Q4_0(R) \
	HALF512(0, R, Z0, Y0) \
	NIBBLES(2, R) \
	VPSUBB X14, X1, X1 \
	VPSUBB X14, X2, X2 \
	WIDEN512(VPMOVSXBD) \
	SCALE512

#define DEC512_Q4_1(R) \
	HALF512(0, R, Z0, Y0) \
	HALF512(2, R, Z8, Y8) \
	NIBBLES(4, R) \
	WIDEN512(VPMOVZXBD) \
	SCALEOFFSET512

// The Q5 decoders work on dwords: Z4 (elements 0-15) takes the 16 code
// bytes zero-extended and Z5 their high nibbles; VPTESTMD of the broadcast
// high-bits word against Z17/Z18 (qBit16Lo/Hi) selects the elements whose
// bit 4 is set, which a masked VPORD with Z20 (0x10) sets. Needs Z19 = 0x0F.
#define Q5CODES512(qs, qh, R) \
	VPMOVZXBD    qs(R), Z4 \
	VPBROADCASTD qh(R), Z6 \
	VPSRLD       $4, Z4, Z5 \
	VPANDD       Z19, Z4, Z4 \
	VPTESTMD     Z17, Z6, K1 \
	VPTESTMD     Z18, Z6, K2 \
	VPORD        Z20, Z4, K1, Z4 \
	VPORD        Z20, Z5, K2, Z5

#define DEC512_Q5_0(R) \
	HALF512(0, R, Z0, Y0) \
	Q5CODES512(6, 2, R) \
	VPSUBD    Z20, Z4, Z4 \
	VPSUBD    Z20, Z5, Z5 \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5 \
	SCALE512

#define DEC512_Q5_1(R) \
	HALF512(0, R, Z0, Y0) \
	HALF512(2, R, Z8, Y8) \
	Q5CODES512(8, 4, R) \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5 \
	SCALEOFFSET512

// Q5SETUP loads the Q5 decoders' constants into Z17-Z20.
#define Q5SETUP \
	VMOVDQU32     qBit16Lo<>(SB), Z17 \
	VMOVDQU32     qBit16Hi<>(SB), Z18 \
	VPBROADCASTD  qDword0F<>(SB), Z19 \
	VPBROADCASTD  qDword10<>(SB), Z20

#define DEC512_Q8_0(R) \
	HALF512(0, R, Z0, Y0) \
	VPMOVSXBD 2(R), Z4 \
	VPMOVSXBD 18(R), Z5 \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5 \
	SCALE512

// PREFETCH4 prefetches the block at the same offset in the four rows after
// the four at AX, R11, R12, R13 (R8 = rowBytes). A prefetch never faults,
// also past the end of the weights.
#define PREFETCH4 \
	PREFETCHT1 (AX)(R8*4) \
	PREFETCHT1 (R11)(R8*4) \
	PREFETCHT1 (R12)(R8*4) \
	PREFETCHT1 (R13)(R8*4)

// XLOAD loads the 32 floats of x at DX into Z21 and Z22, once per block for
// the four rows.
#define XLOAD \
	VMOVUPS (DX), Z21 \
	VMOVUPS 64(DX), Z22

// FMA2 accumulates the block times the x of XLOAD into A: element i into
// lane i%16, in increasing order.
#define FMA2(A) \
	VFMADD231PS Z21, Z4, A \
	VFMADD231PS Z22, Z5, A

// REDUCE512 sums the 16 lanes of A as the Gemm kernels do into the low
// float of XA (YA, XA: the lower halves of A); clobbers Y3.
#define REDUCE512(A, YA, XA) \
	VEXTRACTF64X4 $1, A, Y3 \
	VADDPS        Y3, YA, YA \
	VEXTRACTF128  $1, YA, X3 \
	VADDPS        X3, XA, XA \
	VMOVHLPS      XA, XA, X3 \
	VADDPS        X3, XA, XA \
	VMOVSHDUP     XA, X3 \
	VADDSS        X3, XA, XA

// func gemv4Q4_0Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 4*nquad rows from w (rowBytes apart, nblk
// blocks each), four rows at a time.
TEXT ·gemv4Q4_0Avx512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qEight<>)

quad:
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	PREFETCH4
	XLOAD
	DEC512_Q4_0(AX)
	FMA2(Z9)
	DEC512_Q4_0(R11)
	FMA2(Z10)
	DEC512_Q4_0(R12)
	FMA2(Z11)
	DEC512_Q4_0(R13)
	FMA2(Z12)
	ADDQ $18, AX
	ADDQ $18, R11
	ADDQ $18, R12
	ADDQ $18, R13
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE512(Z9, Y9, X9)
	REDUCE512(Z10, Y10, X10)
	REDUCE512(Z11, Y11, X11)
	REDUCE512(Z12, Y12, X12)
	VMOVSS X9, (DI)
	VMOVSS X10, 4(DI)
	VMOVSS X11, 8(DI)
	VMOVSS X12, 12(DI)
	ADDQ   $16, DI
	LEAQ   (SI)(R8*4), SI
	DECQ   BX
	JNZ    quad
	VZEROUPPER
	RET

// func gemv4Q4_1Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 4*nquad rows from w (rowBytes apart, nblk
// blocks each), four rows at a time.
TEXT ·gemv4Q4_1Avx512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)

quad:
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	PREFETCH4
	XLOAD
	DEC512_Q4_1(AX)
	FMA2(Z9)
	DEC512_Q4_1(R11)
	FMA2(Z10)
	DEC512_Q4_1(R12)
	FMA2(Z11)
	DEC512_Q4_1(R13)
	FMA2(Z12)
	ADDQ $20, AX
	ADDQ $20, R11
	ADDQ $20, R12
	ADDQ $20, R13
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE512(Z9, Y9, X9)
	REDUCE512(Z10, Y10, X10)
	REDUCE512(Z11, Y11, X11)
	REDUCE512(Z12, Y12, X12)
	VMOVSS X9, (DI)
	VMOVSS X10, 4(DI)
	VMOVSS X11, 8(DI)
	VMOVSS X12, 12(DI)
	ADDQ   $16, DI
	LEAQ   (SI)(R8*4), SI
	DECQ   BX
	JNZ    quad
	VZEROUPPER
	RET

// func gemv4Q5_0Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 4*nquad rows from w (rowBytes apart, nblk
// blocks each), four rows at a time.
TEXT ·gemv4Q5_0Avx512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)
	Q5SETUP

quad:
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	PREFETCH4
	XLOAD
	DEC512_Q5_0(AX)
	FMA2(Z9)
	DEC512_Q5_0(R11)
	FMA2(Z10)
	DEC512_Q5_0(R12)
	FMA2(Z11)
	DEC512_Q5_0(R13)
	FMA2(Z12)
	ADDQ $22, AX
	ADDQ $22, R11
	ADDQ $22, R12
	ADDQ $22, R13
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE512(Z9, Y9, X9)
	REDUCE512(Z10, Y10, X10)
	REDUCE512(Z11, Y11, X11)
	REDUCE512(Z12, Y12, X12)
	VMOVSS X9, (DI)
	VMOVSS X10, 4(DI)
	VMOVSS X11, 8(DI)
	VMOVSS X12, 12(DI)
	ADDQ   $16, DI
	LEAQ   (SI)(R8*4), SI
	DECQ   BX
	JNZ    quad
	VZEROUPPER
	RET

// func gemv4Q5_1Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 4*nquad rows from w (rowBytes apart, nblk
// blocks each), four rows at a time.
TEXT ·gemv4Q5_1Avx512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)
	Q5SETUP

quad:
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	PREFETCH4
	XLOAD
	DEC512_Q5_1(AX)
	FMA2(Z9)
	DEC512_Q5_1(R11)
	FMA2(Z10)
	DEC512_Q5_1(R12)
	FMA2(Z11)
	DEC512_Q5_1(R13)
	FMA2(Z12)
	ADDQ $24, AX
	ADDQ $24, R11
	ADDQ $24, R12
	ADDQ $24, R13
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE512(Z9, Y9, X9)
	REDUCE512(Z10, Y10, X10)
	REDUCE512(Z11, Y11, X11)
	REDUCE512(Z12, Y12, X12)
	VMOVSS X9, (DI)
	VMOVSS X10, 4(DI)
	VMOVSS X11, 8(DI)
	VMOVSS X12, 12(DI)
	ADDQ   $16, DI
	LEAQ   (SI)(R8*4), SI
	DECQ   BX
	JNZ    quad
	VZEROUPPER
	RET

// func gemv4Q8_0Avx512(dst *float32, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[i] = dot(row i, x) for the 4*nquad rows from w (rowBytes apart, nblk
// blocks each), four rows at a time.
TEXT ·gemv4Q8_0Avx512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ rowBytes+24(FP), R8
	MOVQ nblk+32(FP), R10
	MOVQ x+40(FP), R9
	SETUP(qSixteen<>)

quad:
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	MOVQ   R9, DX
	MOVQ   R10, CX

block:
	PREFETCH4
	XLOAD
	DEC512_Q8_0(AX)
	FMA2(Z9)
	DEC512_Q8_0(R11)
	FMA2(Z10)
	DEC512_Q8_0(R12)
	FMA2(Z11)
	DEC512_Q8_0(R13)
	FMA2(Z12)
	ADDQ $34, AX
	ADDQ $34, R11
	ADDQ $34, R12
	ADDQ $34, R13
	ADDQ $128, DX
	DECQ CX
	JNZ  block
	REDUCE512(Z9, Y9, X9)
	REDUCE512(Z10, Y10, X10)
	REDUCE512(Z11, Y11, X11)
	REDUCE512(Z12, Y12, X12)
	VMOVSS X9, (DI)
	VMOVSS X10, 4(DI)
	VMOVSS X11, 8(DI)
	VMOVSS X12, 12(DI)
	ADDQ   $16, DI
	LEAQ   (SI)(R8*4), SI
	DECQ   BX
	JNZ    quad
	VZEROUPPER
	RET

// func gemv4I8Avx512(dst *float32, w *int8, nquad, k int, x *float32)
// dst[i] = dot(row i, x) for the 4*nquad rows of k int8 codes from w (k
// apart; k >= 1), four rows at a time: the codes are widened to int32,
// converted exactly and fed to the FMA chains of the dot-product contract
// (one zmm holds the 16 lanes); the last partial block is read with a mask
// (zeroed lanes, nothing read past the row), which accumulates exactly as
// the AVX2 kernels' zero padding does, so the results equal gemm1x1I8's.
TEXT ·gemv4I8Avx512(SB), NOSPLIT, $0-40
	MOVQ  dst+0(FP), DI
	MOVQ  w+8(FP), SI
	MOVQ  nquad+16(FP), BX
	MOVQ  k+24(FP), R8
	MOVQ  x+32(FP), R9
	MOVQ  R8, R10
	ANDQ  $-16, R10
	MOVQ  R8, CX
	SUBQ  R10, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

i8quad:
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	MOVQ   SI, AX
	LEAQ   (SI)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	XORQ   CX, CX
	TESTQ  R10, R10
	JZ     i8tail

i8block:
	VPMOVSXBD   (AX)(CX*1), Z4
	VPMOVSXBD   (R11)(CX*1), Z5
	VPMOVSXBD   (R12)(CX*1), Z6
	VPMOVSXBD   (R13)(CX*1), Z7
	VMOVUPS     (R9)(CX*4), Z0
	VCVTDQ2PS   Z4, Z4
	VCVTDQ2PS   Z5, Z5
	VCVTDQ2PS   Z6, Z6
	VCVTDQ2PS   Z7, Z7
	VFMADD231PS Z0, Z4, Z9
	VFMADD231PS Z0, Z5, Z10
	VFMADD231PS Z0, Z6, Z11
	VFMADD231PS Z0, Z7, Z12
	ADDQ        $16, CX
	CMPQ        CX, R10
	JB          i8block

i8tail:
	CMPQ          CX, R8
	JAE           i8done
	VPMOVSXBD.Z   (AX)(CX*1), K1, Z4
	VPMOVSXBD.Z   (R11)(CX*1), K1, Z5
	VPMOVSXBD.Z   (R12)(CX*1), K1, Z6
	VPMOVSXBD.Z   (R13)(CX*1), K1, Z7
	VMOVUPS.Z     (R9)(CX*4), K1, Z0
	VCVTDQ2PS     Z4, Z4
	VCVTDQ2PS     Z5, Z5
	VCVTDQ2PS     Z6, Z6
	VCVTDQ2PS     Z7, Z7
	VFMADD231PS   Z0, Z4, Z9
	VFMADD231PS   Z0, Z5, Z10
	VFMADD231PS   Z0, Z6, Z11
	VFMADD231PS   Z0, Z7, Z12

i8done:
	REDUCE512(Z9, Y9, X9)
	REDUCE512(Z10, Y10, X10)
	REDUCE512(Z11, Y11, X11)
	REDUCE512(Z12, Y12, X12)
	VMOVSS X9, (DI)
	VMOVSS X10, 4(DI)
	VMOVSS X11, 8(DI)
	VMOVSS X12, 12(DI)
	ADDQ   $16, DI
	LEAQ   (SI)(R8*4), SI
	DECQ   BX
	JNZ    i8quad
	VZEROUPPER
	RET

// AVX-512 products of four rows and four tokens (a small batch): each block
// of a row is decoded once into Z4/Z5 (the decoders above) and multiplied
// with the four tokens' x, so the decoding costs a quarter of the
// one-token kernels' per multiply-add. Output (r, t) keeps its 16 lanes in
// one zmm (accumulators Z9-Z12, Z16, Z21-Z31), elements 0-15 of a block
// then 16-31 in increasing order, and is reduced as the Gemm kernels do, so
// the results equal the one-token kernels' bitwise.

// FMA2X4(A0, A1, A2, A3) accumulates the block in Z4/Z5 times the 32 floats
// of tokens 0-3 (at DX, DX+R14, DX+2*R14, R15) into A0-A3.
#define FMA2X4(A0, A1, A2, A3) \
	VFMADD231PS (DX), Z4, A0 \
	VFMADD231PS 64(DX), Z5, A0 \
	VFMADD231PS (DX)(R14*1), Z4, A1 \
	VFMADD231PS 64(DX)(R14*1), Z5, A1 \
	VFMADD231PS (DX)(R14*2), Z4, A2 \
	VFMADD231PS 64(DX)(R14*2), Z5, A2 \
	VFMADD231PS (R15), Z4, A3 \
	VFMADD231PS 64(R15), Z5, A3

// RED512X is REDUCE512 for any zmm (EVEX forms only); clobbers Y3.
#define RED512X(A, YA, XA) \
	VEXTRACTF64X4 $1, A, Y3 \
	VADDPS        Y3, YA, YA \
	VEXTRACTF32X4 $1, YA, X3 \
	VADDPS        X3, XA, XA \
	VMOVHLPS      XA, XA, X3 \
	VADDPS        X3, XA, XA \
	VMOVSHDUP     XA, X3 \
	VADDSS        X3, XA, XA


// func gemm4x4Q4_0Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[t*ldd + i] = dot(row i, x row t) for the 4*nquad rows from w (rowBytes
// apart, nblk blocks each) and the 4 tokens of x (32*nblk floats apart).
TEXT ·gemm4x4Q4_0Avx512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), SI
	MOVQ nquad+24(FP), BX
	MOVQ rowBytes+32(FP), R8
	MOVQ nblk+40(FP), R10
	MOVQ x+48(FP), R9
	MOVQ R10, R14
	SHLQ $7, R14
	SETUP(qEight<>)

q4quad:
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z16, Z16, Z16
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ SI, AX
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ R9, DX
	LEAQ (R9)(R14*2), R15
	ADDQ R14, R15
	MOVQ R10, CX

q4block:
	DEC512_Q4_0(AX)
	FMA2X4(Z9, Z10, Z11, Z12)
	DEC512_Q4_0(R11)
	FMA2X4(Z16, Z21, Z22, Z23)
	DEC512_Q4_0(R12)
	FMA2X4(Z24, Z25, Z26, Z27)
	DEC512_Q4_0(R13)
	FMA2X4(Z28, Z29, Z30, Z31)
	ADDQ $18, AX
	ADDQ $18, R11
	ADDQ $18, R12
	ADDQ $18, R13
	ADDQ $128, DX
	ADDQ $128, R15
	DECQ CX
	JNZ  q4block
	MOVQ ldd+8(FP), CX
	SHLQ $2, CX
	LEAQ (DI)(CX*2), AX
	ADDQ CX, AX
	RED512X(Z9, Y9, X9)
	VMOVSS X9, (DI)
	RED512X(Z16, Y16, X16)
	VMOVSS X16, 4(DI)
	RED512X(Z24, Y24, X24)
	VMOVSS X24, 8(DI)
	RED512X(Z28, Y28, X28)
	VMOVSS X28, 12(DI)
	RED512X(Z10, Y10, X10)
	VMOVSS X10, (DI)(CX*1)
	RED512X(Z21, Y21, X21)
	VMOVSS X21, 4(DI)(CX*1)
	RED512X(Z25, Y25, X25)
	VMOVSS X25, 8(DI)(CX*1)
	RED512X(Z29, Y29, X29)
	VMOVSS X29, 12(DI)(CX*1)
	RED512X(Z11, Y11, X11)
	VMOVSS X11, (DI)(CX*2)
	RED512X(Z22, Y22, X22)
	VMOVSS X22, 4(DI)(CX*2)
	RED512X(Z26, Y26, X26)
	VMOVSS X26, 8(DI)(CX*2)
	RED512X(Z30, Y30, X30)
	VMOVSS X30, 12(DI)(CX*2)
	RED512X(Z12, Y12, X12)
	VMOVSS X12, (AX)
	RED512X(Z23, Y23, X23)
	VMOVSS X23, 4(AX)
	RED512X(Z27, Y27, X27)
	VMOVSS X27, 8(AX)
	RED512X(Z31, Y31, X31)
	VMOVSS X31, 12(AX)
	ADDQ $16, DI
	LEAQ (SI)(R8*4), SI
	DECQ BX
	JNZ  q4quad
	VZEROUPPER
	RET

// func gemm4x4Q4_1Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[t*ldd + i] = dot(row i, x row t) for the 4*nquad rows from w (rowBytes
// apart, nblk blocks each) and the 4 tokens of x (32*nblk floats apart).
TEXT ·gemm4x4Q4_1Avx512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), SI
	MOVQ nquad+24(FP), BX
	MOVQ rowBytes+32(FP), R8
	MOVQ nblk+40(FP), R10
	MOVQ x+48(FP), R9
	MOVQ R10, R14
	SHLQ $7, R14
	SETUP(qSixteen<>)

q4quad:
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z16, Z16, Z16
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ SI, AX
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ R9, DX
	LEAQ (R9)(R14*2), R15
	ADDQ R14, R15
	MOVQ R10, CX

q4block:
	DEC512_Q4_1(AX)
	FMA2X4(Z9, Z10, Z11, Z12)
	DEC512_Q4_1(R11)
	FMA2X4(Z16, Z21, Z22, Z23)
	DEC512_Q4_1(R12)
	FMA2X4(Z24, Z25, Z26, Z27)
	DEC512_Q4_1(R13)
	FMA2X4(Z28, Z29, Z30, Z31)
	ADDQ $20, AX
	ADDQ $20, R11
	ADDQ $20, R12
	ADDQ $20, R13
	ADDQ $128, DX
	ADDQ $128, R15
	DECQ CX
	JNZ  q4block
	MOVQ ldd+8(FP), CX
	SHLQ $2, CX
	LEAQ (DI)(CX*2), AX
	ADDQ CX, AX
	RED512X(Z9, Y9, X9)
	VMOVSS X9, (DI)
	RED512X(Z16, Y16, X16)
	VMOVSS X16, 4(DI)
	RED512X(Z24, Y24, X24)
	VMOVSS X24, 8(DI)
	RED512X(Z28, Y28, X28)
	VMOVSS X28, 12(DI)
	RED512X(Z10, Y10, X10)
	VMOVSS X10, (DI)(CX*1)
	RED512X(Z21, Y21, X21)
	VMOVSS X21, 4(DI)(CX*1)
	RED512X(Z25, Y25, X25)
	VMOVSS X25, 8(DI)(CX*1)
	RED512X(Z29, Y29, X29)
	VMOVSS X29, 12(DI)(CX*1)
	RED512X(Z11, Y11, X11)
	VMOVSS X11, (DI)(CX*2)
	RED512X(Z22, Y22, X22)
	VMOVSS X22, 4(DI)(CX*2)
	RED512X(Z26, Y26, X26)
	VMOVSS X26, 8(DI)(CX*2)
	RED512X(Z30, Y30, X30)
	VMOVSS X30, 12(DI)(CX*2)
	RED512X(Z12, Y12, X12)
	VMOVSS X12, (AX)
	RED512X(Z23, Y23, X23)
	VMOVSS X23, 4(AX)
	RED512X(Z27, Y27, X27)
	VMOVSS X27, 8(AX)
	RED512X(Z31, Y31, X31)
	VMOVSS X31, 12(AX)
	ADDQ $16, DI
	LEAQ (SI)(R8*4), SI
	DECQ BX
	JNZ  q4quad
	VZEROUPPER
	RET

// func gemm4x4Q5_0Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[t*ldd + i] = dot(row i, x row t) for the 4*nquad rows from w (rowBytes
// apart, nblk blocks each) and the 4 tokens of x (32*nblk floats apart).
TEXT ·gemm4x4Q5_0Avx512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), SI
	MOVQ nquad+24(FP), BX
	MOVQ rowBytes+32(FP), R8
	MOVQ nblk+40(FP), R10
	MOVQ x+48(FP), R9
	MOVQ R10, R14
	SHLQ $7, R14
	SETUP(qSixteen<>)
	Q5SETUP

q4quad:
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z16, Z16, Z16
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ SI, AX
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ R9, DX
	LEAQ (R9)(R14*2), R15
	ADDQ R14, R15
	MOVQ R10, CX

q4block:
	DEC512_Q5_0(AX)
	FMA2X4(Z9, Z10, Z11, Z12)
	DEC512_Q5_0(R11)
	FMA2X4(Z16, Z21, Z22, Z23)
	DEC512_Q5_0(R12)
	FMA2X4(Z24, Z25, Z26, Z27)
	DEC512_Q5_0(R13)
	FMA2X4(Z28, Z29, Z30, Z31)
	ADDQ $22, AX
	ADDQ $22, R11
	ADDQ $22, R12
	ADDQ $22, R13
	ADDQ $128, DX
	ADDQ $128, R15
	DECQ CX
	JNZ  q4block
	MOVQ ldd+8(FP), CX
	SHLQ $2, CX
	LEAQ (DI)(CX*2), AX
	ADDQ CX, AX
	RED512X(Z9, Y9, X9)
	VMOVSS X9, (DI)
	RED512X(Z16, Y16, X16)
	VMOVSS X16, 4(DI)
	RED512X(Z24, Y24, X24)
	VMOVSS X24, 8(DI)
	RED512X(Z28, Y28, X28)
	VMOVSS X28, 12(DI)
	RED512X(Z10, Y10, X10)
	VMOVSS X10, (DI)(CX*1)
	RED512X(Z21, Y21, X21)
	VMOVSS X21, 4(DI)(CX*1)
	RED512X(Z25, Y25, X25)
	VMOVSS X25, 8(DI)(CX*1)
	RED512X(Z29, Y29, X29)
	VMOVSS X29, 12(DI)(CX*1)
	RED512X(Z11, Y11, X11)
	VMOVSS X11, (DI)(CX*2)
	RED512X(Z22, Y22, X22)
	VMOVSS X22, 4(DI)(CX*2)
	RED512X(Z26, Y26, X26)
	VMOVSS X26, 8(DI)(CX*2)
	RED512X(Z30, Y30, X30)
	VMOVSS X30, 12(DI)(CX*2)
	RED512X(Z12, Y12, X12)
	VMOVSS X12, (AX)
	RED512X(Z23, Y23, X23)
	VMOVSS X23, 4(AX)
	RED512X(Z27, Y27, X27)
	VMOVSS X27, 8(AX)
	RED512X(Z31, Y31, X31)
	VMOVSS X31, 12(AX)
	ADDQ $16, DI
	LEAQ (SI)(R8*4), SI
	DECQ BX
	JNZ  q4quad
	VZEROUPPER
	RET

// func gemm4x4Q5_1Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[t*ldd + i] = dot(row i, x row t) for the 4*nquad rows from w (rowBytes
// apart, nblk blocks each) and the 4 tokens of x (32*nblk floats apart).
TEXT ·gemm4x4Q5_1Avx512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), SI
	MOVQ nquad+24(FP), BX
	MOVQ rowBytes+32(FP), R8
	MOVQ nblk+40(FP), R10
	MOVQ x+48(FP), R9
	MOVQ R10, R14
	SHLQ $7, R14
	SETUP(qSixteen<>)
	Q5SETUP

q4quad:
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z16, Z16, Z16
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ SI, AX
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ R9, DX
	LEAQ (R9)(R14*2), R15
	ADDQ R14, R15
	MOVQ R10, CX

q4block:
	DEC512_Q5_1(AX)
	FMA2X4(Z9, Z10, Z11, Z12)
	DEC512_Q5_1(R11)
	FMA2X4(Z16, Z21, Z22, Z23)
	DEC512_Q5_1(R12)
	FMA2X4(Z24, Z25, Z26, Z27)
	DEC512_Q5_1(R13)
	FMA2X4(Z28, Z29, Z30, Z31)
	ADDQ $24, AX
	ADDQ $24, R11
	ADDQ $24, R12
	ADDQ $24, R13
	ADDQ $128, DX
	ADDQ $128, R15
	DECQ CX
	JNZ  q4block
	MOVQ ldd+8(FP), CX
	SHLQ $2, CX
	LEAQ (DI)(CX*2), AX
	ADDQ CX, AX
	RED512X(Z9, Y9, X9)
	VMOVSS X9, (DI)
	RED512X(Z16, Y16, X16)
	VMOVSS X16, 4(DI)
	RED512X(Z24, Y24, X24)
	VMOVSS X24, 8(DI)
	RED512X(Z28, Y28, X28)
	VMOVSS X28, 12(DI)
	RED512X(Z10, Y10, X10)
	VMOVSS X10, (DI)(CX*1)
	RED512X(Z21, Y21, X21)
	VMOVSS X21, 4(DI)(CX*1)
	RED512X(Z25, Y25, X25)
	VMOVSS X25, 8(DI)(CX*1)
	RED512X(Z29, Y29, X29)
	VMOVSS X29, 12(DI)(CX*1)
	RED512X(Z11, Y11, X11)
	VMOVSS X11, (DI)(CX*2)
	RED512X(Z22, Y22, X22)
	VMOVSS X22, 4(DI)(CX*2)
	RED512X(Z26, Y26, X26)
	VMOVSS X26, 8(DI)(CX*2)
	RED512X(Z30, Y30, X30)
	VMOVSS X30, 12(DI)(CX*2)
	RED512X(Z12, Y12, X12)
	VMOVSS X12, (AX)
	RED512X(Z23, Y23, X23)
	VMOVSS X23, 4(AX)
	RED512X(Z27, Y27, X27)
	VMOVSS X27, 8(AX)
	RED512X(Z31, Y31, X31)
	VMOVSS X31, 12(AX)
	ADDQ $16, DI
	LEAQ (SI)(R8*4), SI
	DECQ BX
	JNZ  q4quad
	VZEROUPPER
	RET

// func gemm4x4Q8_0Avx512(dst *float32, ldd int, w *byte, nquad, rowBytes, nblk int, x *float32)
// dst[t*ldd + i] = dot(row i, x row t) for the 4*nquad rows from w (rowBytes
// apart, nblk blocks each) and the 4 tokens of x (32*nblk floats apart).
TEXT ·gemm4x4Q8_0Avx512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), SI
	MOVQ nquad+24(FP), BX
	MOVQ rowBytes+32(FP), R8
	MOVQ nblk+40(FP), R10
	MOVQ x+48(FP), R9
	MOVQ R10, R14
	SHLQ $7, R14
	SETUP(qSixteen<>)

q4quad:
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z16, Z16, Z16
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ SI, AX
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ R9, DX
	LEAQ (R9)(R14*2), R15
	ADDQ R14, R15
	MOVQ R10, CX

q4block:
	DEC512_Q8_0(AX)
	FMA2X4(Z9, Z10, Z11, Z12)
	DEC512_Q8_0(R11)
	FMA2X4(Z16, Z21, Z22, Z23)
	DEC512_Q8_0(R12)
	FMA2X4(Z24, Z25, Z26, Z27)
	DEC512_Q8_0(R13)
	FMA2X4(Z28, Z29, Z30, Z31)
	ADDQ $34, AX
	ADDQ $34, R11
	ADDQ $34, R12
	ADDQ $34, R13
	ADDQ $128, DX
	ADDQ $128, R15
	DECQ CX
	JNZ  q4block
	MOVQ ldd+8(FP), CX
	SHLQ $2, CX
	LEAQ (DI)(CX*2), AX
	ADDQ CX, AX
	RED512X(Z9, Y9, X9)
	VMOVSS X9, (DI)
	RED512X(Z16, Y16, X16)
	VMOVSS X16, 4(DI)
	RED512X(Z24, Y24, X24)
	VMOVSS X24, 8(DI)
	RED512X(Z28, Y28, X28)
	VMOVSS X28, 12(DI)
	RED512X(Z10, Y10, X10)
	VMOVSS X10, (DI)(CX*1)
	RED512X(Z21, Y21, X21)
	VMOVSS X21, 4(DI)(CX*1)
	RED512X(Z25, Y25, X25)
	VMOVSS X25, 8(DI)(CX*1)
	RED512X(Z29, Y29, X29)
	VMOVSS X29, 12(DI)(CX*1)
	RED512X(Z11, Y11, X11)
	VMOVSS X11, (DI)(CX*2)
	RED512X(Z22, Y22, X22)
	VMOVSS X22, 4(DI)(CX*2)
	RED512X(Z26, Y26, X26)
	VMOVSS X26, 8(DI)(CX*2)
	RED512X(Z30, Y30, X30)
	VMOVSS X30, 12(DI)(CX*2)
	RED512X(Z12, Y12, X12)
	VMOVSS X12, (AX)
	RED512X(Z23, Y23, X23)
	VMOVSS X23, 4(AX)
	RED512X(Z27, Y27, X27)
	VMOVSS X27, 8(AX)
	RED512X(Z31, Y31, X31)
	VMOVSS X31, 12(AX)
	ADDQ $16, DI
	LEAQ (SI)(R8*4), SI
	DECQ BX
	JNZ  q4quad
	VZEROUPPER
	RET
