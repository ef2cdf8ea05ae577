package eval

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// quantizationModels are the shared models with F32, F16 or BF16 matrices
// (every model of the test data; 6v0-3m exists only block-quantized and
// only its F32 head would be quantized).
var quantizationModels = []string{
	"rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP32.bin",
	"rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP16.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v1-730K-FP32.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v1-730K-FP16.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP16.bin",
	"rwkv.cpp/tests-history/tiny-rwkv-6v0-1m-FP32.bin",
	"rwkv.cpp/tests-history/tiny-rwkv-6v0-1m-FP16.bin",
	"pth/tiny-rwkv-6v0-1m-BF16.pth",
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin",
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP16.bin",
	"pth/tiny-rwkv-7v0-834K-BF16.pth",
}

// TestInt8QuantizationQuality: every shared model quantized to int8 at load
// stays close to the unquantized one over 256 positions of the reference's
// greedy continuation of `"in`.
//
// Bounds, from the int8 error model: rounding a weight to the nearest
// multiple of its row's scale s = max|row|/127 leaves an error uniform in
// [-s/2, s/2], so a product y = W x moves by a relative RMS of about
// (max|row| / rms(row)) / (127 sqrt(12)). In these models max/rms of a row
// averages 2.5-2.9 (at most 4.5-11), so each product is off by about 0.6%
// RMS (at most 1-2.5% for the worst rows). The head's product alone moves
// the logits by about that fraction of their RMS; the layers' products (4
// to 7 per layer, 4 or 12 layers) add independent errors of the same
// relative size to the residual stream, which sum in quadrature and are
// not amplified by LayerNorm on average. The largest of 256 x 256 errors
// lies a few RMS out. Measured: RMS errors 0.1-0.3% and maximum errors 0.3-2.5% of the
// largest |logit|. The test allows a maximum error of 5% of the largest
// |logit| (twice the worst model, 5v1 FP16) and greedy agreement of at
// least 90% of the positions (worst measured 94.5%, 5v1 FP16: the tiny
// v5.1 model has near-ties). A wrong scale (another row's, or one off by a
// factor) moves logits by their own order and fails both.
func TestInt8QuantizationQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every shared model twice")
	}
	for _, rel := range quantizationModels {
		t.Run(rel, func(t *testing.T) {
			path := testdata.Path(t, rel)
			ref, err := engine.Load(path, engine.Options{Threads: 1})
			require.NoError(t, err)
			defer ref.Close()
			q, err := engine.Load(path, engine.Options{Threads: 1, Quantize: engine.QuantizeInt8})
			require.NoError(t, err)
			defer q.Close()
			_, rb := ref.MatMulWeights()
			_, qb := q.MatMulWeights()
			require.Less(t, qb, rb, "the quantized matrices take fewer bytes")
			r, err := CompareQuantized(ref, q, []int{34, 105, 110}, 256, nil)
			require.NoError(t, err)
			t.Logf("max |err| %.4f (%.2f%% of max |logit| %.2f), rms %.5f, agreement %d/%d, first divergence %d",
				r.MaxAbsErr, 100*r.MaxAbsErr/r.MaxAbsLogit, r.MaxAbsLogit, r.RMSErr, r.Agree, r.Steps, r.FirstDivergence)
			require.Equal(t, 256, r.Steps)
			require.Greater(t, r.MaxAbsErr, 0.0, "the weights were quantized")
			require.LessOrEqual(t, r.MaxAbsErr, 0.05*r.MaxAbsLogit)
			require.GreaterOrEqual(t, r.Agreement, 0.9)
		})
	}
}
