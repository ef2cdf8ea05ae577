// AVX2 and AVX-512 kernels of the sampler's dense passes (see weights_amd64.go).

//go:build amd64 && !purego

#include "textflag.h"

// The arguments of the eight-threshold kernels: src (SI), n (CX), ref
// (Z18), invT (Z19), ths (R8) and out (DI).
#define A8ARGS \
	MOVQ src+0(FP), SI \
	MOVQ n+8(FP), CX \
	VBROADCASTSD ref+16(FP), Z18 \
	VBROADCASTSD invT+24(FP), Z19 \
	MOVQ ths+32(FP), R8 \
	MOVQ out+40(FP), DI

DATA expMaxE<>+0(SB)/8, $0x4044000000000000
DATA expMaxE<>+8(SB)/8, $0x4044000000000000
DATA expMaxE<>+16(SB)/8, $0x4044000000000000
DATA expMaxE<>+24(SB)/8, $0x4044000000000000
GLOBL expMaxE<>(SB), RODATA|NOPTR, $32

DATA expInv<>+0(SB)/8, $0x40771547652b82fe
DATA expInv<>+8(SB)/8, $0x40771547652b82fe
DATA expInv<>+16(SB)/8, $0x40771547652b82fe
DATA expInv<>+24(SB)/8, $0x40771547652b82fe
GLOBL expInv<>(SB), RODATA|NOPTR, $32

DATA expShift<>+0(SB)/8, $0x4338000000000000
DATA expShift<>+8(SB)/8, $0x4338000000000000
DATA expShift<>+16(SB)/8, $0x4338000000000000
DATA expShift<>+24(SB)/8, $0x4338000000000000
GLOBL expShift<>(SB), RODATA|NOPTR, $32

DATA expStepC<>+0(SB)/8, $0x3f662e42fefa39ef
DATA expStepC<>+8(SB)/8, $0x3f662e42fefa39ef
DATA expStepC<>+16(SB)/8, $0x3f662e42fefa39ef
DATA expStepC<>+24(SB)/8, $0x3f662e42fefa39ef
GLOBL expStepC<>(SB), RODATA|NOPTR, $32

DATA expC6<>+0(SB)/8, $0x3fc5555555555555
DATA expC6<>+8(SB)/8, $0x3fc5555555555555
DATA expC6<>+16(SB)/8, $0x3fc5555555555555
DATA expC6<>+24(SB)/8, $0x3fc5555555555555
GLOBL expC6<>(SB), RODATA|NOPTR, $32

DATA expHalf<>+0(SB)/8, $0x3fe0000000000000
DATA expHalf<>+8(SB)/8, $0x3fe0000000000000
DATA expHalf<>+16(SB)/8, $0x3fe0000000000000
DATA expHalf<>+24(SB)/8, $0x3fe0000000000000
GLOBL expHalf<>(SB), RODATA|NOPTR, $32

DATA expOne<>+0(SB)/8, $0x3ff0000000000000
DATA expOne<>+8(SB)/8, $0x3ff0000000000000
DATA expOne<>+16(SB)/8, $0x3ff0000000000000
DATA expOne<>+24(SB)/8, $0x3ff0000000000000
GLOBL expOne<>(SB), RODATA|NOPTR, $32

DATA expMask255<>+0(SB)/8, $0x00000000000000ff
DATA expMask255<>+8(SB)/8, $0x00000000000000ff
DATA expMask255<>+16(SB)/8, $0x00000000000000ff
DATA expMask255<>+24(SB)/8, $0x00000000000000ff
GLOBL expMask255<>(SB), RODATA|NOPTR, $32

DATA expKBias<>+0(SB)/8, $0x0000000000044c00
DATA expKBias<>+8(SB)/8, $0x0000000000044c00
DATA expKBias<>+16(SB)/8, $0x0000000000044c00
DATA expKBias<>+24(SB)/8, $0x0000000000044c00
GLOBL expKBias<>(SB), RODATA|NOPTR, $32

DATA expEBias<>+0(SB)/8, $0x44c0000000000000
DATA expEBias<>+8(SB)/8, $0x44c0000000000000
DATA expEBias<>+16(SB)/8, $0x44c0000000000000
DATA expEBias<>+24(SB)/8, $0x44c0000000000000
GLOBL expEBias<>(SB), RODATA|NOPTR, $32

// func expWeightsAVX2(src *float32, n int, ref, invT, th0, th1, lowE float64) (sumW, sumWE, sum0, sum1 float64)
//
// For i in [0, n) (n a multiple of 4): e = min((float64(src[i]) - ref) *
// invT, 40); w = 0 if !(e >= lowE) (lowE >= -100), else 2^(k>>8) * tab[k&255] * P(r) with
// k = round(e*256/ln2), r = e - k*ln2/256 and P(r) = 1 + r*(1 + r*(1/2 +
// r/6)), as expNeg. Returns the sums of w, of w*e (e taken as 0 where w is
// 0), and of w over the tokens with e >= th0 and with e >= th1 (th0, th1 >=
// lowE).
TEXT ·expWeightsAVX2(SB), NOSPLIT, $0-88
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD ref+16(FP), Y10
	VBROADCASTSD invT+24(FP), Y11
	LEAQ ·expTab(SB), R9
	VXORPD Y12, Y12, Y12
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14
	VXORPD Y15, Y15, Y15
	XORQ AX, AX
	CMPQ AX, CX
	JAE done
loop:
	VCVTPS2PD (SI)(AX*4), Y0
	VSUBPD Y10, Y0, Y0
	VMULPD Y11, Y0, Y0
	VMINPD expMaxE<>(SB), Y0, Y0
	VBROADCASTSD lowE+48(FP), Y7
	VCMPPD $0x1d, Y7, Y0, Y7
	VANDPD Y7, Y0, Y9
	VMOVAPD Y0, Y1
	VMOVUPD expInv<>(SB), Y2
	VFMADD213PD expShift<>(SB), Y2, Y1
	VSUBPD expShift<>(SB), Y1, Y2
	VFNMADD231PD expStepC<>(SB), Y2, Y0
	VMOVUPD expC6<>(SB), Y3
	VFMADD213PD expHalf<>(SB), Y0, Y3
	VFMADD213PD expOne<>(SB), Y0, Y3
	VFMADD213PD expOne<>(SB), Y0, Y3
	VPSUBQ expShift<>(SB), Y1, Y4
	VPAND expMask255<>(SB), Y4, Y5
	VPCMPEQD Y6, Y6, Y6
	VXORPD Y8, Y8, Y8
	VGATHERQPD Y6, (R9)(Y5*8), Y8
	VMULPD Y3, Y8, Y8
	VPADDQ expKBias<>(SB), Y4, Y4
	VPSRLQ $8, Y4, Y4
	VPSLLQ $52, Y4, Y4
	VPADDQ Y4, Y8, Y8
	VPSUBQ expEBias<>(SB), Y8, Y8
	VANDPD Y7, Y8, Y8
	VADDPD Y8, Y12, Y12
	VFMADD231PD Y9, Y8, Y13
	VBROADCASTSD th0+32(FP), Y1
	VCMPPD $0x1d, Y1, Y9, Y1
	VANDPD Y8, Y1, Y1
	VADDPD Y1, Y14, Y14
	VBROADCASTSD th1+40(FP), Y2
	VCMPPD $0x1d, Y2, Y9, Y2
	VANDPD Y8, Y2, Y2
	VADDPD Y2, Y15, Y15
	ADDQ $4, AX
	CMPQ AX, CX
	JB loop
done:
	VEXTRACTF128 $1, Y12, X0
	VADDPD X0, X12, X0
	VHADDPD X0, X0, X0
	MOVSD X0, sumW+56(FP)
	VEXTRACTF128 $1, Y13, X1
	VADDPD X1, X13, X1
	VHADDPD X1, X1, X1
	MOVSD X1, sumWE+64(FP)
	VEXTRACTF128 $1, Y14, X2
	VADDPD X2, X14, X2
	VHADDPD X2, X2, X2
	MOVSD X2, sum0+72(FP)
	VEXTRACTF128 $1, Y15, X3
	VADDPD X3, X15, X3
	VHADDPD X3, X3, X3
	MOVSD X3, sum1+80(FP)
	VZEROUPPER
	RET

DATA maxNegInf<>+0(SB)/4, $0xff800000
GLOBL maxNegInf<>(SB), RODATA|NOPTR, $4

// func maxF32AVX2(src *float32, n int) (mx float32, nan bool)
//
// Returns the largest of src[:n] (n a multiple of 8, NaNs ignored; -Inf for
// n = 0) and whether any is NaN.
TEXT ·maxF32AVX2(SB), NOSPLIT, $0-21
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS maxNegInf<>(SB), Y1
	VMOVAPS Y1, Y4
	VXORPS Y3, Y3, Y3
	VXORPS Y5, Y5, Y5
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX
	CMPQ AX, DX
	JAE tail8
loop16:
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y6
	VCMPPS $3, Y0, Y0, Y2
	VORPS Y2, Y3, Y3
	VCMPPS $3, Y6, Y6, Y7
	VORPS Y7, Y5, Y5
	VMAXPS Y1, Y0, Y1
	VMAXPS Y4, Y6, Y4
	ADDQ $16, AX
	CMPQ AX, DX
	JB loop16
tail8:
	CMPQ AX, CX
	JAE reduce
	VMOVUPS (SI)(AX*4), Y0
	VCMPPS $3, Y0, Y0, Y2
	VORPS Y2, Y3, Y3
	VMAXPS Y1, Y0, Y1
reduce:
	VMAXPS Y4, Y1, Y1
	VORPS Y5, Y3, Y3
	VEXTRACTF128 $1, Y1, X0
	VMAXPS X0, X1, X1
	VPERMILPS $0x4e, X1, X0
	VMAXPS X0, X1, X1
	VPERMILPS $0xb1, X1, X0
	VMAXPS X0, X1, X1
	MOVSS X1, mx+16(FP)
	VPTEST Y3, Y3
	SETNE nan+20(FP)
	VZEROUPPER
	RET

// func geIndicesAVX2(src *float32, n int, th float32, out *int32) (count int)
//
// Writes to out, in ascending order, the indices i < n (n a multiple of 8)
// with src[i] >= th, and returns their number.
TEXT ·geIndicesAVX2(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS th+16(FP), Y1
	MOVQ out+24(FP), DI
	XORQ AX, AX
	XORQ R8, R8
geloop:
	CMPQ AX, CX
	JAE gedone
	VMOVUPS (SI)(AX*4), Y0
	VCMPPS $0x1d, Y1, Y0, Y2
	VMOVMSKPS Y2, DX
	TESTL DX, DX
	JZ genext
gebits:
	BSFL DX, BX
	LEAQ (AX)(BX*1), R9
	MOVL R9, (DI)(R8*4)
	INCQ R8
	LEAL -1(DX), R10
	ANDL R10, DX
	JNZ gebits
genext:
	ADDQ $8, AX
	JMP geloop
gedone:
	MOVQ R8, count+32(FP)
	VZEROUPPER
	RET

DATA expInv256<>+0(SB)/8, $0x3f70000000000000
GLOBL expInv256<>(SB), RODATA|NOPTR, $8

// Z0..Z7 zeroed.
#define ZERO8 \
	VXORPD Z0, Z0, Z0 \
	VXORPD Z1, Z1, Z1 \
	VXORPD Z2, Z2, Z2 \
	VXORPD Z3, Z3, Z3 \
	VXORPD Z4, Z4, Z4 \
	VXORPD Z5, Z5, Z5 \
	VXORPD Z6, Z6, Z6 \
	VXORPD Z7, Z7, Z7

// One group of 8 lanes of expWeightsAVX512: the float32 logits at off(SI)(AX*4)
// into e (T0), the weight into T1, accumulated under masks KA (e >= lowE),
// KB (e >= th0) and KC (e >= th1) into the accumulators AW, AWE, A4, A8.
// T2..T4 are scratch. Constants: Z18 ref, Z19 invT, Z20 256/ln2, Z21
// 1.5*2^52, Z22 ln2/256, Z23 1/6, Z24 1/2, Z25 1, Z26 th0, Z27 th1, Z28/Z29
// 2^(h/16) for h = 0..15, Z30/Z31 2^(l/256) for l = 0..15.
#define WEIGHTS8(off, T0, T1, T2, T3, T4, KA, KB, KC, AW, AWE, A4, A8) \
	EXPE8(off, T0) \
	VCMPPD.BCST $0x1d, lowE+48(FP), T0, KA \
	EXPW8(T0, T1, T2, T3, T4) \
	ACC3(T0, T1, KB, KC, KA, AW, AWE, A4, A8)

// The exponent e = min((float64(logit) - ref) * invT, 40) of the 8 float32
// logits at off(SI)(AX*4) into T0 (Z18 ref, Z19 invT).
#define EXPE8(off, T0) \
	VCVTPS2PD off(SI)(AX*4), T0 \
	VSUBPD Z18, T0, T0 \
	VMULPD Z19, T0, T0 \
	VMINPD.BCST expMaxE<>(SB), T0, T0

// The weight of the exponents T0 into T1, as expNeg with the two-table
// factor (see WEIGHTS8 for the constants); T2..T4 are scratch.
#define EXPW8(T0, T1, T2, T3, T4) \
	VMOVAPD T0, T1 \
	VFMADD213PD Z21, Z20, T1 \
	VSUBPD Z21, T1, T2 \
	VMOVAPD T0, T3 \
	VFNMADD231PD Z22, T2, T3 \
	VMOVAPD Z23, T4 \
	VFMADD213PD Z24, T3, T4 \
	VFMADD213PD Z25, T3, T4 \
	VFMADD213PD Z25, T3, T4 \
	VPSRLQ $4, T1, T3 \
	VPERMI2PD Z29, Z28, T3 \
	VPERMI2PD Z31, Z30, T1 \
	VMULPD T3, T1, T1 \
	VMULPD T4, T1, T1 \
	VMULPD.BCST expInv256<>(SB), T2, T2 \
	VSCALEFPD T2, T1, T1

// The weights T1 of the exponents T0 added into AW (and w*e into AWE)
// under the mask KA (e >= lowE, set by the caller), into A4 where e >= th0
// (Z26) and into A8 where e >= th1 (Z27); KB and KC are scratch.
#define ACC3(T0, T1, KB, KC, KA, AW, AWE, A4, A8) \
	VCMPPD $0x1d, Z26, T0, KB \
	VCMPPD $0x1d, Z27, T0, KC \
	VADDPD T1, AW, KA, AW \
	VFMADD231PD T0, T1, KA, AWE \
	VADDPD T1, A4, KB, A4 \
	VADDPD T1, A8, KC, A8

// func expWeightsAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64) (sumW, sumWE, sum0, sum1 float64)
//
// expWeightsAVX2 with AVX-512 over n a multiple of 8, 16 lanes per
// iteration in two accumulator sets. The table factor 2^(j/256) (j = k&255)
// is 2^((j>>4)/16) * 2^((j&15)/256), two 16-entry tables looked up with
// VPERMI2PD (one more rounding than expTab[j]); 2^(k>>8) is applied with
// VSCALEFPD.
// The arguments src (SI) and n (CX), the constants of WEIGHTS8 (see there)
// and zeroed accumulators Z0..Z7 of the weight kernels (arguments at the
// offsets of expWeightsAVX512's).
#define WSETUP \
	MOVQ src+0(FP), SI \
	MOVQ n+8(FP), CX \
	VBROADCASTSD ref+16(FP), Z18 \
	VBROADCASTSD invT+24(FP), Z19 \
	VBROADCASTSD expInv<>(SB), Z20 \
	VBROADCASTSD expShift<>(SB), Z21 \
	VBROADCASTSD expStepC<>(SB), Z22 \
	VBROADCASTSD expC6<>(SB), Z23 \
	VBROADCASTSD expHalf<>(SB), Z24 \
	VBROADCASTSD expOne<>(SB), Z25 \
	VBROADCASTSD th0+32(FP), Z26 \
	VBROADCASTSD th1+40(FP), Z27 \
	VMOVUPD ·expTabHi+0(SB), Z28 \
	VMOVUPD ·expTabHi+64(SB), Z29 \
	VMOVUPD ·expTabLo+0(SB), Z30 \
	VMOVUPD ·expTabLo+64(SB), Z31 \
	ZERO8

// The two accumulator sets of the weight kernels added and their four
// horizontal sums stored to r0..r3.
#define WFINISH(r0, r1, r2, r3) \
	VADDPD Z4, Z0, Z0 \
	VADDPD Z5, Z1, Z1 \
	VADDPD Z6, Z2, Z2 \
	VADDPD Z7, Z3, Z3 \
	HSUMTO(Z0, Y0, X0, r0) \
	HSUMTO(Z1, Y1, X1, r1) \
	HSUMTO(Z2, Y2, X2, r2) \
	HSUMTO(Z3, Y3, X3, r3)

// The horizontal sum of the 8 lanes of Z (Y, X its lower halves) stored
// to dst; Y13/X13 are scratch.
#define HSUMTO(Z, Y, X, dst) \
	VEXTRACTF64X4 $1, Z, Y13 \
	VADDPD Y13, Y, Y \
	VEXTRACTF128 $1, Y, X13 \
	VADDPD X13, X, X \
	VHADDPD X, X, X \
	MOVSD X, dst

TEXT ·expWeightsAVX512(SB), NOSPLIT, $0-88
	WSETUP
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX
	CMPQ AX, DX
	JAE w512tail
w512loop:
	WEIGHTS8(0, Z8, Z9, Z10, Z11, Z12, K1, K2, K3, Z0, Z1, Z2, Z3)
	WEIGHTS8(32, Z13, Z14, Z15, Z16, Z17, K4, K5, K6, Z4, Z5, Z6, Z7)
	ADDQ $16, AX
	CMPQ AX, DX
	JB w512loop
w512tail:
	CMPQ AX, CX
	JAE w512done
	WEIGHTS8(0, Z8, Z9, Z10, Z11, Z12, K1, K2, K3, Z0, Z1, Z2, Z3)
w512done:
	WFINISH(sumW+56(FP), sumWE+64(FP), sum0+72(FP), sum1+80(FP))
	VZEROUPPER
	RET

// The body of the weight kernels after their set-up: G16 over each 16
// tokens (AX the index, DX the multiple of 16 below n in CX), G8 over the
// last 8, then the sums stored to r0..r3. loop, tail and done are the
// kernel's labels.
#define WBODY(G16, G8, loop, tail, done, r0, r1, r2, r3) \
	XORQ AX, AX \
	MOVQ CX, DX \
	ANDQ $-16, DX \
	CMPQ AX, DX \
	JAE tail \
loop: \
	G16 \
	ADDQ $16, AX \
	CMPQ AX, DX \
	JB loop \
tail: \
	CMPQ AX, CX \
	JAE done \
	G8 \
done: \
	WFINISH(r0, r1, r2, r3) \
	VZEROUPPER \
	RET

// Each 16 and the last 8 tokens of expWeightsStoreAVX512.
#define WSTORE16 \
	WEIGHTS8(0, Z8, Z9, Z10, Z11, Z12, K1, K2, K3, Z0, Z1, Z2, Z3) \
	VMOVUPD Z9, (DI)(AX*8) \
	WEIGHTS8(32, Z13, Z14, Z15, Z16, Z17, K4, K5, K6, Z4, Z5, Z6, Z7) \
	VMOVUPD Z14, 64(DI)(AX*8)
#define WSTORE8 \
	WEIGHTS8(0, Z8, Z9, Z10, Z11, Z12, K1, K2, K3, Z0, Z1, Z2, Z3) \
	VMOVUPD Z9, (DI)(AX*8)

// One group of 8 lanes of expWeightsSumStoreAVX512: WEIGHTS8 without the
// sums of w*e and above th0 and th1, the weight stored to woff(DI)(AX*8).
#define WSUM8(off, woff, T0, T1, T2, T3, T4, KA, AW) \
	EXPE8(off, T0) \
	VCMPPD.BCST $0x1d, lowE+48(FP), T0, KA \
	EXPW8(T0, T1, T2, T3, T4) \
	VADDPD T1, AW, KA, AW \
	VMOVUPD T1, woff(DI)(AX*8)

// Each 16 and the last 8 tokens of expWeightsSumStoreAVX512.
#define WSUM16 \
	WSUM8(0, 0, Z8, Z9, Z10, Z11, Z12, K1, Z0) \
	WSUM8(32, 64, Z13, Z14, Z15, Z16, Z17, K4, Z4)
#define WSUM8TAIL WSUM8(0, 0, Z8, Z9, Z10, Z11, Z12, K1, Z0)

// func expWeightsSumStoreAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64, dst *float64) (sumW, sumWE, sum0, sum1 float64)
//
// expWeightsStoreAVX512 for a pass that needs only the sum of the weights
// (the other three sums are 0): sumW and the stored weights the same bits.
TEXT ·expWeightsSumStoreAVX512(SB), NOSPLIT, $0-96
	MOVQ dst+56(FP), DI
	WSETUP
	WBODY(WSUM16, WSUM8TAIL, wss512loop, wss512tail, wss512done, sumW+64(FP), sumWE+72(FP), sum0+80(FP), sum1+88(FP))

// func expWeightsStoreAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64, dst *float64) (sumW, sumWE, sum0, sum1 float64)
//
// expWeightsAVX512, also storing each token's weight (before the floor
// lowE's mask) to dst[:n].
TEXT ·expWeightsStoreAVX512(SB), NOSPLIT, $0-96
	MOVQ dst+56(FP), DI
	WSETUP
	WBODY(WSTORE16, WSTORE8, ws512loop, ws512tail, ws512done, sumW+64(FP), sumWE+72(FP), sum0+80(FP), sum1+88(FP))

// One group of 8 lanes of storedWeightsAVX512: WEIGHTS8 with the weights
// loaded from woff(DI)(AX*8) instead of computed.
#define STORED8(off, woff, T0, T1, KA, KB, KC, AW, AWE, A4, A8) \
	EXPE8(off, T0) \
	VCMPPD.BCST $0x1d, lowE+48(FP), T0, KA \
	VMOVUPD woff(DI)(AX*8), T1 \
	ACC3(T0, T1, KB, KC, KA, AW, AWE, A4, A8)

// Each 16 and the last 8 tokens of storedWeightsAVX512.
#define WSTORED16 \
	STORED8(0, 0, Z8, Z9, K1, K2, K3, Z0, Z1, Z2, Z3) \
	STORED8(32, 64, Z13, Z14, K4, K5, K6, Z4, Z5, Z6, Z7)
#define WSTORED8 STORED8(0, 0, Z8, Z9, K1, K2, K3, Z0, Z1, Z2, Z3)

// func storedWeightsAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64, w *float64) (sumW, sumWE, sum0, sum1 float64)
//
// expWeightsAVX512 over the weights w[:n] that expWeightsStoreAVX512
// stored for src[:n] with the same ref and invT: the same sums, bit for
// bit, without evaluating exp.
TEXT ·storedWeightsAVX512(SB), NOSPLIT, $0-96
	MOVQ w+56(FP), DI
	WSETUP
	WBODY(WSTORED16, WSTORED8, sw512loop, sw512tail, sw512done, sumW+64(FP), sumWE+72(FP), sum0+80(FP), sum1+88(FP))

DATA momNegInf<>+0(SB)/8, $0xfff0000000000000
GLOBL momNegInf<>(SB), RODATA|NOPTR, $8

// func momentsAVX512(src *float32, n int, c float64) (cnt int, s1, s2 float64)
//
// Over the values x of src[:n] (n a multiple of 16) other than -Inf: their
// number, the sum of d = float64(x) - c and the sum of d*d, in two
// accumulator sets of 8 lanes.
TEXT ·momentsAVX512(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD c+16(FP), Z16
	VBROADCASTSD momNegInf<>(SB), Z17
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3
	XORQ AX, AX
	XORQ R8, R8
	CMPQ AX, CX
	JAE momdone
momloop:
	VCVTPS2PD (SI)(AX*4), Z4
	VCVTPS2PD 32(SI)(AX*4), Z5
	VCMPPD $0x1e, Z17, Z4, K1
	VCMPPD $0x1e, Z17, Z5, K2
	VSUBPD Z16, Z4, Z4
	VSUBPD Z16, Z5, Z5
	VADDPD Z4, Z0, K1, Z0
	VADDPD Z5, Z1, K2, Z1
	VFMADD231PD Z4, Z4, K1, Z2
	VFMADD231PD Z5, Z5, K2, Z3
	KMOVB K1, BX
	KMOVB K2, DX
	POPCNTL BX, BX
	POPCNTL DX, DX
	ADDQ BX, R8
	ADDQ DX, R8
	ADDQ $16, AX
	CMPQ AX, CX
	JB momloop
momdone:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z0, Y8
	VADDPD Y8, Y0, Y0
	VEXTRACTF128 $1, Y0, X8
	VADDPD X8, X0, X0
	VHADDPD X0, X0, X0
	MOVSD X0, s1+32(FP)
	VEXTRACTF64X4 $1, Z2, Y8
	VADDPD Y8, Y2, Y2
	VEXTRACTF128 $1, Y2, X8
	VADDPD X8, X2, X2
	VHADDPD X2, X2, X2
	MOVSD X2, s2+40(FP)
	MOVQ R8, cnt+24(FP)
	VZEROUPPER
	RET

DATA geIota<>+0(SB)/4, $0
DATA geIota<>+4(SB)/4, $1
DATA geIota<>+8(SB)/4, $2
DATA geIota<>+12(SB)/4, $3
DATA geIota<>+16(SB)/4, $4
DATA geIota<>+20(SB)/4, $5
DATA geIota<>+24(SB)/4, $6
DATA geIota<>+28(SB)/4, $7
DATA geIota<>+32(SB)/4, $8
DATA geIota<>+36(SB)/4, $9
DATA geIota<>+40(SB)/4, $10
DATA geIota<>+44(SB)/4, $11
DATA geIota<>+48(SB)/4, $12
DATA geIota<>+52(SB)/4, $13
DATA geIota<>+56(SB)/4, $14
DATA geIota<>+60(SB)/4, $15
GLOBL geIota<>(SB), RODATA|NOPTR, $64

DATA geSixteen<>+0(SB)/4, $16
GLOBL geSixteen<>(SB), RODATA|NOPTR, $4

// func geIndicesAVX512(src *float32, n int, th float32, out *int32) (count int)
//
// geIndicesAVX2 with AVX-512 over n a multiple of 16: the indices of each
// 16 values are compressed in a register and stored whole, so out must
// have room for n+16.
TEXT ·geIndicesAVX512(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS th+16(FP), Z1
	MOVQ out+24(FP), DI
	VMOVDQU32 geIota<>(SB), Z3
	VPBROADCASTD geSixteen<>(SB), Z4
	XORQ AX, AX
	XORQ R8, R8
ge512loop:
	CMPQ AX, CX
	JAE ge512done
	VMOVUPS (SI)(AX*4), Z0
	VCMPPS $0x1d, Z1, Z0, K1
	KORTESTW K1, K1
	JZ ge512next
	VPCOMPRESSD Z3, K1, Z2
	VMOVDQU32 Z2, (DI)(R8*4)
	KMOVW K1, BX
	POPCNTL BX, BX
	ADDQ BX, R8
ge512next:
	VPADDD Z4, Z3, Z3
	ADDQ $16, AX
	JMP ge512loop
ge512done:
	MOVQ R8, count+32(FP)
	VZEROUPPER
	RET

// func rangeIndicesAVX512(src *float32, n int, lo, hi float32, out *int32) (count int)
//
// geIndicesAVX512 with the indices of lo <= src[i] <= hi; out must have room
// for n+16.
TEXT ·rangeIndicesAVX512(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS lo+16(FP), Z1
	VBROADCASTSS hi+20(FP), Z5
	MOVQ out+24(FP), DI
	VMOVDQU32 geIota<>(SB), Z3
	VPBROADCASTD geSixteen<>(SB), Z4
	XORQ AX, AX
	XORQ R8, R8
rg512loop:
	CMPQ AX, CX
	JAE rg512done
	VMOVUPS (SI)(AX*4), Z0
	VCMPPS $0x1d, Z1, Z0, K1
	VCMPPS $0x12, Z5, Z0, K2
	KANDW K2, K1, K1
	KORTESTW K1, K1
	JZ rg512next
	VPCOMPRESSD Z3, K1, Z2
	VMOVDQU32 Z2, (DI)(R8*4)
	KMOVW K1, BX
	POPCNTL BX, BX
	ADDQ BX, R8
rg512next:
	VPADDD Z4, Z3, Z3
	ADDQ $16, AX
	JMP rg512loop
rg512done:
	MOVQ R8, count+32(FP)
	VZEROUPPER
	RET

// One group of 8 lanes of expAbove8AVX512: the weight of the float32
// logits at off(SI)(AX*4) (as WEIGHTS8 computes it, into T1) added into
// Z0..Z7 under the masks e >= ths[j] (thresholds broadcast from (R8)).
// T0..T4 are scratch, KA and KB masks.
#define ABOVE8(off, T0, T1, T2, T3, T4, KA, KB) \
	EXPE8(off, T0) \
	EXPW8(T0, T1, T2, T3, T4) \
	ADD8(T0, T1, KA, KB)

// The weights T1 of the exponents T0 added into Z0..Z7 under the masks
// e >= ths[j] (thresholds broadcast from (R8)); KA and KB are scratch.
#define ADD8(T0, T1, KA, KB) \
	VCMPPD.BCST $0x1d, 0(R8), T0, KA \
	VCMPPD.BCST $0x1d, 8(R8), T0, KB \
	VADDPD T1, Z0, KA, Z0 \
	VADDPD T1, Z1, KB, Z1 \
	VCMPPD.BCST $0x1d, 16(R8), T0, KA \
	VCMPPD.BCST $0x1d, 24(R8), T0, KB \
	VADDPD T1, Z2, KA, Z2 \
	VADDPD T1, Z3, KB, Z3 \
	VCMPPD.BCST $0x1d, 32(R8), T0, KA \
	VCMPPD.BCST $0x1d, 40(R8), T0, KB \
	VADDPD T1, Z4, KA, Z4 \
	VADDPD T1, Z5, KB, Z5 \
	VCMPPD.BCST $0x1d, 48(R8), T0, KA \
	VCMPPD.BCST $0x1d, 56(R8), T0, KB \
	VADDPD T1, Z6, KA, Z6 \
	VADDPD T1, Z7, KB, Z7

// HSUMTO to off(DI).
#define HSUM8(Z, Y, X, off) HSUMTO(Z, Y, X, off(DI))

// The eight sums Z0..Z7 of the eight-threshold kernels stored to out[0..7]
// (at DI).
#define A8FINISH \
	HSUM8(Z0, Y0, X0, 0) \
	HSUM8(Z1, Y1, X1, 8) \
	HSUM8(Z2, Y2, X2, 16) \
	HSUM8(Z3, Y3, X3, 24) \
	HSUM8(Z4, Y4, X4, 32) \
	HSUM8(Z5, Y5, X5, 40) \
	HSUM8(Z6, Y6, X6, 48) \
	HSUM8(Z7, Y7, X7, 56)

// func expAbove8AVX512(src *float32, n int, ref, invT float64, ths, out *[8]float64)
//
// For src[:n] (n a multiple of 8): out[j] is the sum of the weights (as
// expWeightsAVX512 computes them) of the logits with e >= ths[j].
TEXT ·expAbove8AVX512(SB), NOSPLIT, $0-48
	A8ARGS
	VBROADCASTSD expInv<>(SB), Z20
	VBROADCASTSD expShift<>(SB), Z21
	VBROADCASTSD expStepC<>(SB), Z22
	VBROADCASTSD expC6<>(SB), Z23
	VBROADCASTSD expHalf<>(SB), Z24
	VBROADCASTSD expOne<>(SB), Z25
	VMOVUPD ·expTabHi+0(SB), Z28
	VMOVUPD ·expTabHi+64(SB), Z29
	VMOVUPD ·expTabLo+0(SB), Z30
	VMOVUPD ·expTabLo+64(SB), Z31
	ZERO8
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX
a8loop:
	CMPQ AX, DX
	JAE a8tail
	ABOVE8(0, Z8, Z9, Z10, Z11, Z12, K1, K2)
	ABOVE8(32, Z13, Z14, Z15, Z16, Z17, K3, K4)
	ADDQ $16, AX
	JMP a8loop
a8tail:
	CMPQ AX, CX
	JAE a8done
	ABOVE8(0, Z8, Z9, Z10, Z11, Z12, K1, K2)
a8done:
	A8FINISH
	VZEROUPPER
	RET

// One group of 8 lanes of storedAbove8AVX512: ABOVE8 with the weights
// loaded from woff(BX)(AX*8) instead of computed.
#define STOREDABOVE8(off, woff, T0, T1, KA, KB) \
	EXPE8(off, T0) \
	VMOVUPD woff(BX)(AX*8), T1 \
	ADD8(T0, T1, KA, KB)

// func storedAbove8AVX512(src *float32, n int, ref, invT float64, ths, out *[8]float64, w *float64)
//
// expAbove8AVX512 over the weights w[:n] that expWeightsStoreAVX512 stored
// for src[:n] with the same ref and invT: the same sums, bit for bit,
// without evaluating exp.
TEXT ·storedAbove8AVX512(SB), NOSPLIT, $0-56
	A8ARGS
	MOVQ w+48(FP), BX
	ZERO8
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX
sa8loop:
	CMPQ AX, DX
	JAE sa8tail
	STOREDABOVE8(0, 0, Z8, Z9, K1, K2)
	STOREDABOVE8(32, 64, Z13, Z14, K3, K4)
	ADDQ $16, AX
	JMP sa8loop
sa8tail:
	CMPQ AX, CX
	JAE sa8done
	STOREDABOVE8(0, 0, Z8, Z9, K1, K2)
sa8done:
	A8FINISH
	VZEROUPPER
	RET

// func argMaxF32AVX512(src *float32, n int) (mx float32, idx int, nan bool)
//
// maxF32AVX2 with AVX-512 (n a multiple of 16), also returning the lowest index of
// the largest value: two accumulator sets of 16 lanes (alternate groups of
// 16) keep each lane's largest value and its first index, merged lane by
// lane (the lower index on equal values), then the lowest index among the
// lanes holding the largest.
TEXT ·argMaxF32AVX512(SB), NOSPLIT, $0-33
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS maxNegInf<>(SB), Z1
	VMOVAPS Z1, Z5
	VPXORD Z2, Z2, Z2
	VPXORD Z6, Z6, Z6
	VMOVDQU32 geIota<>(SB), Z3
	VPBROADCASTD geSixteen<>(SB), Z4
	VPADDD Z4, Z3, Z7
	VPADDD Z4, Z4, Z8
	KXORW K3, K3, K3
	KXORW K4, K4, K4
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-32, DX
	CMPQ AX, DX
	JAE am512tail
am512loop:
	VMOVUPS (SI)(AX*4), Z0
	VMOVUPS 64(SI)(AX*4), Z9
	VCMPPS $3, Z0, Z0, K1
	VCMPPS $3, Z9, Z9, K2
	KORW K1, K3, K3
	KORW K2, K4, K4
	VCMPPS $0x1e, Z1, Z0, K1
	VCMPPS $0x1e, Z5, Z9, K2
	VMOVAPS Z0, K1, Z1
	VMOVAPS Z9, K2, Z5
	VMOVDQA32 Z3, K1, Z2
	VMOVDQA32 Z7, K2, Z6
	VPADDD Z8, Z3, Z3
	VPADDD Z8, Z7, Z7
	ADDQ $32, AX
	CMPQ AX, DX
	JB am512loop
am512tail:
	CMPQ AX, CX
	JAE am512merge
	VMOVUPS (SI)(AX*4), Z0
	VCMPPS $3, Z0, Z0, K1
	KORW K1, K3, K3
	VCMPPS $0x1e, Z1, Z0, K1
	VMOVAPS Z0, K1, Z1
	VMOVDQA32 Z3, K1, Z2
am512merge:
	KORW K4, K3, K3
	VCMPPS $0x1e, Z1, Z5, K1
	VCMPPS $0x00, Z1, Z5, K2
	VPCMPD $1, Z2, Z6, K5
	KANDW K5, K2, K2
	KORW K2, K1, K1
	VMOVAPS Z5, K1, Z1
	VMOVDQA32 Z6, K1, Z2
	VEXTRACTF64X4 $1, Z1, Y0
	VMAXPS Y0, Y1, Y0
	VEXTRACTF128 $1, Y0, X9
	VMAXPS X9, X0, X0
	VPERMILPS $0x4e, X0, X9
	VMAXPS X9, X0, X0
	VPERMILPS $0xb1, X0, X9
	VMAXPS X9, X0, X0
	MOVSS X0, mx+16(FP)
	VBROADCASTSS X0, Z0
	VCMPPS $0x00, Z0, Z1, K1
	VPTERNLOGD $0xff, Z9, Z9, Z9
	VPSRLD $1, Z9, Z9
	VMOVDQA32 Z2, K1, Z9
	VEXTRACTI64X4 $1, Z9, Y10
	VPMINSD Y10, Y9, Y9
	VEXTRACTI128 $1, Y9, X10
	VPMINSD X10, X9, X9
	VPSHUFD $0x4e, X9, X10
	VPMINSD X10, X9, X9
	VPSHUFD $0xb1, X9, X10
	VPMINSD X10, X9, X9
	VMOVD X9, AX
	MOVQ AX, idx+24(FP)
	KORTESTW K3, K3
	SETNE nan+32(FP)
	VZEROUPPER
	RET
