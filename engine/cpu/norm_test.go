package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupNormRowsBitsEqualSingle: GroupNorm of several rows (four at a
// time, then the rest one by one) gives the bits of each row normalised
// alone, for a LayerNorm and a group norm.
func TestGroupNormRowsBitsEqualSingle(t *testing.T) {
	b := New(1)
	defer b.Close()
	r := rand.New(rand.NewSource(3))
	const rows, cols = 7, 96
	vals := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((2*r.Float64() - 1) * scale)
		}
		return v
	}
	xv := vals(rows*cols, 3)
	for i := range cols {
		xv[cols+i] += 100 // a row with a large mean
	}
	w, bias := b.UploadF32(1, cols, vals(cols, 1)), b.UploadF32(1, cols, vals(cols, 0.5))
	for _, groups := range []int{1, 6} {
		x, out := b.UploadF32(rows, cols, xv), b.New(rows, cols)
		b.GroupNorm(out, x, w, bias, groups, 1e-5)
		require.NoError(t, b.Err())
		all := b.t(out).f32
		for row := range rows {
			x1, o1 := b.UploadF32(1, cols, xv[row*cols:(row+1)*cols]), b.New(1, cols)
			b.GroupNorm(o1, x1, w, bias, groups, 1e-5)
			require.NoError(t, b.Err())
			for i, v := range b.t(o1).f32 {
				require.Equal(t, math.Float32bits(v), math.Float32bits(all[row*cols+i]), "groups %d row %d column %d", groups, row, i)
			}
		}
	}
}
