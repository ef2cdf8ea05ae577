//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 one-token kernels for float32 and fp16 weights, four rows at a
// time: the 16 lanes of a row's accumulator are one zmm register, element i
// goes to lane i%16 in increasing i (x[i:i+16] in one zmm, one fused
// multiply-add per 16 elements) and the reduction is the Gemm kernels' one,
// so the results equal the AVX2 kernels' bitwise. k is a multiple of 16.
// Each step prefetches the same 64 bytes of the next four rows (float32:
// into L1, 2-14% faster than into L2 on 16-38 MiB matrices; fp16: into L2): a
// single core's hardware prefetchers alone keep too few weight lines in
// flight to stream them from memory at full speed (measured: 1.2x for
// float32, 1.3x for fp16 over the AVX2 one-row kernels on a 256 MiB matrix).
// A prefetch never faults, also past the end of the weights.

// RED16 sums the 16 lanes of A as the Gemm kernels do into the low float of
// XA (YA, XA: the lower halves of A); clobbers Y3.
#define RED16(A, YA, XA) \
	VEXTRACTF64X4 $1, A, Y3 \
	VADDPS        Y3, YA, YA \
	VEXTRACTF128  $1, YA, X3 \
	VADDPS        X3, XA, XA \
	VMOVHLPS      XA, XA, X3 \
	VADDPS        X3, XA, XA \
	VMOVSHDUP     XA, X3 \
	VADDSS        X3, XA, XA

// QUADSTART zeroes the accumulators Z9-Z12 and points AX, R11, R12, R13 at
// the quad's rows (SI, R8 bytes apart) and DX at x (R9).
#define QUADSTART \
	VXORPS Z9, Z9, Z9 \
	VXORPS Z10, Z10, Z10 \
	VXORPS Z11, Z11, Z11 \
	VXORPS Z12, Z12, Z12 \
	MOVQ   SI, AX \
	LEAQ   (SI)(R8*1), R11 \
	LEAQ   (R11)(R8*1), R12 \
	LEAQ   (R12)(R8*1), R13 \
	MOVQ   R9, DX

// QUADEND stores the four sums at DI and moves DI and SI to the next quad.
#define QUADEND \
	RED16(Z9, Y9, X9) \
	RED16(Z10, Y10, X10) \
	RED16(Z11, Y11, X11) \
	RED16(Z12, Y12, X12) \
	VMOVSS X9, (DI) \
	VMOVSS X10, 4(DI) \
	VMOVSS X11, 8(DI) \
	VMOVSS X12, 12(DI) \
	ADDQ   $16, DI \
	LEAQ   (SI)(R8*4), SI

// func gemv4F32Avx512(dst *float32, w *float32, nquad, k int, x *float32)
TEXT ·gemv4F32Avx512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ k+24(FP), R10
	MOVQ x+32(FP), R9
	LEAQ (R10*4), R8       // row bytes
	LEAQ (R9)(R10*4), R10  // end of x

quad:
	QUADSTART

loop:
	PREFETCHT0  (AX)(R8*4)
	PREFETCHT0  (R11)(R8*4)
	PREFETCHT0  (R12)(R8*4)
	PREFETCHT0  (R13)(R8*4)
	VMOVUPS     (DX), Z0
	VFMADD231PS (AX), Z0, Z9
	VFMADD231PS (R11), Z0, Z10
	VFMADD231PS (R12), Z0, Z11
	VFMADD231PS (R13), Z0, Z12
	ADDQ        $64, AX
	ADDQ        $64, R11
	ADDQ        $64, R12
	ADDQ        $64, R13
	ADDQ        $64, DX
	CMPQ        DX, R10
	JB          loop
	QUADEND
	DECQ BX
	JNZ  quad
	VZEROUPPER
	RET

// func gemv4F16Avx512(dst *float32, w *uint16, nquad, k int, x *float32)
TEXT ·gemv4F16Avx512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ k+24(FP), R10
	MOVQ x+32(FP), R9
	LEAQ (R10*2), R8       // row bytes
	LEAQ (R9)(R10*4), R10  // end of x

quad:
	QUADSTART

loop:
	PREFETCHT1  (AX)(R8*4)
	PREFETCHT1  (R11)(R8*4)
	PREFETCHT1  (R12)(R8*4)
	PREFETCHT1  (R13)(R8*4)
	VMOVUPS     (DX), Z0
	VCVTPH2PS   (AX), Z1
	VCVTPH2PS   (R11), Z2
	VCVTPH2PS   (R12), Z4
	VCVTPH2PS   (R13), Z5
	VFMADD231PS Z1, Z0, Z9
	VFMADD231PS Z2, Z0, Z10
	VFMADD231PS Z4, Z0, Z11
	VFMADD231PS Z5, Z0, Z12
	ADDQ        $32, AX
	ADDQ        $32, R11
	ADDQ        $32, R12
	ADDQ        $32, R13
	ADDQ        $64, DX
	CMPQ        DX, R10
	JB          loop
	QUADEND
	DECQ BX
	JNZ  quad
	VZEROUPPER
	RET

// func gemv4F16x32Avx512(dst *float32, w *uint16, nquad, k int, x *float32)
// gemv4F16Avx512 for k a multiple of 32: 32 elements of each row per step
// (the same lanes in the same order, so the same bits), each 64-byte line of
// the next four rows prefetched once, into L1 (measured on a 28 MiB matrix,
// one thread: 10% faster than the kernel above).
TEXT ·gemv4F16x32Avx512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ nquad+16(FP), BX
	MOVQ k+24(FP), R10
	MOVQ x+32(FP), R9
	LEAQ (R10*2), R8       // row bytes
	LEAQ (R8*4), R14       // prefetch distance: four rows
	LEAQ (R9)(R10*4), R10  // end of x

x2quad:
	QUADSTART

x2loop:
	PREFETCHT0  (AX)(R14*1)
	PREFETCHT0  (R11)(R14*1)
	PREFETCHT0  (R12)(R14*1)
	PREFETCHT0  (R13)(R14*1)
	VMOVUPS     (DX), Z0
	VMOVUPS     64(DX), Z3
	VCVTPH2PS   (AX), Z1
	VCVTPH2PS   (R11), Z2
	VCVTPH2PS   (R12), Z4
	VCVTPH2PS   (R13), Z5
	VFMADD231PS Z1, Z0, Z9
	VFMADD231PS Z2, Z0, Z10
	VFMADD231PS Z4, Z0, Z11
	VFMADD231PS Z5, Z0, Z12
	VCVTPH2PS   32(AX), Z1
	VCVTPH2PS   32(R11), Z2
	VCVTPH2PS   32(R12), Z4
	VCVTPH2PS   32(R13), Z5
	VFMADD231PS Z1, Z3, Z9
	VFMADD231PS Z2, Z3, Z10
	VFMADD231PS Z4, Z3, Z11
	VFMADD231PS Z5, Z3, Z12
	ADDQ        $64, AX
	ADDQ        $64, R11
	ADDQ        $64, R12
	ADDQ        $64, R13
	ADDQ        $128, DX
	CMPQ        DX, R10
	JB          x2loop
	QUADEND
	DECQ BX
	JNZ  x2quad
	VZEROUPPER
	RET


