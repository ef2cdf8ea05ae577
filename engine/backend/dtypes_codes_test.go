package backend_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestDTypeCodesAgree: backend and weights number the encodings alike (both
// read their block layouts from internal/blockfmt by code).
func TestDTypeCodesAgree(t *testing.T) {
	pairs := []struct {
		b backend.DType
		w weights.DType
	}{
		{backend.F32, weights.F32}, {backend.F16, weights.F16}, {backend.BF16, weights.BF16},
		{backend.Q4_0, weights.Q4_0}, {backend.Q4_1, weights.Q4_1}, {backend.Q5_0, weights.Q5_0},
		{backend.Q5_1, weights.Q5_1}, {backend.Q8_0, weights.Q8_0},
	}
	for _, p := range pairs {
		assert.Equal(t, uint8(p.w), uint8(p.b), "%s", p.b)
		assert.Equal(t, p.w.String(), p.b.String())
		assert.Equal(t, p.w.BlockBytes(), p.b.BlockBytes(), "%s", p.b)
		assert.Equal(t, p.w.BlockSize(), p.b.BlockSize(), "%s", p.b)
	}
	assert.Equal(t, 34, backend.Q8_0.BlockBytes())
	assert.Equal(t, 32, weights.Q5_1.BlockSize())
	assert.Equal(t, 0, backend.DType(200).BlockBytes())
	assert.False(t, backend.BF16.Quantized())
	assert.True(t, weights.Q4_0.Quantized())
}
