//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go

// hasAsm reports whether the CPU supports the assembly kernels: AVX2, FMA
// and F16C, with the OS saving ymm state.
var hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// Kernels computing nr rows x nt tokens per block of rows, over nblk >= 1
// blocks of consecutive rows. Weight rows and x rows are k elements apart;
// dst[t*ldd + r] for token t and row r of the whole call (ldd is absent for
// single-token kernels whose outputs are contiguous).

//go:noescape
func gemm1x1F32(dst *float32, w *float32, nblk, k int, x *float32)

//go:noescape
func gemm4x1F32(dst *float32, w *float32, nblk, k int, x *float32)

//go:noescape
func gemm2x2F32(dst *float32, ldd int, w *float32, nblk, k int, x *float32)

//go:noescape
func gemm2x3F32(dst *float32, ldd int, w *float32, nblk, k int, x *float32)

//go:noescape
func gemm1x1F16(dst *float32, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm4x1F16(dst *float32, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm2x2F16(dst *float32, ldd int, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm2x3F16(dst *float32, ldd int, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm1x1BF16(dst *float32, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm4x1BF16(dst *float32, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm2x2BF16(dst *float32, ldd int, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm2x3BF16(dst *float32, ldd int, w *uint16, nblk, k int, x *float32)

//go:noescape
func gemm1x1I8(dst *float32, w *int8, nblk, k int, x *float32)

//go:noescape
func gemm4x1I8(dst *float32, w *int8, nblk, k int, x *float32)

//go:noescape
func gemm2x2I8(dst *float32, ldd int, w *int8, nblk, k int, x *float32)

//go:noescape
func gemm2x3I8(dst *float32, ldd int, w *int8, nblk, k int, x *float32)

// dst[i] = fma(a, x[i], dst[i]) for i < n.

//go:noescape
func axpyF32(dst *float32, a float32, x *float32, n int)

//go:noescape
func axpyF16(dst *float32, a float32, x *uint16, n int)

//go:noescape
func axpyBF16(dst *float32, a float32, x *uint16, n int)

//go:noescape
func axpyI8(dst *float32, a float32, x *int8, n int)

// Transposed kernels for nt = 1..4 tokens (gemmT<nt>):
// dst[t*ldd + c] = (accum != 0 ? dst[t*ldd + c] : 0) + sum_{i<k} x[t*ldx + i] * wt[i*ldw + c]
// for t < nt and c < cols, each output one fused multiply-add chain over
// increasing i; k >= 1, cols >= 1.

//go:noescape
func gemmT1F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT2F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT3F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT4F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT1F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT2F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT3F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT4F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT1BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT2BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT3BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT4BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT1I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT2I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT3I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT4I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

// dst[c] = sum_{j<nnz} vals[j] * wt[idx[j]*ldw + c] for c < cols, one fused
// multiply-add chain over increasing j; nnz >= 1, cols >= 1, idx[j] >= 0.

//go:noescape
func sparseRowsF32(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *float32, ldw int)

//go:noescape
func sparseRowsF16(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *uint16, ldw int)

//go:noescape
func sparseRowsBF16(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *uint16, ldw int)

//go:noescape
func sparseRowsI8(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *int8, ldw int)

var (
	kernF32 = kernels[float32]{gemm1x1F32, gemm4x1F32, gemm2x2F32, gemm2x3F32, nil, axpyF32,
		[maxTokensT]gemmTKernel[float32]{gemmT1F32, gemmT2F32, gemmT3F32, gemmT4F32}, sparseRowsF32, [maxTile512]tileKernel[float32]{}, [maxTile512]gemmTKernel[float32]{}, nil, nil}
	kernF16 = kernels[uint16]{gemm1x1F16, gemm4x1F16, gemm2x2F16, gemm2x3F16, nil, axpyF16,
		[maxTokensT]gemmTKernel[uint16]{gemmT1F16, gemmT2F16, gemmT3F16, gemmT4F16}, sparseRowsF16, [maxTile512]tileKernel[uint16]{}, [maxTile512]gemmTKernel[uint16]{}, nil, nil}
	kernBF16 = kernels[uint16]{gemm1x1BF16, gemm4x1BF16, gemm2x2BF16, gemm2x3BF16, nil, axpyBF16,
		[maxTokensT]gemmTKernel[uint16]{gemmT1BF16, gemmT2BF16, gemmT3BF16, gemmT4BF16}, sparseRowsBF16, [maxTile512]tileKernel[uint16]{}, [maxTile512]gemmTKernel[uint16]{}, nil, nil}
	kernI8 = kernels[int8]{gemm1x1I8, gemm4x1I8, gemm2x2I8, gemm2x3I8, nil, axpyI8,
		[maxTokensT]gemmTKernel[int8]{gemmT1I8, gemmT2I8, gemmT3I8, gemmT4I8}, sparseRowsI8, [maxTile512]tileKernel[int8]{}, [maxTile512]gemmTKernel[int8]{}, nil, nil}
)

// dotAsm is Dot on the assembly kernel, called directly (not through the
// kernels table) so that the result stays on the stack.
func dotAsm(a, b []float32) float32 {
	var s float32
	gemm1x1F32(&s, &a[0], 1, len(a), &b[0])
	return s
}
