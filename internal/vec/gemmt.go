package vec

import "fmt"

// maxTokensT is the number of tokens the widest transposed kernel handles at
// once (asm_gen.go generates kernels for 1 to maxTokensT tokens).
const maxTokensT = 4

// gemmTCols bounds the columns, and gemmTBytes the bytes, of the block of the
// weight matrix that all tokens of a GemmT pass over before the next block:
// the block stays in the L2 cache while the tokens stream past it. Tests
// change them to check that the blocking does not change results.
var (
	gemmTCols  = 192
	gemmTBytes = 192 << 10
)

// blocksT returns the number of columns and of weight rows of a GemmT block
// for a product of k rows and cols columns of es-byte weights.
func blocksT(k, cols, es int) (cb, kb int) {
	cb = max(min(gemmTCols, cols), 1)
	kb = max(gemmTBytes/(cb*es), 1)
	return cb, min(kb, k)
}

// GemmTF32 computes dst[t*ldd + c] = sum_{i<k} x[t*ldx + i] * wt[i*ldw + c]
// for t < n and c < cols: n tokens (rows of x, ldx apart) times a row-major
// [k, cols] weight matrix whose rows are ldw apart, that is a weight stored
// transposed relative to GemmF32. Only those dst elements are written; ldd
// must be at least cols when n > 1. x and wt are only read, so their rows may
// overlap. Each output is one multiply-add chain over i in increasing order
// (see the package documentation), so entries of x that are zero contribute
// nothing and the result equals SparseRowsF32 over the non-zero entries of
// the token. It panics if a dimension or stride is negative or a slice too
// short.
func GemmTF32(dst []float32, ldd int, x []float32, ldx, n, k int, wt []float32, ldw, cols int) {
	gemmT(&kernF32, 4, axpyGenericF32, dst, ldd, x, ldx, n, k, wt, ldw, cols)
}

// GemmTF16 is GemmTF32 with wt given as IEEE binary16 bit patterns, decoded
// exactly; the results equal GemmTF32 on the decoded matrix bitwise.
func GemmTF16(dst []float32, ldd int, x []float32, ldx, n, k int, wt []uint16, ldw, cols int) {
	gemmT(&kernF16, 2, axpyGenericF16, dst, ldd, x, ldx, n, k, wt, ldw, cols)
}

// GemmTBF16 is GemmTF32 with wt given as bfloat16 bit patterns; the results
// equal GemmTF32 on the decoded matrix bitwise.
func GemmTBF16(dst []float32, ldd int, x []float32, ldx, n, k int, wt []uint16, ldw, cols int) {
	gemmT(&kernBF16, 2, axpyGenericBF16, dst, ldd, x, ldx, n, k, wt, ldw, cols)
}

// gemmT checks the arguments of a GemmT call and runs it on the assembly
// kernels kn (weight element size es) or the portable path with axpy.
func gemmT[T float32 | uint16 | int8](kn *kernels[T], es int, axpy func(dst []float32, a float32, x []T),
	dst []float32, ldd int, x []float32, ldx, n, k int, wt []T, ldw, cols int) {
	if !checkGemmT(len(dst), ldd, len(x), ldx, n, k, len(wt), ldw, cols) {
		return
	}
	if k == 0 {
		clearOut(dst, ldd, cols, n)
		return
	}
	if useAsm {
		gemmTAsm(kn, dst, ldd, x, ldx, n, k, wt, ldw, cols, es)
		return
	}
	gemmTGeneric(dst, ldd, x, ldx, n, k, wt, ldw, cols, es, axpy)
}

// SparseRowsF32 computes dst[c] = sum_j vals[j] * wt[int(idx[j])*ldw + c] for
// c < len(dst), over j = 0, 1, ... in increasing order: a sparse vector given
// by its non-zero entries (indices idx, values vals) times a row-major weight
// matrix whose rows are ldw apart. With idx listing the non-zero entries of a
// token in increasing order it gives bitwise the result of GemmTF32 for that
// token (see the package documentation). idx and vals must have the same
// length; indices need not be sorted or distinct. It panics if the lengths
// differ, ldw is negative, or an index is negative or names a row that does
// not lie within wt (int(idx[j])*ldw + len(dst) > len(wt)).
func SparseRowsF32(dst []float32, idx []int32, vals []float32, wt []float32, ldw int) {
	if !checkSparse(len(dst), idx, len(vals), len(wt), ldw) {
		clear(dst)
		return
	}
	if useAsm {
		sparseAsm(&kernF32, dst, idx, vals, wt, ldw)
		return
	}
	sparseGeneric(dst, idx, vals, wt, ldw, axpyGenericF32)
}

// SparseRowsF16 is SparseRowsF32 with wt given as IEEE binary16 bit patterns;
// the results equal SparseRowsF32 on the decoded matrix bitwise.
func SparseRowsF16(dst []float32, idx []int32, vals []float32, wt []uint16, ldw int) {
	if !checkSparse(len(dst), idx, len(vals), len(wt), ldw) {
		clear(dst)
		return
	}
	if useAsm {
		sparseAsm(&kernF16, dst, idx, vals, wt, ldw)
		return
	}
	sparseGeneric(dst, idx, vals, wt, ldw, axpyGenericF16)
}

// SparseRowsBF16 is SparseRowsF32 with wt given as bfloat16 bit patterns;
// the results equal SparseRowsF32 on the decoded matrix bitwise.
func SparseRowsBF16(dst []float32, idx []int32, vals []float32, wt []uint16, ldw int) {
	if !checkSparse(len(dst), idx, len(vals), len(wt), ldw) {
		clear(dst)
		return
	}
	if useAsm {
		sparseAsm(&kernBF16, dst, idx, vals, wt, ldw)
		return
	}
	sparseGeneric(dst, idx, vals, wt, ldw, axpyGenericBF16)
}

// fits reports whether count rows of width elements, ld elements apart, fit
// in length elements: (count-1)*ld + width <= length, computed without
// overflow. count >= 1, ld >= 0 and width >= 0.
func fits(length, count, ld, width int) bool {
	if width > length {
		return false
	}
	return count <= 1 || ld <= (length-width)/(count-1)
}

// checkGemmT validates the arguments of a GemmT call and reports whether
// the output is non-empty (x and wt are not examined when k == 0).
func checkGemmT(nd, ldd, nx, ldx, n, k, nw, ldw, cols int) bool {
	if n < 0 || k < 0 || cols < 0 || ldd < 0 || ldx < 0 || ldw < 0 {
		panic(fmt.Sprintf("vec: negative dimension or stride n=%d k=%d cols=%d ldd=%d ldx=%d ldw=%d", n, k, cols, ldd, ldx, ldw))
	}
	if n == 0 || cols == 0 {
		return false
	}
	if n > 1 && ldd < cols {
		panic(fmt.Sprintf("vec: ldd %d < cols %d", ldd, cols))
	}
	if !fits(nd, n, ldd, cols) {
		panic(fmt.Sprintf("vec: dst has %d elements, too few for %d rows of %d, %d apart", nd, n, cols, ldd))
	}
	if k == 0 {
		return true
	}
	if !fits(nx, n, ldx, k) {
		panic(fmt.Sprintf("vec: x has %d elements, too few for %d rows of %d, %d apart", nx, n, k, ldx))
	}
	if !fits(nw, k, ldw, cols) {
		panic(fmt.Sprintf("vec: weights have %d elements, too few for %d rows of %d, %d apart", nw, k, cols, ldw))
	}
	return true
}

// checkSparse validates the arguments of a SparseRows call and reports
// whether there is anything to compute (dst and idx non-empty).
func checkSparse(nd int, idx []int32, nv, nw, ldw int) bool {
	if len(idx) != nv {
		panic(fmt.Sprintf("vec: SparseRows with %d indices and %d values", len(idx), nv))
	}
	if ldw < 0 {
		panic(fmt.Sprintf("vec: negative stride ldw=%d", ldw))
	}
	if nd == 0 {
		return false
	}
	if len(idx) == 0 {
		return false
	}
	if nd > nw {
		panic(fmt.Sprintf("vec: weights have %d elements, too few for a row of %d", nw, nd))
	}
	lim := int32(-1) // largest valid index, -1 meaning unbounded
	if ldw > 0 {
		lim = int32(min((nw-nd)/ldw, 1<<31-1))
	}
	for _, i := range idx {
		if i < 0 || (lim >= 0 && i > lim) {
			panic(fmt.Sprintf("vec: SparseRows row index %d out of range (weights of %d elements, ldw %d, %d columns)", i, nw, ldw, nd))
		}
	}
	return true
}

// gemmTAsm runs a GemmT (k >= 1) with the assembly kernels kn; es is the
// weight element size in bytes.
func gemmTAsm[T float32 | uint16 | int8](kn *kernels[T], dst []float32, ldd int, x []float32, ldx, n, k int, wt []T, ldw, cols, es int) {
	cb, kb := blocksT(k, cols, es)
	wide := useAVX512 && kn.gemmT512[0] != nil
	var wf []float32
	if wide && kn.decode512 != nil && n > maxTile512 && decodeBlocks {
		// Many tokens: the AVX-512 columns of a block of the weight are
		// decoded once into float32 (see decodeBlocks), about as many
		// rows as a float32 block holds.
		_, kb = blocksT(k, cols, 4)
		bp := bufPool.Get().(*[]float32)
		defer bufPool.Put(bp)
		if need := kb * (cb &^ 15); cap(*bp) < need {
			*bp = make([]float32, need)
		}
		wf = (*bp)[:kb*(cb&^15)]
	}
	for c0 := 0; c0 < cols; c0 += cb {
		cw := min(cb, cols-c0)
		for i0 := 0; i0 < k; i0 += kb {
			kw := min(kb, k-i0)
			accum := min(i0, 1)
			c1 := c0
			if z := cw &^ 15; z > 0 && wide {
				// AVX-512: up to 6 tokens x 64 columns in 24 zmm
				// accumulators; the AVX2 kernels take the last columns.
				if wf != nil {
					kn.decode512(&wf[0], z, &wt[i0*ldw+c0], ldw, kw, z)
					for t, nt := 0, 0; t < n; t += nt {
						nt = tileTokens(n - t)
						kernF32.gemmT512[nt-1](&dst[t*ldd+c0], ldd, &x[t*ldx+i0], ldx, kw, &wf[0], z, z, accum)
					}
				} else {
					for t, nt := 0, 0; t < n; t += nt {
						nt = tileTokens(n - t)
						kn.gemmT512[nt-1](&dst[t*ldd+c0], ldd, &x[t*ldx+i0], ldx, kw, &wt[i0*ldw+c0], ldw, z, accum)
					}
				}
				c1 += z
			}
			if rest := c0 + cw - c1; rest > 0 {
				for t := 0; t < n; t += maxTokensT {
					nt := min(maxTokensT, n-t)
					kn.gemmT[nt-1](&dst[t*ldd+c1], ldd, &x[t*ldx+i0], ldx, kw, &wt[i0*ldw+c1], ldw, rest, accum)
				}
			}
		}
	}
}

// gemmTGeneric is the portable GemmT (k >= 1), blocked like gemmTAsm: each
// output is cleared, then updated by axpy (one rounded product and one
// rounded addition) for i in increasing order.
func gemmTGeneric[T float32 | uint16 | int8](dst []float32, ldd int, x []float32, ldx, n, k int, wt []T, ldw, cols, es int, axpy func(dst []float32, a float32, x []T)) {
	cb, kb := blocksT(k, cols, es)
	for c0 := 0; c0 < cols; c0 += cb {
		cw := min(cb, cols-c0)
		for i0 := 0; i0 < k; i0 += kb {
			i1 := min(i0+kb, k)
			for t := range n {
				d := dst[t*ldd+c0 : t*ldd+c0+cw]
				if i0 == 0 {
					clear(d)
				}
				xt := x[t*ldx : t*ldx+k]
				for i := i0; i < i1; i++ {
					axpy(d, xt[i], wt[i*ldw+c0:i*ldw+c0+cw])
				}
			}
		}
	}
}

// sparseAsm runs a SparseRows (len(idx) >= 1, len(dst) >= 1) with the
// assembly kernels kn: with AVX-512 the widest multiple of 32 columns in one
// pass over the listed rows (each row read as one run), the AVX2 kernel the
// last columns; every column is the same chain either way.
func sparseAsm[T float32 | uint16 | int8](kn *kernels[T], dst []float32, idx []int32, vals []float32, wt []T, ldw int) {
	c0 := 0
	if z := len(dst) &^ 31; z > 0 && useAVX512 && kn.sparse512 != nil {
		kn.sparse512(&dst[0], z, &idx[0], &vals[0], len(idx), &wt[0], ldw)
		c0 = z
	}
	if c0 < len(dst) {
		kn.sparse(&dst[c0], len(dst)-c0, &idx[0], &vals[0], len(idx), &wt[c0], ldw)
	}
}

// sparseGeneric is the portable SparseRows: dst is cleared, then updated by
// axpy for each entry in order.
func sparseGeneric[T float32 | uint16 | int8](dst []float32, idx []int32, vals []float32, wt []T, ldw int, axpy func(dst []float32, a float32, x []T)) {
	clear(dst)
	for j, i := range idx {
		r := int(i) * ldw
		axpy(dst, vals[j], wt[r:r+len(dst)])
	}
}
