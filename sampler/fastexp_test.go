package sampler

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpNegAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	worst := 0.0
	check := func(e float64) {
		got, want := expNeg(e), math.Exp(e)
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	for i := 0; i < 1_000_000; i++ {
		check(-100 * r.Float64())
		check(-r.Float64() * math.Pow(10, -float64(r.IntN(12))))
	}
	for _, e := range []float64{0, -0.0, -1e-300, -math.Ln2 / 128, -math.Ln2, -50, -99.99999, -100, 0.5, 1} {
		check(e)
	}
	if worst > expNegErr/2 {
		t.Fatalf("expNeg max relative error %g exceeds half the bound %g", worst, expNegErr)
	}
	if expNeg(0) != 1 {
		t.Errorf("expNeg(0) = %v, want exactly 1", expNeg(0))
	}
	if expNeg(-100.5) != 0 || expNeg(math.Inf(-1)) != 0 {
		t.Error("expNeg below -100 should be 0")
	}
	t.Logf("expNeg max relative error %g", worst)
}
