package vec

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// guarded returns a slice of n elements of T that ends exactly where an
// inaccessible page begins, so any access past its end faults.
func guarded[T any](t *testing.T, n int) []T {
	t.Helper()
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	page := unix.Getpagesize()
	span := (size+page-1)/page*page + page
	mem, err := unix.Mmap(-1, 0, span, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[span-page:], unix.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	start := span - page - size
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[start])), n)
}

// TestNoAccessPastEnd runs the kernels on slices that end at a guard page.
func TestNoAccessPastEnd(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, k := range []int{1, 7, 9, 15, 16, 17, 31, 32, 33, 39, 41, 48, 64} {
			for _, rows := range []int{1, 3, 4, 5, 7} {
				for _, n := range []int{1, 2, 3, 4, 6, 7} {
					w := guarded[float32](t, rows*k)
					copy(w, randF32(rng, rows*k))
					w16 := guarded[uint16](t, rows*k)
					x := guarded[float32](t, n*k)
					copy(x, randF32(rng, n*k))
					dst := guarded[float32](t, n*rows)
					GemmF32(dst, rows, w, rows, k, x, n)
					GemmF16(dst, rows, w16, rows, k, x, n)
					GemmBF16(dst, rows, w16, rows, k, x, n)
					Dot(w[:k], x[len(x)-k:])
					ad := guarded[float32](t, k)
					Axpy(ad, 0.5, x[len(x)-k:])
					AxpyF16(ad, 0.5, w16[len(w16)-k:])
					AxpyBF16(ad, 0.5, w16[len(w16)-k:])
				}
			}
		}
	})
}

// TestGemmTNoAccessPastEnd runs the transposed products on slices that end at
// a guard page, for every column tail and token count of the kernels.
func TestGemmTNoAccessPastEnd(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, k := range []int{1, 2, 3, 4, 7, 9} {
			for _, cols := range []int{1, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 33, 63, 65, 71} {
				w := guarded[float32](t, k*cols)
				copy(w, randF32(rng, k*cols))
				w16 := guarded[uint16](t, k*cols)
				w8 := guarded[int8](t, k*cols)
				for i := range w8 {
					w8[i] = int8(rng.IntN(256) - 128)
				}
				for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 13} {
					x := guarded[float32](t, n*k)
					copy(x, randF32(rng, n*k))
					dst := guarded[float32](t, n*cols)
					GemmTF32(dst, cols, x, k, n, k, w, cols, cols)
					GemmTF16(dst, cols, x, k, n, k, w16, cols, cols)
					GemmTBF16(dst, cols, x, k, n, k, w16, cols, cols)
				}
				// All rows of the last column block, including the last
				// row, which ends at the guard page.
				idx := guarded[int32](t, k)
				vals := guarded[float32](t, k)
				for i := range idx {
					idx[i] = int32(i)
					vals[i] = float32(i) + 0.5
				}
				dst := guarded[float32](t, cols)
				SparseRowsF32(dst, idx, vals, w, cols)
				SparseRowsF16(dst, idx, vals, w16, cols)
				SparseRowsBF16(dst, idx, vals, w16, cols)
				SparseRowsI8(dst, idx, vals, w8, cols)
				// A column range ending at the end of the weights.
				if cols > 1 {
					c0 := cols / 2
					SparseRowsF32(dst[:cols-c0], idx, vals, w[c0:], cols)
					SparseRowsF16(dst[:cols-c0], idx, vals, w16[c0:], cols)
					SparseRowsBF16(dst[:cols-c0], idx, vals, w16[c0:], cols)
					SparseRowsI8(dst[:cols-c0], idx, vals, w8[c0:], cols)
				}
			}
		}
	})
}
