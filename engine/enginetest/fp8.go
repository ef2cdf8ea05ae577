package enginetest

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// QuantizedFP8 loads shared models with engine.QuantizeFP8 on the backend
// under test and compares their logits with the unquantized model on the
// pure-Go backend over 16 positions of its greedy continuation of `"in`.
//
// Error model: an e4m3 code has 3 mantissa bits, so rounding w/scale to
// the nearest code leaves a relative error of at most 2^-4 per weight
// (about 2-3% RMS over a row; subnormals, below 2^-6 of the row's maximum,
// are rare), four to eight times int8's per-row 0.6%: the logits move by
// about as many times int8's 0.3-2.5% of the largest |logit| at most
// (measured over 64 positions on the emulated library: 1.1% for 7v0, 3.2%
// for 4v0, 5.8% for 5v1). The bound is 10% of the largest |logit|, three
// times the worst of the models run here, and greedy agreement of 90%.
func QuantizedFP8(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Backend == nil || !backend.Supports(cfg.Backend, backend.F8E4M3) {
		t.Skip("the backend does not support F8E4M3 weights")
	}
	for _, rel := range []string{"rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP32.bin", "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP16.bin"} {
		path := testdata.Path(t, rel)
		ref, err := engine.Load(path, engine.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		opts := cfg.options(0)
		opts.Quantize = engine.QuantizeFP8
		q, err := engine.Load(path, opts)
		if err != nil {
			ref.Close()
			t.Fatalf("%s: %v", rel, err)
		}
		maxErr, maxLogit, agree, steps := compareGreedy(t, ref, q, []int{34, 105, 110}, 16)
		t.Logf("%s fp8: max |err| %.4f of max |logit| %.2f, agreement %d/%d", rel, maxErr, maxLogit, agree, steps)
		if maxErr > 0.1*maxLogit || maxErr == 0 {
			t.Errorf("%s fp8: max |logit error| %.4g, want in (0, %.4g]", rel, maxErr, 0.1*maxLogit)
		}
		if float64(agree) < 0.9*float64(steps) {
			t.Errorf("%s fp8: greedy agreement %d/%d < 90%%", rel, agree, steps)
		}
		q.Close()
		ref.Close()
	}
}

// compareGreedy feeds prompt to both models, then steps-1 tokens of ref's
// greedy continuation, and returns the largest logit difference, the
// largest |reference logit| and the positions whose argmax agree.
func compareGreedy(t *testing.T, ref, q *engine.Model, prompt []int, steps int) (maxErr, maxLogit float64, agree, n int) {
	t.Helper()
	sr, err := ref.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	sq, err := q.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	in := prompt
	for ; n < steps; n++ {
		lr, err := sr.Feed(in)
		if err != nil {
			t.Fatal(err)
		}
		lq, err := sq.Feed(in)
		if err != nil {
			t.Fatal(err)
		}
		maxErr = max(maxErr, MaxAbsDiff(lr, lq))
		br, bq := 0, 0
		for i := range lr {
			maxLogit = max(maxLogit, abs(float64(lr[i])))
			if lr[i] > lr[br] {
				br = i
			}
			if lq[i] > lq[bq] {
				bq = i
			}
		}
		if br == bq {
			agree++
		}
		in = []int{br}
	}
	return maxErr, maxLogit, agree, n
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
