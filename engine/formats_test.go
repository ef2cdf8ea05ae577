package engine

import (
	"bytes"
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

// encodeAll re-encodes every tensor of f (F32) to the type pick chooses.
func encodeAll(t testing.TB, ts []*weights.Tensor, pick func(*weights.Tensor) weights.DType) []*weights.Tensor {
	t.Helper()
	out := make([]*weights.Tensor, len(ts))
	for i, x := range ts {
		c := *x
		if dt := pick(x); dt != x.DType {
			v, err := x.Float32()
			if err != nil {
				t.Fatal(err)
			}
			if c.Data, err = weights.Encode(dt, v); err != nil {
				t.Fatal(err)
			}
			c.DType = dt
		}
		out[i] = &c
	}
	return out
}

func logitsOf(t *testing.T, f *weights.File) []float32 {
	t.Helper()
	wm, err := weights.Canonicalize(f, weights.Options{V5GroupNormEps: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(wm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession()
	lg, err := s.FeedAll(prompt)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), lg...)
}

// widen returns F32 copies of tensors (exactly decoded).
func widen(t *testing.T, ts []*weights.Tensor) []*weights.Tensor {
	return encodeAll(t, ts, func(*weights.Tensor) weights.DType { return weights.F32 })
}

// TestFormatsAgree writes a synthetic model of every version in safetensors
// (F32, F16, BF16) and rwkv.cpp format (F32, F16, Q8_0, Q5_1), reads each back
// and requires the logits of the same weights evaluated from exactly decoded
// float32 values: the file path (encoding, container, canonicalisation, the
// converter's value transforms) must add nothing beyond the storage type's own
// rounding, so the limit is 1e-5 (5e-5 for quantized files, whose value
// projection is summed in another order).
func TestFormatsAgree(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: 2, Embd: 64, Vocab: 97, HeadSize: 16, FFN: 128,
				MixLoRA: 8, DecayLoRA: 16, AaaLoRA: 8, ValueLoRA: 8, GateLoRA: 16, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, data []byte, want []float32, limit float64) {
				t.Helper()
				g, err := weights.Decode(data)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := maxAbsDiff(logitsOf(t, g), want); d > limit {
					t.Errorf("%s: logits differ by %g from the decoded weights' (limit %g)", name, d, limit)
				}
			}
			for _, dt := range []weights.DType{weights.F32, weights.F16, weights.BF16} {
				var buf bytes.Buffer
				ts := encodeAll(t, f.Tensors, func(*weights.Tensor) weights.DType { return dt })
				if err := weights.WriteSafetensors(&buf, ts, nil); err != nil {
					t.Fatal(err)
				}
				want := logitsOf(t, &weights.File{Format: weights.FormatPTH, Tensors: widen(t, ts)})
				check("safetensors "+dt.String(), buf.Bytes(), want, 1e-5)
			}
			conv, err := weights.ToRWKVCpp(f)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(logitsOf(t, conv), logitsOf(t, f)); d > 1e-5 {
				t.Errorf("rwkv.cpp layout: logits differ from the official layout's by %g", d)
			}
			for _, dt := range []weights.DType{weights.F32, weights.F16, weights.Q8_0, weights.Q5_1} {
				var buf bytes.Buffer
				ts := encodeAll(t, conv.Tensors, func(x *weights.Tensor) weights.DType { return weights.RWKVCppDType(x.Name, x.Shape, dt) })
				h := weights.GGMLHeader{Version: weights.GGMLVersion101, NVocab: 97, NEmbed: 64, NLayer: 2, DataType: dt}
				if err := weights.WriteGGML(&buf, h, ts); err != nil {
					t.Fatal(err)
				}
				want := logitsOf(t, &weights.File{Format: weights.FormatGGML, Tensors: widen(t, ts)})
				// A quantized value projection is multiplied densely in
				// its stored layout (MatMul) instead of transposed
				// (MatMulT): another float32 summation order.
				limit := 1e-5
				if dt.Quantized() {
					limit = 5e-5
				}
				check("rwkv.cpp "+dt.String(), buf.Bytes(), want, limit)
				if dt.Quantized() {
					quantized := 0
					for _, x := range ts {
						if x.DType == dt {
							quantized++
						}
					}
					if quantized == 0 {
						t.Errorf("rwkv.cpp %s: no tensor was quantized", dt)
					}
				}
			}
		})
	}
}
