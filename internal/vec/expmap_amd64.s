//go:build amd64 && !purego

#include "textflag.h"

// The kernels of Map: the operations of Exp, Sigmoid, SiLU, Tanh,
// NegExpExp and V7Decay (expmap.go) in the same order, 16 or 8 lanes at a
// time, with no fused multiply-add, so that every lane gives the bits of the
// scalar function. The min and max take x as their second source operand so
// that a NaN passes through.

// EXP512 sets X = Exp(X); clobbers T0, T1, T2. Constants: Z16 expLo, Z17
// expHi, Z18 log2e, Z19 magic, Z20 ln2Hi, Z21 ln2Lo, Z22-Z27 expP0-expP5,
// Z28 1, Z29 int32 127.
#define EXP512(X, T0, T1, T2) \
	VMAXPS     X, Z16, X   \
	VMINPS     X, Z17, X   \
	VMULPS     Z18, X, T0  \
	VADDPS     Z19, T0, T0 \
	VSUBPS     Z19, T0, T0 \
	VMULPS     Z20, T0, T1 \
	VSUBPS     T1, X, X    \
	VMULPS     Z21, T0, T1 \
	VSUBPS     T1, X, X    \
	VMULPS     X, X, T2    \
	VMULPS     Z22, X, T1  \
	VADDPS     Z23, T1, T1 \
	VMULPS     X, T1, T1   \
	VADDPS     Z24, T1, T1 \
	VMULPS     X, T1, T1   \
	VADDPS     Z25, T1, T1 \
	VMULPS     X, T1, T1   \
	VADDPS     Z26, T1, T1 \
	VMULPS     X, T1, T1   \
	VADDPS     Z27, T1, T1 \
	VMULPS     T2, T1, T1  \
	VADDPS     X, T1, T1   \
	VADDPS     Z28, T1, T1 \
	VCVTTPS2DQ T0, T0      \
	VPSRAD     $1, T0, T2  \
	VPSUBD     T2, T0, T0  \
	VPADDD     Z29, T2, T2 \
	VPSLLD     $23, T2, T2 \
	VPADDD     Z29, T0, T0 \
	VPSLLD     $23, T0, T0 \
	VMULPS     T2, T1, T1  \
	VMULPS     T0, T1, X

// SIG512 sets X = Sigmoid(X); clobbers T0, T1, T2. Z30: the sign bit.
#define SIG512(X, T0, T1, T2) \
	VPXORD Z30, X, X    \
	EXP512(X, T0, T1, T2) \
	VADDPS Z28, X, X    \
	VDIVPS X, Z28, X

// func mapAvx512(f int, dst, src *float32, n int, c *[32]float32)
TEXT ·mapAvx512(SB), NOSPLIT, $0-40
	MOVQ f+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS 0(R8), Z16
	VBROADCASTSS 4(R8), Z17
	VBROADCASTSS 8(R8), Z18
	VBROADCASTSS 12(R8), Z19
	VBROADCASTSS 16(R8), Z20
	VBROADCASTSS 20(R8), Z21
	VBROADCASTSS 24(R8), Z22
	VBROADCASTSS 28(R8), Z23
	VBROADCASTSS 32(R8), Z24
	VBROADCASTSS 36(R8), Z25
	VBROADCASTSS 40(R8), Z26
	VBROADCASTSS 44(R8), Z27
	VBROADCASTSS 48(R8), Z28
	VBROADCASTSS 52(R8), Z29
	VBROADCASTSS 56(R8), Z30
	VBROADCASTSS 60(R8), Z31
	VBROADCASTSS 64(R8), Z10
	VBROADCASTSS 68(R8), Z11
	VBROADCASTSS 72(R8), Z12
	VBROADCASTSS 76(R8), Z13
	VBROADCASTSS 80(R8), Z14
	VBROADCASTSS 84(R8), Z15
	VBROADCASTSS 88(R8), Z9
	VBROADCASTSS 92(R8), Z8
	CMPQ AX, $1
	JEQ  sig512
	CMPQ AX, $2
	JEQ  silu512
	CMPQ AX, $3
	JEQ  tanh512
	CMPQ AX, $4
	JEQ  nee512
	CMPQ AX, $5
	JEQ  v7d512
	CMPQ AX, $6
	JEQ  relu512

exp512:
	VMOVUPS (SI), Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     exp512
	JMP     done512

sig512:
	VMOVUPS (SI), Z0
	SIG512(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     sig512
	JMP     done512

silu512:
	VMOVUPS (SI), Z0
	VMOVAPS Z0, Z4
	SIG512(Z4, Z1, Z2, Z3)
	VMULPS  Z4, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     silu512
	JMP     done512

nee512:
	VMOVUPS (SI), Z0
	EXP512(Z0, Z1, Z2, Z3)
	VPXORD  Z30, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     nee512
	JMP     done512

v7d512:
	VMOVUPS (SI), Z0
	SIG512(Z0, Z1, Z2, Z3)
	VMULPS  Z8, Z0, Z0
	EXP512(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     v7d512
	JMP     done512

// Tanh: Z5 = |x|, Z6 the exponential branch, Z7 the polynomial, K1 = |x| <
// tanhLo (Z10) selects it. Z11 2, Z12-Z15 and Z9 tanhT0-tanhT4.
tanh512:
	VMOVUPS   (SI), Z0
	VPANDD    Z31, Z0, Z5
	VADDPS    Z5, Z5, Z6
	EXP512(Z6, Z1, Z2, Z3)
	VADDPS    Z28, Z6, Z6
	VDIVPS    Z6, Z11, Z6
	VSUBPS    Z6, Z28, Z6
	VPANDD    Z30, Z0, Z4
	VPORD     Z4, Z6, Z6
	VMULPS    Z0, Z0, Z1
	VMULPS    Z12, Z1, Z7
	VADDPS    Z13, Z7, Z7
	VMULPS    Z1, Z7, Z7
	VADDPS    Z14, Z7, Z7
	VMULPS    Z1, Z7, Z7
	VADDPS    Z15, Z7, Z7
	VMULPS    Z1, Z7, Z7
	VADDPS    Z9, Z7, Z7
	VMULPS    Z1, Z7, Z7
	VMULPS    Z0, Z7, Z7
	VADDPS    Z0, Z7, Z7
	VCMPPS    $1, Z10, Z5, K1
	VBLENDMPS Z7, Z6, K1, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       tanh512

	JMP       done512

// ReLUSquare: the max returns its second source, 0, for a NaN or a zero x.
relu512:
	VPXORD Z7, Z7, Z7

relu512loop:
	VMOVUPS (SI), Z0
	VMAXPS  Z7, Z0, Z0
	VMULPS  Z0, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     relu512loop

done512:
	VZEROUPPER
	RET

// C256 broadcasts constant i of mapConsts (at R8) into T.
#define C256(i, T) VBROADCASTSS (i*4)(R8), T

// EXP256 sets X = Exp(X); clobbers T0, T1, T2, T3.
#define EXP256(X, T0, T1, T2, T3) \
	C256(0, T3)            \
	VMAXPS     X, T3, X    \
	C256(1, T3)            \
	VMINPS     X, T3, X    \
	C256(2, T3)            \
	VMULPS     T3, X, T0   \
	C256(3, T3)            \
	VADDPS     T3, T0, T0  \
	VSUBPS     T3, T0, T0  \
	C256(4, T3)            \
	VMULPS     T3, T0, T1  \
	VSUBPS     T1, X, X    \
	C256(5, T3)            \
	VMULPS     T3, T0, T1  \
	VSUBPS     T1, X, X    \
	VMULPS     X, X, T2    \
	C256(6, T3)            \
	VMULPS     T3, X, T1   \
	C256(7, T3)            \
	VADDPS     T3, T1, T1  \
	VMULPS     X, T1, T1   \
	C256(8, T3)            \
	VADDPS     T3, T1, T1  \
	VMULPS     X, T1, T1   \
	C256(9, T3)            \
	VADDPS     T3, T1, T1  \
	VMULPS     X, T1, T1   \
	C256(10, T3)           \
	VADDPS     T3, T1, T1  \
	VMULPS     X, T1, T1   \
	C256(11, T3)           \
	VADDPS     T3, T1, T1  \
	VMULPS     T2, T1, T1  \
	VADDPS     X, T1, T1   \
	C256(12, T3)           \
	VADDPS     T3, T1, T1  \
	VCVTTPS2DQ T0, T0      \
	VPSRAD     $1, T0, T2  \
	VPSUBD     T2, T0, T0  \
	C256(13, T3)           \
	VPADDD     T3, T2, T2  \
	VPSLLD     $23, T2, T2 \
	VPADDD     T3, T0, T0  \
	VPSLLD     $23, T0, T0 \
	VMULPS     T2, T1, T1  \
	VMULPS     T0, T1, X

// SIG256 sets X = Sigmoid(X); clobbers T0-T3.
#define SIG256(X, T0, T1, T2, T3) \
	C256(14, T3)               \
	VXORPS T3, X, X            \
	EXP256(X, T0, T1, T2, T3)  \
	C256(12, T3)               \
	VADDPS T3, X, X            \
	VDIVPS X, T3, X

// func mapAvx2(f int, dst, src *float32, n int, c *[32]float32)
TEXT ·mapAvx2(SB), NOSPLIT, $0-40
	MOVQ f+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	CMPQ AX, $1
	JEQ  sig256
	CMPQ AX, $2
	JEQ  silu256
	CMPQ AX, $3
	JEQ  tanh256
	CMPQ AX, $4
	JEQ  nee256
	CMPQ AX, $5
	JEQ  v7d256
	CMPQ AX, $6
	JEQ  relu256

exp256:
	VMOVUPS (SI), Y0
	EXP256(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     exp256
	JMP     done256

sig256:
	VMOVUPS (SI), Y0
	SIG256(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     sig256
	JMP     done256

silu256:
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y5
	SIG256(Y5, Y1, Y2, Y3, Y4)
	VMULPS  Y5, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     silu256
	JMP     done256

nee256:
	VMOVUPS (SI), Y0
	EXP256(Y0, Y1, Y2, Y3, Y4)
	C256(14, Y4)
	VXORPS  Y4, Y0, Y0
	EXP256(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     nee256
	JMP     done256

v7d256:
	VMOVUPS (SI), Y0
	SIG256(Y0, Y1, Y2, Y3, Y4)
	C256(23, Y4)
	VMULPS  Y4, Y0, Y0
	EXP256(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     v7d256
	JMP     done256

// Tanh: Y5 = |x|, Y6 the exponential branch, Y7 the polynomial, Y8 the
// mask |x| < tanhLo that selects it.
tanh256:
	VMOVUPS   (SI), Y0
	C256(15, Y4)
	VANDPS    Y4, Y0, Y5
	VADDPS    Y5, Y5, Y6
	EXP256(Y6, Y1, Y2, Y3, Y4)
	C256(12, Y4)
	VADDPS    Y4, Y6, Y6
	C256(17, Y3)
	VDIVPS    Y6, Y3, Y6
	VSUBPS    Y6, Y4, Y6
	C256(14, Y4)
	VANDPS    Y4, Y0, Y4
	VORPS     Y4, Y6, Y6
	VMULPS    Y0, Y0, Y1
	C256(18, Y4)
	VMULPS    Y4, Y1, Y7
	C256(19, Y4)
	VADDPS    Y4, Y7, Y7
	VMULPS    Y1, Y7, Y7
	C256(20, Y4)
	VADDPS    Y4, Y7, Y7
	VMULPS    Y1, Y7, Y7
	C256(21, Y4)
	VADDPS    Y4, Y7, Y7
	VMULPS    Y1, Y7, Y7
	C256(22, Y4)
	VADDPS    Y4, Y7, Y7
	VMULPS    Y1, Y7, Y7
	VMULPS    Y0, Y7, Y7
	VADDPS    Y0, Y7, Y7
	C256(16, Y4)
	VCMPPS    $1, Y4, Y5, Y8
	VBLENDVPS Y8, Y7, Y6, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       tanh256

	JMP       done256

relu256:
	VXORPS Y7, Y7, Y7

relu256loop:
	VMOVUPS (SI), Y0
	VMAXPS  Y7, Y0, Y0
	VMULPS  Y0, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     relu256loop

done256:
	VZEROUPPER
	RET
