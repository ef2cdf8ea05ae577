package weights

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func f32T(name string, shape []int, v []float32) *Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &Tensor{Name: name, DType: F32, Shape: shape, Data: b}
}

func TestMergeLoRA(t *testing.T) {
	// weight [3, 2], A [1, 2], B [3, 1], alpha 2, r 1 => W += 2 * B @ A
	base := &File{Format: FormatSafetensors, Tensors: []*Tensor{
		f32T("blocks.0.att.key.weight", []int{3, 2}, []float32{1, 2, 3, 4, 5, 6}),
		f32T("ln_out.weight", []int{2}, []float32{1, 1}),
		f32T("blocks.0.att.value.weight", []int{3, 2}, []float32{0, 0, 0, 0, 0, 0}),
	}}
	adapter := &File{Tensors: []*Tensor{
		f32T("blocks.0.att.key.lora_A", []int{1, 2}, []float32{1, -1}),
		f32T("blocks.0.att.key.lora_B", []int{3, 1}, []float32{1, 2, 3}),
		f32T("ln_out.weight", []int{2}, []float32{7, 8}),
	}}
	require.NoError(t, MergeLoRA(base, adapter, 2))
	k, err := base.Get("blocks.0.att.key.weight").Float32()
	require.NoError(t, err)
	require.Equal(t, []float32{1 + 2, 2 - 2, 3 + 4, 4 - 4, 5 + 6, 6 - 6}, k)
	ln, err := base.Get("ln_out.weight").Float32()
	require.NoError(t, err)
	require.Equal(t, []float32{7, 8}, ln)
	v, _ := base.Get("blocks.0.att.value.weight").Float32()
	require.Equal(t, make([]float32, 6), v, "untouched")

	for name, ad := range map[string]*File{
		"missing B":   {Tensors: []*Tensor{f32T("blocks.0.att.key.lora_A", []int{1, 2}, []float32{1, 1})}},
		"bad shape":   {Tensors: []*Tensor{f32T("blocks.0.att.key.lora_A", []int{1, 3}, []float32{1, 1, 1}), f32T("blocks.0.att.key.lora_B", []int{3, 1}, []float32{1, 1, 1})}},
		"no target":   {Tensors: []*Tensor{f32T("blocks.9.att.key.lora_A", []int{1, 2}, []float32{1, 1}), f32T("blocks.9.att.key.lora_B", []int{3, 1}, []float32{1, 1, 1})}},
		"extra":       {Tensors: []*Tensor{f32T("blocks.0.att.nope", []int{1}, []float32{1})}},
		"wrong count": {Tensors: []*Tensor{f32T("ln_out.weight", []int{3}, []float32{1, 1, 1})}},
		"empty":       {},
	} {
		require.Error(t, MergeLoRA(base, ad, 1), name)
	}
	require.Error(t, MergeLoRA(base, adapter, 0), "alpha 0")
	ggml := &File{Format: FormatGGML, Tensors: []*Tensor{f32T("ln_out.weight", []int{2}, []float32{1, 1})}}
	require.ErrorContains(t, MergeLoRA(ggml, &File{Tensors: []*Tensor{f32T("ln_out.weight", []int{2}, []float32{1, 1})}}, 1), "rwkv.cpp")
}
