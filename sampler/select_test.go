package sampler

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// propLogits returns random float64 logits of one of several shapes: smooth
// Gaussian, heavily quantized (many exact ties), with banned (-Inf) tokens,
// with tokens far below the maximum (probabilities that underflow to 0) and
// with all tokens equal.
func propLogits(r *rand.Rand, v int) []float64 {
	l := make([]float64, v)
	shape := r.IntN(6)
	for i := range l {
		x := r.NormFloat64() * (0.5 + 4*r.Float64())
		switch shape {
		case 1: // ties
			x = math.Round(x)
		case 2: // coarse ties, few values
			x = float64(r.IntN(3))
		case 3: // banned tokens
			if r.IntN(3) == 0 {
				x = math.Inf(-1)
			}
		case 4: // some probabilities underflow to exactly 0
			if r.IntN(4) == 0 {
				x = -800 - 1000*r.Float64()
			}
		case 5:
			x = 1.5
		}
		l[i] = x
	}
	if r.IntN(10) == 0 { // at least one finite token is needed for most tests
		l[r.IntN(v)] = math.Inf(-1)
	}
	return l
}

// Property: selection-based top-p keeps exactly the set of the sort-based
// reference, on many random inputs including ties, -Inf and underflow.
func TestTopPMatchesSortReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	ps := []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.999, 0.99999999}
	for it := 0; it < 3000; it++ {
		base := propLogits(r, 1+r.IntN(300))
		p := ps[r.IntN(len(ps))]
		if r.IntN(2) == 0 {
			p = 0.001 + 0.998*r.Float64()
		}
		got, want := slices.Clone(base), slices.Clone(base)
		TopP(got, p)
		refTopP(want, p)
		if !slices.Equal(kept(got), kept(want)) {
			t.Fatalf("it %d p=%v: kept %v, reference %v (logits %v)", it, p, kept(got), kept(want), base)
		}
	}
}

// Property: selection-based typical sampling keeps exactly the set of the
// sort-based reference.
func TestTypicalMatchesSortReference(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for it := 0; it < 3000; it++ {
		base := propLogits(r, 1+r.IntN(300))
		mass := 0.001 + 0.998*r.Float64()
		if r.IntN(4) == 0 {
			mass = []float64{0.2, 0.5, 0.9, 0.95}[r.IntN(4)]
		}
		got, want := slices.Clone(base), slices.Clone(base)
		Typical(got, mass)
		refTypical(want, mass)
		if !slices.Equal(kept(got), kept(want)) {
			t.Fatalf("it %d mass=%v: kept %v, reference %v (logits %v)", it, mass, kept(got), kept(want), base)
		}
	}
}

// Exact ties at the top-p cut: equal probabilities are ranked by id, so the
// cut falls between tied tokens exactly where a full sort puts it.
func TestTopPTiesAtCut(t *testing.T) {
	l := []float64{0, 1, 1, 1, 1, 0}
	want := slices.Clone(l)
	TopP(l, 0.5)
	refTopP(want, 0.5)
	if !slices.Equal(kept(l), kept(want)) || len(kept(l)) != 3 {
		t.Fatalf("kept %v, reference %v", kept(l), kept(want))
	}
}

func TestMassSelect(t *testing.T) {
	key := []float64{5, 1, 3, 3, 2}
	w := []float64{0.1, 0.2, 0.3, 0.25, 0.15}
	cases := []struct {
		target float64
		th     float64
		all    bool
	}{
		{0.05, 5, false},
		{0.1, 5, false},
		{0.2, 3, false}, // 0.1 + 0.3 + 0.25 (ties enter together)
		{0.65, 3, false},
		{0.7, 2, false},
		{1.0, 1, false},
		{1.1, 0, true},
	}
	for _, c := range cases {
		idx := []int32{0, 1, 2, 3, 4}
		th, all := massSelect(idx, key, w, c.target)
		if all != c.all || (!all && th != c.th) {
			t.Errorf("massSelect(target %v) = %v, %v; want %v, %v", c.target, th, all, c.th, c.all)
		}
	}
}

// The radix sort of sortRankedBuf orders exactly as the comparison sort:
// keys descending, ties (including -0 and +0) by id ascending, on lists
// with many ties, negative, tiny and huge keys, and lists not in id order.
func TestSortRankedRadix(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	var rb radixBuf
	for it := 0; it < 300; it++ {
		v := 1 + r.IntN(5000)
		key := make([]float64, v)
		for i := range key {
			switch it % 5 {
			case 0:
				key[i] = r.NormFloat64() * 10
			case 1:
				key[i] = float64(r.IntN(9) - 4)
			case 2:
				key[i] = []float64{0, math.Copysign(0, -1), 1e-310, -1e-310, math.MaxFloat64, -math.MaxFloat64}[r.IntN(6)]
			case 3:
				key[i] = math.Ldexp(r.Float64(), r.IntN(200)-100)
			default:
				key[i] = float32Key(r)
			}
		}
		ids := make([]int32, 0, v)
		for i := range key {
			if r.IntN(4) != 0 {
				ids = append(ids, int32(i))
			}
		}
		if it%7 == 6 {
			r.Shuffle(len(ids), func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
		}
		want := append([]int32(nil), ids...)
		sortRankedCmp(want, key)
		sortRankedBuf(ids, key, &rb)
		require.Equal(t, want, ids, "it %d", it)
	}
}

// float32Key returns a float32 logit-like value converted to float64.
func float32Key(r *rand.Rand) float64 { return float64(float32(r.NormFloat64())) }

// Property: on vocabularies long enough for massSelect's histogram,
// selection-based top-p and typical sampling keep exactly the sets of the
// sort-based references (ties, -Inf, underflow, all-equal logits).
func TestTopPTypicalHistogramMatchSortReference(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for it := 0; it < 240; it++ {
		base := propLogits(r, massHistMin+r.IntN(6000))
		p := []float64{0.1, 0.5, 0.9, 0.99, 0.999, 0.001 + 0.998*r.Float64()}[r.IntN(6)]
		got, want := slices.Clone(base), slices.Clone(base)
		TopP(got, p)
		refTopP(want, p)
		require.Equal(t, kept(want), kept(got), "top-p it %d p=%v", it, p)
		got, want = slices.Clone(base), slices.Clone(base)
		Typical(got, p)
		refTypical(want, p)
		require.Equal(t, kept(want), kept(got), "typical it %d mass=%v", it, p)
	}
}

// massSelect through its histogram returns the threshold of a full sort:
// the key at which the weight of the keys at or above it first reaches the
// target, with dyadic weights (exact sums in any order), many tied keys and
// targets equal to a cumulative sum.
func TestMassSelectHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for it := range 200 {
		n := massHistMin + r.IntN(5000)
		key, w := make([]float64, n), make([]float64, n)
		distinct := []int{2, 40, 1 << 20}[it%3]
		for i := range key {
			key[i] = -float64(r.IntN(distinct)) * 0.37
			w[i] = float64(1+r.IntN(32)) / 32
		}
		order := make([]int32, n)
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			switch {
			case key[a] > key[b]:
				return -1
			case key[a] < key[b]:
				return 1
			}
			return 0
		})
		total := 0.0
		for _, x := range w {
			total += x
		}
		target := total * r.Float64()
		if it%2 == 1 { // a cumulative sum at a key boundary
			cum := 0.0
			for j, i := range order {
				cum += w[i]
				if cum >= target && (j == n-1 || key[order[j+1]] != key[i]) {
					target = cum
					break
				}
			}
		}
		target = max(target, 1.0/32)
		want, cum := 0.0, 0.0
		for _, i := range order {
			cum += w[i]
			if cum >= target {
				want = key[i]
				break
			}
		}
		idx := slices.Clone(order)
		r.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		got, all := massSelect(idx, key, w, target)
		require.False(t, all, "it %d", it)
		require.Equal(t, want, got, "it %d", it)
	}
}
