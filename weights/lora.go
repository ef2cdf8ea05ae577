package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
)

// MergeLoRA merges a LoRA adapter in the RWKV trainer's layout into the
// tensors of base, in place (the merged tensors become F32):
//
//   - for every pair X.lora_A [r, in] and X.lora_B [out, r] of the adapter,
//     X.weight [out, in] += (X.lora_B @ X.lora_A) * alpha / r (as the
//     trainer's merge script does);
//   - every other tensor of the adapter (the trainer saves the layer norms,
//     time-mix parameters and heads it tuned with the adapter) replaces the
//     base tensor of the same name, which must exist with the same number of
//     elements. rwkv.cpp files store some parameters transformed, so such
//     replacements need a .pth or safetensors base.
//
// alpha must be > 0. A tensor of the adapter that fits nothing is an error.
func MergeLoRA(base, adapter *File, alpha float64) error {
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return fmt.Errorf("weights: LoRA alpha must be > 0, got %v", alpha)
	}
	pairs := map[string]bool{}
	var plain []*Tensor
	for _, t := range adapter.Tensors {
		switch {
		case strings.HasSuffix(t.Name, ".lora_A"):
			pairs[strings.TrimSuffix(t.Name, ".lora_A")] = true
		case strings.HasSuffix(t.Name, ".lora_B"):
			pairs[strings.TrimSuffix(t.Name, ".lora_B")] = true
		default:
			plain = append(plain, t)
		}
	}
	if len(pairs) == 0 && len(plain) == 0 {
		return fmt.Errorf("weights: the LoRA file has no tensors")
	}
	names := make([]string, 0, len(pairs))
	for p := range pairs {
		names = append(names, p)
	}
	sort.Strings(names)
	replace := map[string]*Tensor{}
	for _, p := range names {
		a, b := adapter.Get(p+".lora_A"), adapter.Get(p+".lora_B")
		if a == nil || b == nil {
			return fmt.Errorf("weights: LoRA %s has only one of lora_A and lora_B", p)
		}
		w := base.Get(p + ".weight")
		if w == nil {
			return fmt.Errorf("weights: LoRA %s: the model has no %s.weight", p, p)
		}
		merged, err := mergePair(w, a, b, alpha)
		if err != nil {
			return fmt.Errorf("weights: LoRA %s: %w", p, err)
		}
		replace[w.Name] = merged
	}
	for _, t := range plain {
		w := base.Get(t.Name)
		if w == nil {
			return fmt.Errorf("weights: LoRA file tensor %s has no counterpart in the model", t.Name)
		}
		if base.Format == FormatGGML {
			return fmt.Errorf("weights: LoRA file replaces %s, which rwkv.cpp files store transformed; use a .pth or safetensors base model", t.Name)
		}
		if t.Len() != w.Len() {
			return fmt.Errorf("weights: LoRA file tensor %s has shape %s, the model's has %s", t.Name, t.ShapeString(), w.ShapeString())
		}
		if _, done := replace[t.Name]; done {
			return fmt.Errorf("weights: LoRA file both replaces and adapts %s", t.Name)
		}
		c := *t
		c.Shape = append([]int(nil), w.Shape...)
		replace[t.Name] = &c
	}
	for i, t := range base.Tensors {
		if r, ok := replace[t.Name]; ok {
			base.Tensors[i] = r
		}
	}
	base.index = nil
	return nil
}

func mergePair(w, a, b *Tensor, alpha float64) (*Tensor, error) {
	if len(w.Shape) != 2 || len(a.Shape) != 2 || len(b.Shape) != 2 {
		return nil, fmt.Errorf("shapes weight %s, lora_A %s, lora_B %s: all must be 2-D", w.ShapeString(), a.ShapeString(), b.ShapeString())
	}
	out, in, r := w.Shape[0], w.Shape[1], a.Shape[0]
	if a.Shape[1] != in || b.Shape[0] != out || b.Shape[1] != r || r == 0 {
		return nil, fmt.Errorf("shapes do not fit: weight %s needs lora_A [r, %d] and lora_B [%d, r], got %s and %s",
			w.ShapeString(), in, out, a.ShapeString(), b.ShapeString())
	}
	wv, err := w.Float32()
	if err != nil {
		return nil, err
	}
	av, err := a.Float32()
	if err != nil {
		return nil, err
	}
	bv, err := b.Float32()
	if err != nil {
		return nil, err
	}
	scale := alpha / float64(r)
	data := make([]byte, 4*out*in)
	row := make([]float64, in)
	for o := 0; o < out; o++ {
		clear(row)
		for k := 0; k < r; k++ {
			bk := float64(bv[o*r+k])
			if bk == 0 {
				continue
			}
			ak := av[k*in : (k+1)*in]
			for i, x := range ak {
				row[i] += bk * float64(x)
			}
		}
		for i := range row {
			v := float32(float64(wv[o*in+i]) + row[i]*scale)
			binary.LittleEndian.PutUint32(data[4*(o*in+i):], math.Float32bits(v))
		}
	}
	return &Tensor{Name: w.Name, DType: F32, Shape: []int{out, in}, Data: data}, nil
}
