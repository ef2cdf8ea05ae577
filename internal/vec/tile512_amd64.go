//go:build amd64 && !purego

package vec

// AVX-512 tiles for several tokens (kernels_amd64.s, see asm_gen.go):
// gemm4x<nt><E>Avx512 computes 4 rows x nt tokens per quad of rows, over
// nquad >= 1 quads of consecutive rows, for the elements [0, k) of weight
// rows ldw and token rows ldx elements apart (k a positive multiple of 16),
// with dst[t*ldd + r] for token t and row r of the call. The 16-lane accumulators start from
// zero, or from part when mode&1 != 0 (4*nt vectors of 16 floats per quad),
// and are reduced into dst when mode&2 != 0, else stored to part: a product
// split into element ranges gives the outputs of one call over all of them,
// and every output equals the one-token kernels' bitwise.

//go:noescape
func gemm4x1F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x2F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x3F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x4F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x5F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x6F32Avx512(dst *float32, ldd int, w *float32, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x1F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x2F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x3F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x4F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x5F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x6F16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x1BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x2BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x3BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x4BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x5BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x6BF16Avx512(dst *float32, ldd int, w *uint16, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x1I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x2I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x3I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x4I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x5I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

//go:noescape
func gemm4x6I8Avx512(dst *float32, ldd int, w *int8, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)

// Transposed AVX-512 kernels (kernels_amd64.s): gemmT512<nt><E> is
// gemmT<nt><E> with cols a positive multiple of 16, the same chains.

//go:noescape
func gemmT5121F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT5122F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT5123F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT5124F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT5125F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT5126F32(dst *float32, ldd int, x *float32, ldx, k int, wt *float32, ldw, cols, accum int)

//go:noescape
func gemmT5121F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5122F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5123F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5124F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5125F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5126F16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5121BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5122BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5123BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5124BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5125BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5126BF16(dst *float32, ldd int, x *float32, ldx, k int, wt *uint16, ldw, cols, accum int)

//go:noescape
func gemmT5121I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT5122I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT5123I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT5124I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT5125I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

//go:noescape
func gemmT5126I8(dst *float32, ldd int, x *float32, ldx, k int, wt *int8, ldw, cols, accum int)

// decode<E>Avx512 writes the float32 values of rows x cols weights, rows
// ldd (dst) and lds (src) elements apart, rows >= 1 and cols a positive
// multiple of 16 (kernels_amd64.s).

//go:noescape
func decodeF32Avx512(dst *float32, ldd int, src *float32, lds, rows, cols int)

//go:noescape
func decodeF16Avx512(dst *float32, ldd int, src *uint16, lds, rows, cols int)

//go:noescape
func decodeBF16Avx512(dst *float32, ldd int, src *uint16, lds, rows, cols int)

//go:noescape
func decodeI8Avx512(dst *float32, ldd int, src *int8, lds, rows, cols int)

func init() {
	if !hasAVX512 {
		return
	}
	kernF32.tile = [maxTile512]tileKernel[float32]{gemm4x1F32Avx512, gemm4x2F32Avx512, gemm4x3F32Avx512, gemm4x4F32Avx512, gemm4x5F32Avx512, gemm4x6F32Avx512}
	kernF16.tile = [maxTile512]tileKernel[uint16]{gemm4x1F16Avx512, gemm4x2F16Avx512, gemm4x3F16Avx512, gemm4x4F16Avx512, gemm4x5F16Avx512, gemm4x6F16Avx512}
	kernBF16.tile = [maxTile512]tileKernel[uint16]{gemm4x1BF16Avx512, gemm4x2BF16Avx512, gemm4x3BF16Avx512, gemm4x4BF16Avx512, gemm4x5BF16Avx512, gemm4x6BF16Avx512}
	kernI8.tile = [maxTile512]tileKernel[int8]{gemm4x1I8Avx512, gemm4x2I8Avx512, gemm4x3I8Avx512, gemm4x4I8Avx512, gemm4x5I8Avx512, gemm4x6I8Avx512}
	kernF32.gemmT512 = [maxTile512]gemmTKernel[float32]{gemmT5121F32, gemmT5122F32, gemmT5123F32, gemmT5124F32, gemmT5125F32, gemmT5126F32}
	kernF16.gemmT512 = [maxTile512]gemmTKernel[uint16]{gemmT5121F16, gemmT5122F16, gemmT5123F16, gemmT5124F16, gemmT5125F16, gemmT5126F16}
	kernBF16.gemmT512 = [maxTile512]gemmTKernel[uint16]{gemmT5121BF16, gemmT5122BF16, gemmT5123BF16, gemmT5124BF16, gemmT5125BF16, gemmT5126BF16}
	kernF32.decode512 = decodeF32Avx512
	kernF16.decode512 = decodeF16Avx512
	kernBF16.decode512 = decodeBF16Avx512
	kernI8.decode512 = decodeI8Avx512
	kernI8.gemmT512 = [maxTile512]gemmTKernel[int8]{gemmT5121I8, gemmT5122I8, gemmT5123I8, gemmT5124I8, gemmT5125I8, gemmT5126I8}
}
