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

// dst[i] = fma(a, x[i], dst[i]) for i < n.

//go:noescape
func axpyF32(dst *float32, a float32, x *float32, n int)

//go:noescape
func axpyF16(dst *float32, a float32, x *uint16, n int)

//go:noescape
func axpyBF16(dst *float32, a float32, x *uint16, n int)

var (
	kernF32  = kernels[float32]{gemm1x1F32, gemm4x1F32, gemm2x2F32, gemm2x3F32, axpyF32}
	kernF16  = kernels[uint16]{gemm1x1F16, gemm4x1F16, gemm2x2F16, gemm2x3F16, axpyF16}
	kernBF16 = kernels[uint16]{gemm1x1BF16, gemm4x1BF16, gemm2x2BF16, gemm2x3BF16, axpyBF16}
)
