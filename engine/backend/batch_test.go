package backend

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchValidate(t *testing.T) {
	good := Batch{Offsets: []int{0, 1, 4}, Slots: []int{2, 0}}
	require.NoError(t, good.Validate(3))
	assert.Equal(t, 2, good.Seqs())
	assert.Equal(t, 4, good.Rows())

	for name, b := range map[string]Batch{
		"no sequences":     {Offsets: []int{0}},
		"offsets mismatch": {Offsets: []int{0, 1}, Slots: []int{0, 1}},
		"nonzero start":    {Offsets: []int{1, 2}, Slots: []int{0}},
		"empty sequence":   {Offsets: []int{0, 1, 1}, Slots: []int{0, 1}},
		"slot too large":   {Offsets: []int{0, 1}, Slots: []int{3}},
		"negative slot":    {Offsets: []int{0, 1}, Slots: []int{-1}},
	} {
		assert.Error(t, b.Validate(3), name)
	}
}
