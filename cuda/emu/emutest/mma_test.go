package emutest

import (
	"math"
	"math/rand"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/half"
)

// random16 returns n random fp16 or bf16 encodings of values in [-2, 2).
func random16(rng *rand.Rand, n int, bf16 bool) ([]uint16, []float32) {
	bits, vals := make([]uint16, n), make([]float32, n)
	for i := range bits {
		v := float32(rng.Float64()*4 - 2)
		if bf16 {
			bits[i] = half.F32ToBF16(v)
			vals[i] = half.BF16ToF32(bits[i])
		} else {
			bits[i] = half.F32ToF16(v)
			vals[i] = half.F16ToF32(bits[i])
		}
	}
	return bits, vals
}

// mmaRef computes C + A*B the way the emulator specifies it: products of
// 16-bit values are exact in float32, accumulated in float32 in k order.
func mmaRef(a, b, c []float32, m, n, k int) []float32 {
	d := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			acc := float32(0)
			if c != nil {
				acc = c[i*n+j]
			}
			for p := 0; p < k; p++ {
				acc += float32(a[i*k+p] * b[p*n+j])
			}
			d[i*n+j] = acc
		}
	}
	return d
}

func checkMatrix(t *testing.T, what string, got, want []float32, a, b []float32, m, n, k int) {
	t.Helper()
	for i := range got {
		if got[i] != want[i] {
			// report the distance to the exact result too
			exact := 0.0
			for p := 0; p < k; p++ {
				exact += float64(a[(i/n)*k+p]) * float64(b[p*n+i%n])
			}
			t.Fatalf("%s: element (%d,%d) = %g, want %g (exact product sum %g)", what, i/n, i%n, got[i], want[i], exact)
		}
	}
}

// TestMMAFragmentLayout loads one 16x8x16 problem into registers per the
// PTX ISA fragment layout and checks that mma.sync computes C + A*B.
func TestMMAFragmentLayout(t *testing.T) {
	for _, bf16 := range []bool{false, true} {
		rng := rand.New(rand.NewSource(7))
		ab, av := random16(rng, 16*16, bf16)
		bb, bv := random16(rng, 16*8, bf16)
		c := make([]float32, 16*8)
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		d, err := mmaTile(ab, bb, c, bf16)
		if err != nil {
			t.Fatal(err)
		}
		checkMatrix(t, map[bool]string{false: "f16", true: "bf16"}[bf16], d, mmaRef(av, bv, c, 16, 8, 16), av, bv, 16, 8, 16)
	}
}

// TestMMAGemm runs a multi-warp GEMM that stages tiles with cp.async, reads
// fragments with ldmatrix (.x4 for A, .x2.trans for B) and multiplies with
// mma.sync, and compares it with a plain matrix product.
func TestMMAGemm(t *testing.T) {
	m, n, k := 64, 48, 96
	for _, bf16 := range []bool{false, true} {
		rng := rand.New(rand.NewSource(8))
		ab, av := random16(rng, m*k, bf16)
		bb, bv := random16(rng, k*n, bf16)
		c, err := mmaGemm(ab, bb, m, n, k, bf16)
		if err != nil {
			t.Fatal(err)
		}
		want := mmaRef(av, bv, nil, m, n, k)
		checkMatrix(t, map[bool]string{false: "f16 gemm", true: "bf16 gemm"}[bf16], c, want, av, bv, m, n, k)
		for i := range c { // and against the exact product, loosely
			exact := 0.0
			for p := 0; p < k; p++ {
				exact += float64(av[(i/n)*k+p]) * float64(bv[p*n+i%n])
			}
			if math.Abs(exact-float64(c[i])) > 1e-4 {
				t.Fatalf("element %d: %g vs exact %g", i, c[i], exact)
			}
		}
	}
}

// TestLdmatrixLayouts checks every ldmatrix variant against the documented
// lane/register mapping: lane l receives row l/4, columns 2(l%4) and
// 2(l%4)+1 of each matrix (of its transpose with .trans).
func TestLdmatrixLayouts(t *testing.T) {
	got, err := ldmatrix()
	if err != nil {
		t.Fatal(err)
	}
	elem := func(m, r, c int) uint32 { return uint32(m*64 + r*8 + c) }
	variants := []struct {
		name  string
		n     int
		trans bool
	}{{"x1", 1, false}, {"x2", 2, false}, {"x4", 4, false}, {"x1.trans", 1, true}, {"x2.trans", 2, true}, {"x4.trans", 4, true}}
	for v, vr := range variants {
		for lane := 0; lane < 32; lane++ {
			g, c := lane/4, 2*(lane%4)
			for m := 0; m < vr.n; m++ {
				lo, hi := elem(m, g, c), elem(m, g, c+1)
				if vr.trans {
					lo, hi = elem(m, c, g), elem(m, c+1, g)
				}
				if w, r := lo|hi<<16, got[v*128+lane*4+m]; r != w {
					t.Fatalf("ldmatrix.%s lane %d register %d: got %#08x want %#08x", vr.name, lane, m, r, w)
				}
			}
		}
	}
}

func TestCpAsyncGroups(t *testing.T) {
	src := make([]uint32, 16)
	for i := range src {
		src[i] = 0x100 + uint32(i)
	}
	got, err := cpAsync(src)
	if err != nil {
		t.Fatal(err)
	}
	p := uint32(0xffffffff) // poisoned shared memory
	want := []uint32{p, p, p, p, src[0], src[1], src[2], src[3], p, p, p, p, src[4], src[5], 0, 0, src[8]}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("out[%d] = %#x, want %#x (all: %x)", i, got[i], want[i], got)
		}
	}
}
