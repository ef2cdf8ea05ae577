package weights

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Hugging Face RWKV-7 checkpoints (the layout of flash-linear-attention's
// RWKV7ForCausalLM, as published for the RWKV-7 World models and read by
// llama.cpp's convert_hf_to_gguf.py) are a directory holding config.json and
// model.safetensors. Against the official layout the tensors are renamed,
// the LoRA pairs become two linear layers ([out, in], the second one's bias
// holding w0, a0 or v0), the per-channel vectors k_k, k_a and ffn.x_k lose
// their leading [1, 1] and layer 0 carries no value-residual LoRA.

// HFConfigName and HFWeightsName are the file names of an HF checkpoint
// directory; HFWorldVocabName is the World vocabulary file llama.cpp's
// converter reads next to them.
const (
	HFConfigName     = "config.json"
	HFWeightsName    = "model.safetensors"
	HFWorldVocabName = "rwkv_vocab_v20230424.txt"
)

// HFConfig is the config.json of an HF RWKV-7 checkpoint (the fields
// flash-linear-attention's RWKV7Config and llama.cpp's converter read).
type HFConfig struct {
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
	AttnMode              string   `json:"attn_mode"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	HeadDim               int      `json:"head_dim"`
	NumHeads              int      `json:"num_heads"`
	DecayLowRankDim       int      `json:"decay_low_rank_dim"`
	GateLowRankDim        int      `json:"gate_low_rank_dim"`
	ALowRankDim           int      `json:"a_low_rank_dim"`
	VLowRankDim           int      `json:"v_low_rank_dim"`
	HiddenAct             string   `json:"hidden_act"`
	IntermediateSize      int      `json:"intermediate_size"`
	NormFirst             bool     `json:"norm_first"`
	NormBias              bool     `json:"norm_bias"`
	NormEps               float64  `json:"norm_eps"`
	VocabSize             int      `json:"vocab_size"`
	TieWordEmbeddings     bool     `json:"tie_word_embeddings"`
	BOSTokenID            int      `json:"bos_token_id"`
	EOSTokenID            int      `json:"eos_token_id"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TorchDType            string   `json:"torch_dtype"`
}

// hfRenames maps official block keys (after "blocks.N.") to HF keys (after
// "model.layers.N."); the LoRA pairs and the mixes are handled apart.
var hfRenames = map[string]string{
	"ln0.weight": "pre_norm.weight", "ln0.bias": "pre_norm.bias",
	"ln1.weight": "attn_norm.weight", "ln1.bias": "attn_norm.bias",
	"ln2.weight": "ffn_norm.weight", "ln2.bias": "ffn_norm.bias",
	"att.receptance.weight": "attn.r_proj.weight",
	"att.key.weight":        "attn.k_proj.weight",
	"att.value.weight":      "attn.v_proj.weight",
	"att.output.weight":     "attn.o_proj.weight",
	"att.ln_x.weight":       "attn.g_norm.weight",
	"att.ln_x.bias":         "attn.g_norm.bias",
	"att.r_k":               "attn.r_k",
	"att.k_k":               "attn.k_k",
	"att.k_a":               "attn.k_a",
	"ffn.x_k":               "ffn.x_k",
	"ffn.key.weight":        "ffn.key.weight",
	"ffn.value.weight":      "ffn.value.weight",
}

// hfTopRenames maps the keys outside the blocks.
var hfTopRenames = map[string]string{
	"emb.weight":    "model.embeddings.weight",
	"ln_out.weight": "model.norm.weight",
	"ln_out.bias":   "model.norm.bias",
	"head.weight":   "lm_head.weight",
}

var hfMixes = []string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}

// hfVectors are the block keys stored [1, 1, C] officially and [C] in HF
// files (the LoRA biases w0, a0 and v0 are handled with their LoRA).
var hfVectors = map[string]bool{"att.k_k": true, "att.k_a": true, "ffn.x_k": true}

var hfBlockRe = regexp.MustCompile(`^blocks\.(\d+)\.(.+)$`)

// ToHF converts an RWKV-7 model in the official checkpoint layout (a .pth or
// safetensors file, or Synthesize's output) or in rwkv.cpp's layout into the
// HF layout, with its config. Values are kept exactly (renames, transposes
// and reshapes only); tensors come back as F32, in a deterministic order.
// Layer 0's unused v0/v1/v2, which some files carry, are dropped.
func ToHF(f *File) (*File, *HFConfig, error) {
	ver, err := DetectVersion(func(n string) bool { return f.Get(n) != nil })
	if err != nil {
		return nil, nil, err
	}
	if ver != V7 {
		return nil, nil, fmt.Errorf("weights: the Hugging Face layout is written for RWKV-7 only, not %v", ver)
	}
	cpp := f.Format == FormatGGML
	get := func(name string) ([]float32, *Tensor, error) {
		t := f.Get(name)
		if t == nil {
			return nil, nil, fmt.Errorf("weights: %s missing", name)
		}
		v, err := t.Float32()
		if err != nil {
			return nil, nil, fmt.Errorf("weights: %s: %w", name, err)
		}
		return v, t, nil
	}
	emb := f.Get("emb.weight")
	if emb == nil || len(emb.Shape) != 2 {
		return nil, nil, fmt.Errorf("weights: missing or mis-shaped emb.weight")
	}
	V, C := emb.Shape[0], emb.Shape[1]
	rk := f.Get("blocks.0.att.r_k")
	if rk == nil || len(rk.Shape) != 2 || rk.Shape[0] <= 0 || rk.Len() != C {
		return nil, nil, fmt.Errorf("weights: missing or mis-shaped blocks.0.att.r_k (want [heads, head size] of %d)", C)
	}
	layers := 0
	for _, t := range f.Tensors {
		if m := hfBlockRe.FindStringSubmatch(t.Name); m != nil {
			i, _ := strconv.Atoi(m[1])
			layers = max(layers, i+1)
		}
	}
	out := &File{Format: FormatSafetensors, Meta: map[string]string{"format": "pt"}}
	var shapeErr error
	add := func(name string, v []float32, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		if n != len(v) && shapeErr == nil {
			shapeErr = fmt.Errorf("weights: %s: %d values for shape %v", name, len(v), shape)
		}
		t := f32Matrix(name, v, 0, 0)
		t.Shape = shape
		out.Tensors = append(out.Tensors, t)
	}
	cfg := &HFConfig{Architectures: []string{"RWKV7ForCausalLM"}, ModelType: "rwkv7", AttnMode: "chunk",
		HiddenSize: C, NumHiddenLayers: layers, HeadDim: rk.Shape[1], NumHeads: rk.Shape[0],
		HiddenAct: "sqrelu", NormFirst: true, NormBias: true, NormEps: 1e-5, VocabSize: V,
		MaxPositionEmbeddings: 2048, TorchDType: "float32"}
	top := func(src string) error {
		v, t, err := get(src)
		if err != nil {
			return err
		}
		add(hfTopRenames[src], v, t.Shape...)
		return nil
	}
	if err := top("emb.weight"); err != nil {
		return nil, nil, err
	}
	for i := 0; i < layers; i++ {
		src := fmt.Sprintf("blocks.%d.", i)
		dst := fmt.Sprintf("model.layers.%d.", i)
		norms := []string{"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"}
		if i == 0 {
			norms = append([]string{"ln0.weight", "ln0.bias"}, norms...)
		}
		for _, k := range norms {
			v, t, err := get(src + k)
			if err != nil {
				return nil, nil, err
			}
			add(dst+hfRenames[k], v, t.Shape...)
		}
		// The six token-shift mixes, separate or packed (x_rwkvag: [6, C]
		// officially, [6, 1, C] in rwkv.cpp files).
		if packed := f.Get(src + "att.x_rwkvag"); packed != nil {
			v, _, err := get(src + "att.x_rwkvag")
			if err != nil {
				return nil, nil, err
			}
			if len(v) != 6*C {
				return nil, nil, fmt.Errorf("weights: %satt.x_rwkvag has %d values, want 6x%d", src, len(v), C)
			}
			for j, m := range hfMixes {
				add(dst+"attn."+m, v[j*C:(j+1)*C], 1, 1, C)
			}
		} else {
			for _, m := range hfMixes {
				v, _, err := get(src + "att." + m)
				if err != nil {
					return nil, nil, err
				}
				add(dst+"attn."+m, v, 1, 1, C)
			}
		}
		// LoRA pairs: officially x @ w1 [C, D] then @ w2 [D, C] (rwkv.cpp
		// stores both transposed); HF holds two linear layers, lora.0 [D, C]
		// and lora.2 [C, D], with w0/a0/v0 as lora.2's bias.
		for _, l := range []struct {
			key  string
			bias bool
			rank *int
		}{{"w", true, &cfg.DecayLowRankDim}, {"a", true, &cfg.ALowRankDim}, {"v", true, &cfg.VLowRankDim}, {"g", false, &cfg.GateLowRankDim}} {
			if l.key == "v" && i == 0 {
				continue
			}
			v1, t1, err := get(src + "att." + l.key + "1")
			if err != nil {
				return nil, nil, err
			}
			v2, t2, err := get(src + "att." + l.key + "2")
			if err != nil {
				return nil, nil, err
			}
			if len(t1.Shape) != 2 || len(t2.Shape) != 2 {
				return nil, nil, fmt.Errorf("weights: %satt.%s1/%s2 are not matrices", src, l.key, l.key)
			}
			var D int
			if cpp { // [D, C] and [C, D] already
				D = t1.Shape[0]
			} else {
				D = t1.Shape[1]
				v1 = transpose(v1, t1.Shape[0], t1.Shape[1])
				v2 = transpose(v2, t2.Shape[0], t2.Shape[1])
			}
			if len(v1) != D*C || len(v2) != D*C {
				return nil, nil, fmt.Errorf("weights: %satt.%s1/%s2: shapes %v and %v do not pair with width %d", src, l.key, l.key, t1.Shape, t2.Shape, C)
			}
			if *l.rank == 0 {
				*l.rank = D
			}
			lp := dst + "attn." + l.key + "_lora.lora."
			add(lp+"0.weight", v1, D, C)
			add(lp+"2.weight", v2, C, D)
			if l.bias {
				v0, _, err := get(src + "att." + l.key + "0")
				if err != nil {
					return nil, nil, err
				}
				add(lp+"2.bias", v0, C)
			}
		}
		for _, k := range []string{"att.k_k", "att.k_a", "att.r_k", "att.receptance.weight", "att.key.weight",
			"att.value.weight", "att.output.weight", "att.ln_x.weight", "att.ln_x.bias",
			"ffn.x_k", "ffn.key.weight", "ffn.value.weight"} {
			v, t, err := get(src + k)
			if err != nil {
				return nil, nil, err
			}
			shape := t.Shape
			switch {
			case hfVectors[k]:
				shape = []int{len(v)}
			case k == "att.r_k":
				shape = []int{cfg.NumHeads, cfg.HeadDim}
			case k == "ffn.key.weight":
				cfg.IntermediateSize = t.Shape[0]
			}
			add(dst+hfRenames[k], v, shape...)
		}
	}
	for _, k := range []string{"ln_out.weight", "ln_out.bias", "head.weight"} {
		if err := top(k); err != nil {
			return nil, nil, err
		}
	}
	if shapeErr != nil {
		return nil, nil, shapeErr
	}
	return out, cfg, nil
}

// FromHF converts an HF RWKV-7 checkpoint's tensors (as read from its
// model.safetensors) back into the official layout: the inverse of ToHF,
// exact. The result has the official keys and shapes ([1, 1, C] mixes and
// vectors, LoRA w1 [C, D] and w2 [D, C]) and the tensors' own types.
func FromHF(f *File) (*File, error) {
	out := &File{Format: FormatSafetensors, Meta: map[string]string{"format": "pt"}}
	inv := map[string]string{}
	for k, v := range hfRenames {
		inv[v] = k
	}
	topInv := map[string]string{}
	for k, v := range hfTopRenames {
		topInv[v] = k
	}
	layerRe := regexp.MustCompile(`^model\.layers\.(\d+)\.(.+)$`)
	loraRe := regexp.MustCompile(`^attn\.([wavg])_lora\.lora\.(0\.weight|2\.weight|2\.bias)$`)
	for _, t := range f.Tensors {
		if name, ok := topInv[t.Name]; ok {
			out.Tensors = append(out.Tensors, &Tensor{Name: name, DType: t.DType, Shape: t.Shape, Data: t.Data})
			continue
		}
		m := layerRe.FindStringSubmatch(t.Name)
		if m == nil {
			return nil, fmt.Errorf("weights: %s is not an HF RWKV-7 tensor", t.Name)
		}
		p, key := "blocks."+m[1]+".", m[2]
		if strings.HasPrefix(key, "attn.x_") {
			out.Tensors = append(out.Tensors, &Tensor{Name: p + "att." + strings.TrimPrefix(key, "attn."), DType: t.DType, Shape: []int{1, 1, t.Len()}, Data: t.Data})
			continue
		}
		if lm := loraRe.FindStringSubmatch(key); lm != nil {
			switch lm[2] {
			case "2.bias":
				out.Tensors = append(out.Tensors, &Tensor{Name: p + "att." + lm[1] + "0", DType: t.DType, Shape: []int{1, 1, t.Len()}, Data: t.Data})
			default:
				if len(t.Shape) != 2 {
					return nil, fmt.Errorf("weights: %s is not a matrix", t.Name)
				}
				size := 0
				if t.DType.BlockSize() == 1 {
					size = t.DType.BlockBytes()
				}
				if size == 0 || len(t.Data) != t.Len()*size {
					return nil, fmt.Errorf("weights: %s: a %s LoRA matrix is not transposed", t.Name, t.DType)
				}
				suffix := "1"
				if lm[2] == "2.weight" {
					suffix = "2"
				}
				out.Tensors = append(out.Tensors, &Tensor{Name: p + "att." + lm[1] + suffix, DType: t.DType,
					Shape: []int{t.Shape[1], t.Shape[0]}, Data: transposeElems(t.Data, t.Shape[0], t.Shape[1], size)})
			}
			continue
		}
		name, ok := inv[key]
		if !ok {
			return nil, fmt.Errorf("weights: %s is not an HF RWKV-7 tensor", t.Name)
		}
		shape := t.Shape
		if hfVectors[name] {
			shape = []int{1, 1, t.Len()}
		}
		out.Tensors = append(out.Tensors, &Tensor{Name: p + name, DType: t.DType, Shape: shape, Data: t.Data})
	}
	return out, nil
}

// hfTorchDType names a safetensors element type as config.json's torch_dtype.
func hfTorchDType(dt DType) (string, error) {
	switch dt {
	case F32:
		return "float32", nil
	case F16:
		return "float16", nil
	case BF16:
		return "bfloat16", nil
	}
	return "", fmt.Errorf("weights: the Hugging Face layout holds F32, F16 or BF16 tensors, not %s", dt)
}

// WriteHF writes an RWKV-7 model (see ToHF for the layouts it reads) as an
// HF checkpoint directory: config.json and model.safetensors with every
// tensor in dt (F32, F16 or BF16). The directory is created if needed; files
// of the same names in it are replaced.
func WriteHF(dir string, f *File, dt DType) error {
	td, err := hfTorchDType(dt)
	if err != nil {
		return err
	}
	h, cfg, err := ToHF(f)
	if err != nil {
		return err
	}
	cfg.TorchDType = td
	for _, t := range h.Tensors {
		if dt == F32 {
			continue
		}
		v, err := t.Float32()
		if err != nil {
			return err
		}
		if t.Data, err = Encode(dt, v); err != nil {
			return fmt.Errorf("weights: %s: %w", t.Name, err)
		}
		t.DType = dt
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, HFConfigName), append(js, '\n'), 0o644); err != nil {
		return err
	}
	path := filepath.Join(dir, HFWeightsName)
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	err = WriteSafetensors(w, h.Tensors, h.Meta)
	if err == nil {
		err = w.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// ReadHF reads an HF RWKV-7 checkpoint directory written by WriteHF (or
// flash-linear-attention with a single model.safetensors): its config and
// its tensors in the official layout (see FromHF). Close the File when done.
func ReadHF(dir string) (*File, *HFConfig, error) {
	js, err := os.ReadFile(filepath.Join(dir, HFConfigName))
	if err != nil {
		return nil, nil, err
	}
	var cfg HFConfig
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, nil, fmt.Errorf("weights: %s: %w", filepath.Join(dir, HFConfigName), err)
	}
	raw, err := Open(filepath.Join(dir, HFWeightsName))
	if err != nil {
		return nil, nil, err
	}
	f, err := FromHF(raw)
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	f.close = raw.Close
	return f, &cfg, nil
}
