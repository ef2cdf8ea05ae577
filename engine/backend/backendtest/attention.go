package backendtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

func randVals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// naiveAttention is the float64 definition of backend.Attender.Attention over
// full key and value arrays (row j = position j), for rows at positions pos...
func naiveAttention(q, keys, vals []float32, n, c, pos, heads int) []float32 {
	d := c / heads
	out := make([]float32, n*c)
	for i := 0; i < n; i++ {
		m := pos + i + 1
		for h := 0; h < heads; h++ {
			s := make([]float64, m)
			mx := math.Inf(-1)
			for j := range s {
				var dot float64
				for e := h * d; e < (h+1)*d; e++ {
					dot += float64(q[i*c+e]) * float64(keys[j*c+e])
				}
				s[j] = dot / math.Sqrt(float64(d))
				mx = math.Max(mx, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for e := h * d; e < (h+1)*d; e++ {
				var acc float64
				for j := range s {
					acc += s[j] / sum * float64(vals[j*c+e])
				}
				out[i*c+e] = float32(acc)
			}
		}
	}
	return out
}

// testAttention checks Attention against the float64 definition,
// for prefill (many rows) and decode (one row) at several positions, and
// checks that the step's keys and values land in the caches.
func testAttention(t *testing.T, att backend.Attender, be backend.Backend) {
	const c, heads, capRows = 48, 3, 40
	rng := rand.New(rand.NewPCG(1, 2))
	{
		keys := randVals(rng, capRows*c)
		vals := randVals(rng, capRows*c)
		kc, vc := be.New(capRows, c), be.New(capRows, c)
		pos := 0
		for _, n := range []int{7, 1, 1, 12, 1} {
			q := randVals(rng, n*c)
			qt := be.UploadF32(n, c, q)
			kt := be.UploadF32(n, c, keys[pos*c:(pos+n)*c])
			vt := be.UploadF32(n, c, vals[pos*c:(pos+n)*c])
			out := be.New(n, c)
			att.Attention(out, qt, kt, vt, kc, vc, pos, heads)
			if err := be.Err(); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, n*c)
			be.Read(out, 0, got)
			want := naiveAttention(q, keys, vals, n, c, pos, heads)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("pos %d, n %d: out[%d] = %v, want %v", pos, n, i, got[i], want[i])
				}
			}
			pos += n
			cached := make([]float32, pos*c)
			be.Read(kc, 0, cached)
			for i := range cached {
				if cached[i] != keys[i] {
					t.Fatalf("key cache element %d = %v, want %v", i, cached[i], keys[i])
				}
			}
			be.Read(vc, 0, cached)
			for i := range cached {
				if cached[i] != vals[i] {
					t.Fatalf("value cache element %d = %v, want %v", i, cached[i], vals[i])
				}
			}
		}
	}
}

// testAttentionPrefillEqualsDecode: a prefill step gives the same rows as
// feeding the same positions one at a time.
func testAttentionPrefillEqualsDecode(t *testing.T, att backend.Attender, be backend.Backend) {
	const c, heads, n = 32, 2, 9
	rng := rand.New(rand.NewPCG(3, 4))
	q, k, v := randVals(rng, n*c), randVals(rng, n*c), randVals(rng, n*c)
	kc, vc := be.New(n, c), be.New(n, c)
	out := be.New(n, c)
	att.Attention(out, be.UploadF32(n, c, q), be.UploadF32(n, c, k), be.UploadF32(n, c, v), kc, vc, 0, heads)
	all := make([]float32, n*c)
	be.Read(out, 0, all)
	kc2, vc2 := be.New(n, c), be.New(n, c)
	one := be.New(1, c)
	row := make([]float32, c)
	for i := 0; i < n; i++ {
		sl := func(x []float32) backend.Tensor { return be.UploadF32(1, c, x[i*c:(i+1)*c]) }
		att.Attention(one, sl(q), sl(k), sl(v), kc2, vc2, i, heads)
		be.Read(one, 0, row)
		for e := range row {
			if row[e] != all[i*c+e] {
				t.Fatalf("row %d element %d: %v one at a time, %v in one step", i, e, row[e], all[i*c+e])
			}
		}
	}
	if err := be.Err(); err != nil {
		t.Fatal(err)
	}
}

func testAttentionErrors(t *testing.T, att backend.Attender, be backend.Backend) {
	x := be.New(2, 8)
	kc, vc := be.New(4, 8), be.New(4, 8)
	cases := map[string]func(){
		"heads":        func() { att.Attention(x, x, x, x, kc, vc, 0, 3) },
		"past cache":   func() { att.Attention(x, x, x, x, kc, vc, 3, 2) },
		"negative pos": func() { att.Attention(x, x, x, x, kc, vc, -1, 2) },
		"cache width":  func() { att.Attention(x, x, x, x, be.New(4, 4), vc, 0, 2) },
		"cache rows":   func() { att.Attention(x, x, x, x, kc, be.New(3, 8), 0, 2) },
		"row count":    func() { att.Attention(be.New(1, 8), x, x, x, kc, vc, 0, 2) },
	}
	for name, f := range cases {
		f()
		if be.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
