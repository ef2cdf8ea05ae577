package weights

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// craftGGML writes a small synthetic v7 model in rwkv.cpp's layout with the
// given header; tensor types follow rwkv.cpp's rules for main unless typ
// overrides them. The true model has vocab 97, width 64 and 2 layers.
func craftGGML(t testing.TB, h GGMLHeader, main DType, typ func(*Tensor) DType) []byte {
	t.Helper()
	src, err := Synthesize(SynthConfig{Version: V7, Layers: 2, Embd: 64, Vocab: 97, HeadSize: 16, FFN: 128,
		DecayLoRA: 8, AaaLoRA: 8, ValueLoRA: 8, GateLoRA: 8, Seed: 3})
	require.NoError(t, err)
	conv, err := ToRWKVCpp(src)
	require.NoError(t, err)
	ts := make([]*Tensor, len(conv.Tensors))
	for i, x := range conv.Tensors {
		dt := RWKVCppDType(x.Name, x.Shape, main)
		if typ != nil {
			dt = typ(x)
		}
		v, err := x.Float32()
		require.NoError(t, err)
		data, err := Encode(dt, v)
		require.NoError(t, err)
		ts[i] = &Tensor{Name: x.Name, DType: dt, Shape: x.Shape, Data: data}
	}
	var buf bytes.Buffer
	require.NoError(t, WriteGGML(&buf, h, ts))
	return buf.Bytes()
}

func goodGGMLHeader(dt DType) GGMLHeader {
	return GGMLHeader{Version: GGMLVersion101, NVocab: 97, NEmbed: 64, NLayer: 2, DataType: dt}
}

func TestConsistencyGoodFiles(t *testing.T) {
	for _, dt := range []DType{F32, F16, Q8_0, Q5_1, Q4_0} {
		f, err := ReadGGML(craftGGML(t, goodGGMLHeader(dt), dt, nil))
		require.NoError(t, err, dt)
		m, err := Canonicalize(f, Options{})
		require.NoError(t, err, dt)
		assert.Equal(t, 97, m.Config.Vocab)
	}
}

func TestConsistencyRefusesLyingGGMLHeaders(t *testing.T) {
	withField := func(mod func(*GGMLHeader)) GGMLHeader {
		h := goodGGMLHeader(Q8_0)
		mod(&h)
		return h
	}
	cases := []struct {
		name  string
		h     GGMLHeader
		main  DType
		typ   func(*Tensor) DType
		field string
		want  []string
	}{
		{"n_vocab", withField(func(h *GGMLHeader) { h.NVocab = 65536 }), Q8_0, nil, "n_vocab", []string{"n_vocab is 65536", "97"}},
		{"n_vocab zero", withField(func(h *GGMLHeader) { h.NVocab = 0 }), Q8_0, nil, "n_vocab", []string{"n_vocab is 0"}},
		{"n_embed", withField(func(h *GGMLHeader) { h.NEmbed = 4096 }), Q8_0, nil, "n_embed", []string{"n_embed is 4096", "64 width"}},
		{"n_layer more", withField(func(h *GGMLHeader) { h.NLayer = 24 }), Q8_0, nil, "n_layer", []string{"n_layer is 24", "2 layers"}},
		{"n_layer fewer", withField(func(h *GGMLHeader) { h.NLayer = 1 }), Q8_0, nil, "n_layer", []string{"n_layer is 1"}},
		{"f32 header, quantized tensors", withField(func(h *GGMLHeader) { h.DataType = F32 }), Q8_0, nil, "data_type",
			[]string{"data_type is F32", "is Q8_0", "holds F32 tensors"}},
		{"f32 header, f16 tensors", withField(func(h *GGMLHeader) { h.DataType = F32 }), F16, nil, "data_type",
			[]string{"data_type is F32", "is F16"}},
		{"q8_0 header, q5_1 tensors", withField(func(h *GGMLHeader) { h.DataType = Q8_0 }), Q5_1, nil, "data_type",
			[]string{"data_type is Q8_0", "is Q5_1", "Q8_0, F16 or F32"}},
		{"q5_0 header, only f32 tensors", withField(func(h *GGMLHeader) { h.DataType = Q5_0 }), F32, nil, "data_type",
			[]string{"data_type is Q5_0", "no tensor is Q5_0 (only F32)"}},
		{"f16 header, only f32 tensors", withField(func(h *GGMLHeader) { h.DataType = F16 }), F32, nil, "data_type",
			[]string{"data_type is F16", "no tensor is F16"}},
		{"two quantized types", goodGGMLHeader(Q8_0), Q8_0, func(x *Tensor) DType {
			dt := RWKVCppDType(x.Name, x.Shape, Q8_0)
			if dt == Q8_0 && x.Name == "blocks.1.att.key.weight" {
				return Q4_1
			}
			return dt
		}, "data_type", []string{`"blocks.1.att.key.weight" is Q4_1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := craftGGML(t, tc.h, tc.main, tc.typ)
			f, err := ReadGGML(data)
			require.NoError(t, err, "the container itself is well-formed")
			_, err = Canonicalize(f, Options{})
			require.Error(t, err)
			var hm *HeaderMismatchError
			require.True(t, errors.As(err, &hm), "error %v is not a HeaderMismatchError", err)
			assert.Equal(t, tc.field, hm.Field)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			// Load (the path-based entry point) refuses it the same way.
			path := filepath.Join(t.TempDir(), "m.bin")
			writeFile(t, path, data)
			_, err = Load(path, Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "header field "+tc.field)
		})
	}
}

func TestConsistencyIgnoresMissingHeaderFields(t *testing.T) {
	f, err := ReadGGML(craftGGML(t, goodGGMLHeader(F32), F32, nil))
	require.NoError(t, err)
	// Files assembled in memory (ToRWKVCpp) carry only some fields.
	f.Header = map[string]int{"n_vocab": 97}
	_, err = Canonicalize(f, Options{})
	require.NoError(t, err)
	f.Header = map[string]int{"data_type": 1 << 40}
	err = CheckConsistency(f, Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "data_type")
	f.Header = map[string]int{"data_type": 5}
	err = CheckConsistency(f, Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Q4_2")
	// Other formats have no header fields to disagree with.
	require.NoError(t, CheckConsistency(&File{Format: FormatSafetensors, Header: map[string]int{"n_vocab": 1}}, Config{}))
}

func TestConsistencyRealGGMLFiles(t *testing.T) {
	for _, path := range realGGMLFiles(t) {
		m, err := Load(path, Options{})
		if !assert.NoError(t, err, filepath.Base(path)) {
			continue
		}
		assert.Equal(t, 256, m.Config.Vocab)
		m.Close()
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o644))
}
