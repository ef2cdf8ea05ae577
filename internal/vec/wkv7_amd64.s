//go:build amd64 && !purego

#include "textflag.h"

// RED16W sums the 16 lanes of A into the low float of XA like the Gemm
// kernels' reduction; clobbers Y5.
#define RED16W(A, YA, XA) \
	VEXTRACTF64X4 $1, A, Y5 \
	VADDPS        Y5, YA, YA \
	VEXTRACTF128  $1, YA, X5 \
	VADDPS        X5, XA, XA \
	VMOVHLPS      XA, XA, X5 \
	VADDPS        X5, XA, XA \
	VMOVSHDUP     XA, X5 \
	VADDSS        X5, XA, XA

// func wkv7HeadAvx512(s *float32, n int, w, k, v, kk, ka, r, out *float32)
// One token of one head of the RWKV-7 recurrence (see WKV7Head); n is a
// multiple of 16.
TEXT ·wkv7HeadAvx512(SB), NOSPLIT, $0-72
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ k+24(FP), R9
	MOVQ v+32(FP), R10
	MOVQ kk+40(FP), R11
	MOVQ ka+48(FP), R12
	MOVQ r+56(FP), R13
	MOVQ out+64(FP), DI
	LEAQ (CX*4), DX
	XORQ BX, BX

row:
	VXORPS Z0, Z0, Z0
	XORQ   AX, AX

dot:
	VMOVUPS     (SI)(AX*1), Z1
	VFMADD231PS (R11)(AX*1), Z1, Z0
	ADDQ        $64, AX
	CMPQ        AX, DX
	JB          dot
	RED16W(Z0, Y0, X0)
	VXORPS       X2, X2, X2
	VSUBSS       X0, X2, X0
	VBROADCASTSS X0, Z2
	VBROADCASTSS (R10)(BX*4), Z3
	VXORPS       Z4, Z4, Z4
	XORQ         AX, AX

upd:
	VMOVUPS     (SI)(AX*1), Z1
	VMULPS      (R8)(AX*1), Z1, Z1
	VFMADD231PS (R9)(AX*1), Z3, Z1
	VFMADD231PS (R12)(AX*1), Z2, Z1
	VMOVUPS     Z1, (SI)(AX*1)
	VFMADD231PS (R13)(AX*1), Z1, Z4
	ADDQ        $64, AX
	CMPQ        AX, DX
	JB          upd
	RED16W(Z4, Y4, X4)
	VMOVSS X4, (DI)(BX*4)
	ADDQ   DX, SI
	INCQ   BX
	CMPQ   BX, CX
	JB     row
	VZEROUPPER
	RET
