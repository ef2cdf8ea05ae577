package bindings

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// TestPuregoDeviceDecode runs Session.Generate on the device-resident
// decode loop through the purego loader (library named by
// $RWKVGO_CUDA_LIB; skipped when it is not set) and compares its tokens
// and final state with host sampling.
func TestPuregoDeviceDecode(t *testing.T) {
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		t.Skip("RWKVGO_CUDA_LIB not set")
	}
	b, err := OpenLibrary(lib, 0)
	require.NoError(t, err)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	cfg := sampler.DefaultConfig()
	cfg.Seed, cfg.TopK, cfg.StopTokens, cfg.LogitBias = 4, 30, []int{10}, map[int]float64{32: 1}
	smp, err := sampler.New(cfg)
	require.NoError(t, err)
	prompt := []int{87, 104, 121}
	host, err := m.NewSession()
	require.NoError(t, err)
	defer host.Close()
	dev, err := m.NewSession()
	require.NoError(t, err)
	defer dev.Close()
	want, err := sampler.Generate(host.SamplerModel(), prompt, smp, sampler.Options{MaxTokens: 5, Seq: 1})
	require.NoError(t, err)
	got, err := dev.Generate(context.Background(), prompt, smp, engine.GenerateOptions{MaxTokens: 5, Seq: 1})
	require.NoError(t, err)
	assert.Equal(t, want.Tokens, got.Tokens)
	assert.Equal(t, want.Reason, got.Reason)
	hs, err := host.State()
	require.NoError(t, err)
	ds, err := dev.State()
	require.NoError(t, err)
	assert.Equal(t, hs.Data, ds.Data)

	// Log-probabilities on request: the first token's equals the
	// log-softmax of the prompt's logits on the host (float64, rounded to
	// float32 on the device: a relative 2^-23).
	d, err := m.NewDecoder(1)
	require.NoError(t, err)
	defer d.Close()
	lps, err := m.NewSession()
	require.NoError(t, err)
	defer lps.Close()
	_, err = d.Add([]engine.DecodeRequest{{Session: lps, Prompt: prompt, Sampler: cfg, Seq: 1, MaxTokens: 1, Logprobs: true}})
	require.NoError(t, err)
	toks, err := d.Read()
	require.NoError(t, err)
	require.Len(t, toks, 1)
	ref, err := m.NewSession()
	require.NoError(t, err)
	defer ref.Close()
	logits, err := ref.Feed(prompt)
	require.NoError(t, err)
	mx := math.Inf(-1)
	for _, x := range logits {
		mx = math.Max(mx, float64(x))
	}
	z := 0.0
	for _, x := range logits {
		z += math.Exp(float64(x) - mx)
	}
	want0 := float64(logits[toks[0].Token]) - mx - math.Log(z)
	assert.InDelta(t, want0, toks[0].Logprob, 1e-6*math.Max(1, math.Abs(want0)), "log-probability of token %d", toks[0].Token)
	assert.True(t, toks[0].Done, "a budget of one token")
}
