package weights

import (
	"fmt"
	"math"
	"strings"
)

// ToRWKVCpp converts a model in the official checkpoint layout (as read from a
// .pth or safetensors file, or made by Synthesize) into rwkv.cpp's layout:
// the same value transforms, key names and shapes as rwkv.cpp's converter, so
// the result can be written with WriteGGML and read by rwkv.cpp. Tensors are
// returned as F32; see RWKVCppDType for the per-tensor type rwkv.cpp uses.
func ToRWKVCpp(f *File) (*File, error) {
	ver, err := DetectVersion(func(n string) bool { return f.Get(n) != nil })
	if err != nil {
		return nil, err
	}
	if f.Format == FormatGGML {
		return nil, fmt.Errorf("weights: file is already in rwkv.cpp's format")
	}
	if f.Get("blocks.0.att.time_mix_x") != nil {
		return nil, fmt.Errorf("weights: web-rwkv .st files are not converted; convert the original .pth")
	}
	out := &File{Format: FormatGGML, Header: map[string]int{}}
	emb := f.Get("emb.weight")
	if emb == nil || len(emb.Shape) != 2 {
		return nil, fmt.Errorf("weights: missing or mis-shaped emb.weight")
	}
	C := emb.Shape[1]
	heads := 0
	switch ver {
	case V51, V52:
		heads = f.Get("blocks.0.att.time_decay").Shape[0]
	case V6:
		if t := f.Get("blocks.0.att.time_faaaa"); t != nil {
			heads = t.Shape[0]
		}
	}
	var pendingX []*Tensor // v7 x_r..x_g of the current block
	for _, t := range f.Tensors {
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("weights: %s: %w", t.Name, err)
		}
		name, shape := t.Name, append([]int(nil), t.Shape...)
		base := name[strings.LastIndex(name, ".")+1:]
		apply := func(fn func(float64) float64) {
			for i, x := range v {
				v[i] = float32(fn(float64(x)))
			}
		}
		switch {
		case ver == V4 && strings.HasSuffix(name, ".att.time_decay"):
			apply(func(x float64) float64 { return -math.Exp(x) })
			shape = []int{len(v)}
		case (ver == V51 || ver == V52) && strings.HasSuffix(name, ".att.time_decay"):
			apply(func(x float64) float64 { return math.Exp(-math.Exp(x)) })
			shape = []int{heads, len(v) / heads, 1}
		case ver == V51 && strings.HasSuffix(name, ".att.time_first"):
			apply(math.Exp)
			shape = []int{heads, 1, 1}
		case (ver == V52 || ver == V6) && strings.HasSuffix(name, ".att.time_faaaa"),
			ver == V6 && strings.HasSuffix(name, ".att.time_decay"):
			shape = []int{heads, len(v) / heads, 1}
		case ver == V6 && (base == "time_maa_w1" || base == "time_decay_w1" || base == "time_decay_w2"):
			v = transpose(v, shape[0], shape[1])
			shape = []int{shape[1], shape[0]}
		case ver == V6 && base == "time_maa_w2":
			d := shape[1]
			for j := 0; j < 5; j++ {
				copy(v[j*d*C:(j+1)*d*C], transpose(v[j*d*C:(j+1)*d*C], d, C))
			}
			shape = []int{5, C, d}
		case strings.Contains(name, ".time_"):
			shape = []int{len(v)}
		case ver == V7 && len(base) == 2 && base[1] >= '1' && base[1] <= '2' && strings.Contains("wavg", base[:1]):
			v = transpose(v, shape[0], shape[1])
			shape = []int{shape[1], shape[0]}
		case ver == V7 && strings.HasPrefix(base, "x_") && strings.Contains(name, ".att."):
			pendingX = append(pendingX, &Tensor{Name: name, Data: f32Bytes(v)})
			if len(pendingX) < 6 {
				continue
			}
			prefix := name[:strings.LastIndex(name, ".")]
			var all []float32
			for _, want := range []string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"} {
				found := false
				for _, p := range pendingX {
					if p.Name == prefix+"."+want {
						pv := make([]float32, C)
						_ = DecodeFloat32(pv, F32, p.Data)
						all = append(all, pv...)
						found = true
					}
				}
				if !found {
					return nil, fmt.Errorf("weights: %s.%s missing", prefix, want)
				}
			}
			pendingX = nil
			name, v, shape = prefix+".x_rwkvag", all, []int{6, 1, C}
		case ver == V7 && base == "r_k":
			shape = []int{shape[0], len(v) / shape[0]}
		}
		out.Tensors = append(out.Tensors, &Tensor{Name: name, DType: F32, Shape: shape, Data: f32Bytes(v)})
	}
	if len(pendingX) != 0 {
		return nil, fmt.Errorf("weights: incomplete v7 token-shift mixes (%d of 6)", len(pendingX))
	}
	layers := 0
	for _, t := range out.Tensors {
		if m := blockRe.FindStringSubmatch(t.Name); m != nil {
			var i int
			fmt.Sscan(m[1], &i)
			layers = max(layers, i+1)
		}
	}
	out.Header["n_vocab"], out.Header["n_embed"], out.Header["n_layer"] = emb.Shape[0], C, layers
	return out, nil
}

// RWKVCppDType returns the type rwkv.cpp stores a tensor in for a file whose
// main type is main: 1-D tensors and the small per-channel parameters stay F32;
// for quantized files emb, head, v7 LoRA matrices and r_k are F16 when the file
// is F16-based and F32 otherwise (rwkv.cpp quantizes from F32), everything else
// 2-D is quantized.
func RWKVCppDType(name string, shape []int, main DType) DType {
	if main == F32 || len(shape) < 2 {
		return F32
	}
	for _, s := range []string{".time_", ".k_k", ".k_a", ".r_k", ".x_rwkvag", ".x_k", ".w0", ".a0", ".v0"} {
		if strings.Contains(name, s) {
			return F32
		}
	}
	if main == F16 {
		return F16
	}
	base := name[strings.LastIndex(name, ".")+1:]
	if name == "emb.weight" || name == "head.weight" || len(shape) != 2 ||
		(len(base) == 2 && strings.Contains("wavg", base[:1]) && (base[1] == '1' || base[1] == '2')) {
		return F32
	}
	if shape[len(shape)-1]%32 != 0 {
		return F32
	}
	return main
}

func f32Bytes(v []float32) []byte { return f32Matrix("", v, 0, 0).Data }
