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

// AVX-512 one-token sparse kernels (SparseRows): dst[c] = sum_j vals[j] *
// wt[idx[j]*ldw + c] for c < cols (a multiple of 32), nnz >= 1. dst is
// cleared, then updated four listed rows at a time: for each 32 columns the
// outputs are loaded, given one fused multiply-add per row in increasing j
// and stored, so every output is the same chain, rounded at the same steps,
// as in the AVX2 kernels (which keep it in a register): the results are
// bitwise theirs. Each row is read as one run of cols elements (the AVX2
// kernels read 64 columns of every row per pass), and while a group of four
// rows is read the same columns of the next four are prefetched (the listed
// rows are scattered, beyond what the hardware prefetchers predict).
//
// Registers: DI dst, R10 bytes of weights per row, R8 the current entry of
// idx, SI of vals, CX the end of idx, R11 the byte offset in the weight
// rows, AX BX DX R12 the current rows, R9 R13 R14 R15 the rows prefetched.

// SROW points reg at the row of weights (shift: log2 of the element size)
// listed at off(R8).
#define SROW(off, reg, shift) \
	MOVLQSX off(R8), reg \
	IMULQ   ldw+48(FP), reg \
	SHLQ    $shift, reg \
	ADDQ    wt+40(FP), reg

// SPROW points reg at the row listed off bytes past R8, or at the last
// listed row where that lies past the end.
#define SPROW(off, reg, shift, lbl) \
	LEAQ  off(R8), reg \
	CMPQ  reg, CX \
	JB    lbl \
	LEAQ  -4(CX), reg \
lbl: \
	MOVLQSX (reg), reg \
	IMULQ   ldw+48(FP), reg \
	SHLQ    $shift, reg \
	ADDQ    wt+40(FP), reg

// SPARSESTART loads the arguments and clears dst (R10 bytes of weights,
// dscale bytes of dst per weight byte, 128 bytes of dst per step).
#define SPARSESTART(shift, dscale, step) \
	MOVQ    dst+0(FP), DI \
	MOVQ    cols+8(FP), R10 \
	SHLQ    $shift, R10 \
	MOVQ    idx+16(FP), R8 \
	MOVQ    vals+24(FP), SI \
	MOVQ    nnz+32(FP), CX \
	LEAQ    (R8)(CX*4), CX \
	VXORPS  Z0, Z0, Z0 \
	XORQ    R11, R11 \
szero: \
	VMOVUPS Z0, (DI)(R11*dscale) \
	VMOVUPS Z0, 64(DI)(R11*dscale) \
	ADDQ    $step, R11 \
	CMPQ    R11, R10 \
	JB      szero

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

// func sparseRows4F16Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *uint16, ldw int)
TEXT ·sparseRows4F16Avx512(SB), NOSPLIT, $0-56
	SPARSESTART(1, 2, 64)
	LEAQ 16(R8), AX
	CMPQ AX, CX
	JA   h16rest

h16group:
	SROW(0, AX, 1)
	SROW(4, BX, 1)
	SROW(8, DX, 1)
	SROW(12, R12, 1)
	SPROW(16, R9, 1, h16p0)
	SPROW(20, R13, 1, h16p1)
	SPROW(24, R14, 1, h16p2)
	SPROW(28, R15, 1, h16p3)
	VBROADCASTSS (SI), Z16
	VBROADCASTSS 4(SI), Z17
	VBROADCASTSS 8(SI), Z18
	VBROADCASTSS 12(SI), Z19
	XORQ         R11, R11

h16col:
	VMOVUPS     (DI)(R11*2), Z0
	VMOVUPS     64(DI)(R11*2), Z1
	VCVTPH2PS   (AX)(R11*1), Z2
	VCVTPH2PS   32(AX)(R11*1), Z3
	VCVTPH2PS   (BX)(R11*1), Z4
	VCVTPH2PS   32(BX)(R11*1), Z5
	VCVTPH2PS   (DX)(R11*1), Z6
	VCVTPH2PS   32(DX)(R11*1), Z7
	VCVTPH2PS   (R12)(R11*1), Z8
	VCVTPH2PS   32(R12)(R11*1), Z10
	VFMADD231PS Z2, Z16, Z0
	VFMADD231PS Z3, Z16, Z1
	VFMADD231PS Z4, Z17, Z0
	VFMADD231PS Z5, Z17, Z1
	VFMADD231PS Z6, Z18, Z0
	VFMADD231PS Z7, Z18, Z1
	VFMADD231PS Z8, Z19, Z0
	VFMADD231PS Z10, Z19, Z1
	VMOVUPS     Z0, (DI)(R11*2)
	VMOVUPS     Z1, 64(DI)(R11*2)
	PREFETCHT0  (R9)(R11*1)
	PREFETCHT0  (R13)(R11*1)
	PREFETCHT0  (R14)(R11*1)
	PREFETCHT0  (R15)(R11*1)
	ADDQ        $64, R11
	CMPQ        R11, R10
	JB          h16col
	ADDQ        $16, R8
	ADDQ        $16, SI
	LEAQ        16(R8), AX
	CMPQ        AX, CX
	JBE         h16group

h16rest:
	CMPQ R8, CX
	JAE  h16done

h16one:
	SROW(0, AX, 1)
	VBROADCASTSS (SI), Z16
	XORQ         R11, R11

h16col1:
	VMOVUPS     (DI)(R11*2), Z0
	VMOVUPS     64(DI)(R11*2), Z1
	VCVTPH2PS   (AX)(R11*1), Z2
	VCVTPH2PS   32(AX)(R11*1), Z3
	VFMADD231PS Z2, Z16, Z0
	VFMADD231PS Z3, Z16, Z1
	VMOVUPS     Z0, (DI)(R11*2)
	VMOVUPS     Z1, 64(DI)(R11*2)
	ADDQ        $64, R11
	CMPQ        R11, R10
	JB          h16col1
	ADDQ        $4, R8
	ADDQ        $4, SI
	CMPQ        R8, CX
	JB          h16one

h16done:
	VZEROUPPER
	RET

// sparseRows4BF16Avx512 is sparseRows4F16Avx512 with bfloat16 weights
// (widened to float32 exactly, as the AVX2 kernel does).

// func sparseRows4BF16Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *uint16, ldw int)
TEXT ·sparseRows4BF16Avx512(SB), NOSPLIT, $0-56
	SPARSESTART(1, 2, 64)
	LEAQ 16(R8), AX
	CMPQ AX, CX
	JA   b16rest

b16group:
	SROW(0, AX, 1)
	SROW(4, BX, 1)
	SROW(8, DX, 1)
	SROW(12, R12, 1)
	SPROW(16, R9, 1, b16p0)
	SPROW(20, R13, 1, b16p1)
	SPROW(24, R14, 1, b16p2)
	SPROW(28, R15, 1, b16p3)
	VBROADCASTSS (SI), Z16
	VBROADCASTSS 4(SI), Z17
	VBROADCASTSS 8(SI), Z18
	VBROADCASTSS 12(SI), Z19
	XORQ         R11, R11

b16col:
	VMOVUPS     (DI)(R11*2), Z0
	VMOVUPS     64(DI)(R11*2), Z1
	VPMOVZXWD   (AX)(R11*1), Z2
	VPSLLD      $16, Z2, Z2
	VPMOVZXWD   32(AX)(R11*1), Z3
	VPSLLD      $16, Z3, Z3
	VPMOVZXWD   (BX)(R11*1), Z4
	VPSLLD      $16, Z4, Z4
	VPMOVZXWD   32(BX)(R11*1), Z5
	VPSLLD      $16, Z5, Z5
	VPMOVZXWD   (DX)(R11*1), Z6
	VPSLLD      $16, Z6, Z6
	VPMOVZXWD   32(DX)(R11*1), Z7
	VPSLLD      $16, Z7, Z7
	VPMOVZXWD   (R12)(R11*1), Z8
	VPSLLD      $16, Z8, Z8
	VPMOVZXWD   32(R12)(R11*1), Z10
	VPSLLD      $16, Z10, Z10
	VFMADD231PS Z2, Z16, Z0
	VFMADD231PS Z3, Z16, Z1
	VFMADD231PS Z4, Z17, Z0
	VFMADD231PS Z5, Z17, Z1
	VFMADD231PS Z6, Z18, Z0
	VFMADD231PS Z7, Z18, Z1
	VFMADD231PS Z8, Z19, Z0
	VFMADD231PS Z10, Z19, Z1
	VMOVUPS     Z0, (DI)(R11*2)
	VMOVUPS     Z1, 64(DI)(R11*2)
	PREFETCHT0  (R9)(R11*1)
	PREFETCHT0  (R13)(R11*1)
	PREFETCHT0  (R14)(R11*1)
	PREFETCHT0  (R15)(R11*1)
	ADDQ        $64, R11
	CMPQ        R11, R10
	JB          b16col
	ADDQ        $16, R8
	ADDQ        $16, SI
	LEAQ        16(R8), AX
	CMPQ        AX, CX
	JBE         b16group

b16rest:
	CMPQ R8, CX
	JAE  b16done

b16one:
	SROW(0, AX, 1)
	VBROADCASTSS (SI), Z16
	XORQ         R11, R11

b16col1:
	VMOVUPS     (DI)(R11*2), Z0
	VMOVUPS     64(DI)(R11*2), Z1
	VPMOVZXWD   (AX)(R11*1), Z2
	VPSLLD      $16, Z2, Z2
	VPMOVZXWD   32(AX)(R11*1), Z3
	VPSLLD      $16, Z3, Z3
	VFMADD231PS Z2, Z16, Z0
	VFMADD231PS Z3, Z16, Z1
	VMOVUPS     Z0, (DI)(R11*2)
	VMOVUPS     Z1, 64(DI)(R11*2)
	ADDQ        $64, R11
	CMPQ        R11, R10
	JB          b16col1
	ADDQ        $4, R8
	ADDQ        $4, SI
	CMPQ        R8, CX
	JB          b16one

b16done:
	VZEROUPPER
	RET

// sparseRows4I8Avx512 is sparseRows4F16Avx512 with int8 codes (widened to
// float32 exactly, as the AVX2 kernel does; vals carry the row scales), 32
// bytes of each row per step, each line of the next rows prefetched twice.

// func sparseRows4I8Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *int8, ldw int)
TEXT ·sparseRows4I8Avx512(SB), NOSPLIT, $0-56
	SPARSESTART(0, 4, 32)
	LEAQ 16(R8), AX
	CMPQ AX, CX
	JA   i8rest

i8group:
	SROW(0, AX, 0)
	SROW(4, BX, 0)
	SROW(8, DX, 0)
	SROW(12, R12, 0)
	SPROW(16, R9, 0, i8p0)
	SPROW(20, R13, 0, i8p1)
	SPROW(24, R14, 0, i8p2)
	SPROW(28, R15, 0, i8p3)
	VBROADCASTSS (SI), Z16
	VBROADCASTSS 4(SI), Z17
	VBROADCASTSS 8(SI), Z18
	VBROADCASTSS 12(SI), Z19
	XORQ         R11, R11

i8col:
	VMOVUPS     (DI)(R11*4), Z0
	VMOVUPS     64(DI)(R11*4), Z1
	VPMOVSXBD   (AX)(R11*1), Z2
	VCVTDQ2PS   Z2, Z2
	VPMOVSXBD   16(AX)(R11*1), Z3
	VCVTDQ2PS   Z3, Z3
	VPMOVSXBD   (BX)(R11*1), Z4
	VCVTDQ2PS   Z4, Z4
	VPMOVSXBD   16(BX)(R11*1), Z5
	VCVTDQ2PS   Z5, Z5
	VPMOVSXBD   (DX)(R11*1), Z6
	VCVTDQ2PS   Z6, Z6
	VPMOVSXBD   16(DX)(R11*1), Z7
	VCVTDQ2PS   Z7, Z7
	VPMOVSXBD   (R12)(R11*1), Z8
	VCVTDQ2PS   Z8, Z8
	VPMOVSXBD   16(R12)(R11*1), Z10
	VCVTDQ2PS   Z10, Z10
	VFMADD231PS Z2, Z16, Z0
	VFMADD231PS Z3, Z16, Z1
	VFMADD231PS Z4, Z17, Z0
	VFMADD231PS Z5, Z17, Z1
	VFMADD231PS Z6, Z18, Z0
	VFMADD231PS Z7, Z18, Z1
	VFMADD231PS Z8, Z19, Z0
	VFMADD231PS Z10, Z19, Z1
	VMOVUPS     Z0, (DI)(R11*4)
	VMOVUPS     Z1, 64(DI)(R11*4)
	PREFETCHT0  (R9)(R11*1)
	PREFETCHT0  (R13)(R11*1)
	PREFETCHT0  (R14)(R11*1)
	PREFETCHT0  (R15)(R11*1)
	ADDQ        $32, R11
	CMPQ        R11, R10
	JB          i8col
	ADDQ        $16, R8
	ADDQ        $16, SI
	LEAQ        16(R8), AX
	CMPQ        AX, CX
	JBE         i8group

i8rest:
	CMPQ R8, CX
	JAE  i8done

i8one:
	SROW(0, AX, 0)
	VBROADCASTSS (SI), Z16
	XORQ         R11, R11

i8col1:
	VMOVUPS     (DI)(R11*4), Z0
	VMOVUPS     64(DI)(R11*4), Z1
	VPMOVSXBD   (AX)(R11*1), Z2
	VCVTDQ2PS   Z2, Z2
	VPMOVSXBD   16(AX)(R11*1), Z3
	VCVTDQ2PS   Z3, Z3
	VFMADD231PS Z2, Z16, Z0
	VFMADD231PS Z3, Z16, Z1
	VMOVUPS     Z0, (DI)(R11*4)
	VMOVUPS     Z1, 64(DI)(R11*4)
	ADDQ        $32, R11
	CMPQ        R11, R10
	JB          i8col1
	ADDQ        $4, R8
	ADDQ        $4, SI
	CMPQ        R8, CX
	JB          i8one

i8done:
	VZEROUPPER
	RET

// func sparseRows4F32Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *float32, ldw int)
TEXT ·sparseRows4F32Avx512(SB), NOSPLIT, $0-56
	SPARSESTART(2, 1, 128)
	LEAQ 16(R8), AX
	CMPQ AX, CX
	JA   s32rest

s32group:
	SROW(0, AX, 2)
	SROW(4, BX, 2)
	SROW(8, DX, 2)
	SROW(12, R12, 2)
	SPROW(16, R9, 2, s32p0)
	SPROW(20, R13, 2, s32p1)
	SPROW(24, R14, 2, s32p2)
	SPROW(28, R15, 2, s32p3)
	VBROADCASTSS (SI), Z16
	VBROADCASTSS 4(SI), Z17
	VBROADCASTSS 8(SI), Z18
	VBROADCASTSS 12(SI), Z19
	XORQ         R11, R11

s32col:
	VMOVUPS     (DI)(R11*1), Z0
	VMOVUPS     64(DI)(R11*1), Z1
	VFMADD231PS (AX)(R11*1), Z16, Z0
	VFMADD231PS 64(AX)(R11*1), Z16, Z1
	VFMADD231PS (BX)(R11*1), Z17, Z0
	VFMADD231PS 64(BX)(R11*1), Z17, Z1
	VFMADD231PS (DX)(R11*1), Z18, Z0
	VFMADD231PS 64(DX)(R11*1), Z18, Z1
	VFMADD231PS (R12)(R11*1), Z19, Z0
	VFMADD231PS 64(R12)(R11*1), Z19, Z1
	VMOVUPS     Z0, (DI)(R11*1)
	VMOVUPS     Z1, 64(DI)(R11*1)
	PREFETCHT0  (R9)(R11*1)
	PREFETCHT0  (R13)(R11*1)
	PREFETCHT0  (R14)(R11*1)
	PREFETCHT0  (R15)(R11*1)
	PREFETCHT0  64(R9)(R11*1)
	PREFETCHT0  64(R13)(R11*1)
	PREFETCHT0  64(R14)(R11*1)
	PREFETCHT0  64(R15)(R11*1)
	ADDQ        $128, R11
	CMPQ        R11, R10
	JB          s32col
	ADDQ        $16, R8
	ADDQ        $16, SI
	LEAQ        16(R8), AX
	CMPQ        AX, CX
	JBE         s32group

s32rest:
	CMPQ R8, CX
	JAE  s32done

s32one:
	SROW(0, AX, 2)
	VBROADCASTSS (SI), Z16
	XORQ         R11, R11

s32col1:
	VMOVUPS     (DI)(R11*1), Z0
	VMOVUPS     64(DI)(R11*1), Z1
	VFMADD231PS (AX)(R11*1), Z16, Z0
	VFMADD231PS 64(AX)(R11*1), Z16, Z1
	VMOVUPS     Z0, (DI)(R11*1)
	VMOVUPS     Z1, 64(DI)(R11*1)
	ADDQ        $128, R11
	CMPQ        R11, R10
	JB          s32col1
	ADDQ        $4, R8
	ADDQ        $4, SI
	CMPQ        R8, CX
	JB          s32one

s32done:
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


