package engine

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// requireSameBits fails unless a and b hold the same float32 bit patterns.
func requireSameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	require.Len(t, b, len(a), what)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			require.Failf(t, "bits differ", "%s: element %d: %g (%08x) vs %g (%08x)", what, i, a[i], math.Float32bits(a[i]), b[i], math.Float32bits(b[i]))
		}
	}
}

// checkPrefillBits feeds prompt at once and token by token to two sessions
// of m and requires bitwise the same logits after every token and the same
// state at the end: the products of a sequence (the several-token tiles) give
// each token's one-token results.
func checkPrefillBits(t *testing.T, m *Model, prompt []int) {
	t.Helper()
	seq, err := m.NewSession()
	require.NoError(t, err)
	all, err := seq.FeedAll(prompt)
	require.NoError(t, err)
	vocab := len(all) / len(prompt)
	one, err := m.NewSession()
	require.NoError(t, err)
	for i, tok := range prompt {
		lg, err := one.Feed([]int{tok})
		require.NoError(t, err)
		requireSameBits(t, "logits", lg, all[i*vocab:(i+1)*vocab])
	}
	s1, err := seq.State()
	require.NoError(t, err)
	s2, err := one.State()
	require.NoError(t, err)
	requireSameBits(t, "state", s1.Data, s2.Data)
}

// TestPrefillBitsEqualDecode: on the CPU backend, prefill gives bitwise the
// logits and state of feeding the tokens one at a time, for every version,
// float32 and int8 weights (synthetic, width 64) and the shared files in
// fp16 and the block-quantized types, with a prompt whose length leaves a
// partial tile of tokens.
func TestPrefillBitsEqualDecode(t *testing.T) {
	for _, v := range allVersions {
		for _, q := range []Quantization{NoQuantization, QuantizeInt8} {
			t.Run(v.String()+"/"+string(q), func(t *testing.T) {
				checkPrefillBits(t, synthModel(t, v, Options{Quantize: q}), prompt)
			})
		}
	}
	for _, rel := range []string{
		"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP16.bin",
		"rwkv.cpp/tests/tiny-rwkv-7v0-834K-Q5_1.bin",
		"rwkv.cpp/tests/tiny-rwkv-7v0-834K-Q5_0.bin",
		"rwkv.cpp/tests/tiny-rwkv-6v0-3m-Q5_1.bin",
	} {
		t.Run(rel, func(t *testing.T) {
			m, err := Load(testdata.Path(t, rel), Options{Threads: 2})
			require.NoError(t, err)
			defer m.Close()
			checkPrefillBits(t, m, prompt)
		})
	}
}
