package weights

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SynthConfig describes a random-weight model to generate.
type SynthConfig struct {
	Version Version
	Layers  int
	Embd    int
	Vocab   int
	// HeadSize is the head width for v5 and later (default 64, or Embd if smaller).
	HeadSize int
	// FFN is the channel-mix width (default 4*Embd, v6: 3.5*Embd rounded to 32).
	FFN int
	// LoRA ranks (defaults scale with the width like the official models).
	MixLoRA, DecayLoRA, AaaLoRA, ValueLoRA, GateLoRA int
	Seed                                             uint64
}

// withDefaults fills unset fields.
func (s SynthConfig) withDefaults() (SynthConfig, error) {
	if s.Layers <= 0 || s.Embd <= 0 || s.Vocab <= 0 {
		return s, fmt.Errorf("weights: synthetic model needs positive layers, width and vocab (got %d, %d, %d)", s.Layers, s.Embd, s.Vocab)
	}
	switch s.Version {
	case V4, V51, V52, V6, V7:
	default:
		return s, fmt.Errorf("weights: unknown version %v", s.Version)
	}
	if s.Version != V4 {
		if s.HeadSize <= 0 {
			s.HeadSize = min(64, s.Embd)
		}
		if s.Embd%s.HeadSize != 0 {
			return s, fmt.Errorf("weights: head size %d does not divide width %d", s.HeadSize, s.Embd)
		}
	}
	if s.FFN <= 0 {
		s.FFN = 4 * s.Embd
		if s.Version == V6 {
			s.FFN = (s.Embd*7/2 + 31) / 32 * 32
		}
	}
	r := func(v *int, def int) {
		if *v <= 0 {
			*v = max(def, 1)
		}
	}
	// The official RWKV-7 trainer's choices: round(k * C^p / 32) * 32, at least 32.
	lora := func(k, p float64) int {
		return max(32, int(math.Round(k*math.Pow(float64(s.Embd), p)/32))*32)
	}
	r(&s.MixLoRA, 32)
	if s.Version == V6 {
		r(&s.DecayLoRA, 64)
	}
	r(&s.DecayLoRA, lora(1.8, 0.5))
	r(&s.AaaLoRA, lora(1.8, 0.5))
	r(&s.ValueLoRA, lora(1.3, 0.5))
	r(&s.GateLoRA, lora(0.6, 0.8))
	return s, nil
}

// Synthesize generates a random-weight model in the official checkpoint layout
// (the key names, shapes and value conventions of BlinkDL's .pth files), F32.
// Values are drawn so that the network is numerically well behaved (weights
// scaled by 1/sqrt(fan-in), decays and mixes in their trained ranges), which
// makes the result useful for tests and benchmarks at real sizes.
func Synthesize(sc SynthConfig) (*File, error) {
	sc, err := sc.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &synth{rng: rand.New(rand.NewPCG(sc.Seed, 0x5eed)), f: &File{Format: FormatPTH}}
	C, V, F := sc.Embd, sc.Vocab, sc.FFN
	H := 0
	if sc.Version != V4 {
		H = C / sc.HeadSize
	}
	g.normal("emb.weight", 1, V, C)
	for i := 0; i < sc.Layers; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		g.around(p+"ln1.weight", 1, 0.1, C)
		g.around(p+"ln1.bias", 0, 0.1, C)
		g.around(p+"ln2.weight", 1, 0.1, C)
		g.around(p+"ln2.bias", 0, 0.1, C)
		if i == 0 {
			g.around(p+"ln0.weight", 1, 0.1, C)
			g.around(p+"ln0.bias", 0, 0.1, C)
		}
		switch sc.Version {
		case V4, V51, V52:
			switch sc.Version {
			case V4:
				g.uniform(p+"att.time_decay", -4, 1, C)
				g.uniform(p+"att.time_first", -1, 1, C)
			case V51:
				g.uniform(p+"att.time_decay", -4, 0, H)
				g.uniform(p+"att.time_first", -1, 0.5, H)
			case V52:
				g.uniform(p+"att.time_decay", -4, 0, H, sc.HeadSize)
				g.uniform(p+"att.time_faaaa", -1, 1, H, sc.HeadSize)
			}
			for _, n := range []string{"k", "v", "r"} {
				g.uniform(p+"att.time_mix_"+n, 0, 1, 1, 1, C)
			}
			if sc.Version == V52 {
				g.uniform(p+"att.time_mix_g", 0, 1, 1, 1, C)
			}
			if sc.Version != V4 {
				g.around(p+"att.ln_x.weight", 1, 0.1, C)
				g.around(p+"att.ln_x.bias", 0, 0.1, C)
			}
			for _, n := range []string{"key", "value", "receptance", "output"} {
				g.normal(p+"att."+n+".weight", 1, C, C)
			}
			if sc.Version == V52 {
				g.normal(p+"att.gate.weight", 1, C, C)
			}
			g.uniform(p+"ffn.time_mix_k", 0, 1, 1, 1, C)
			g.uniform(p+"ffn.time_mix_r", 0, 1, 1, 1, C)
			g.normal(p+"ffn.key.weight", 1, F, C)
			g.normal(p+"ffn.receptance.weight", 1, C, C)
			g.normal(p+"ffn.value.weight", 1, C, F)
		case V6:
			for _, n := range []string{"x", "w", "k", "v", "r", "g"} {
				g.uniform(p+"att.time_maa_"+n, 0, 1, 1, 1, C)
			}
			g.normal(p+"att.time_maa_w1", 0.1, C, 5*sc.MixLoRA)
			g.normal(p+"att.time_maa_w2", 0.1, 5, sc.MixLoRA, C)
			g.uniform(p+"att.time_decay", -4, 0, 1, 1, C)
			g.normal(p+"att.time_decay_w1", 0.1, C, sc.DecayLoRA)
			g.normal(p+"att.time_decay_w2", 0.1, sc.DecayLoRA, C)
			g.uniform(p+"att.time_faaaa", -1, 1, H, sc.HeadSize)
			for _, n := range []string{"receptance", "key", "value", "output", "gate"} {
				g.normal(p+"att."+n+".weight", 1, C, C)
			}
			g.around(p+"att.ln_x.weight", 1, 0.1, C)
			g.around(p+"att.ln_x.bias", 0, 0.1, C)
			g.uniform(p+"ffn.time_maa_k", 0, 1, 1, 1, C)
			g.uniform(p+"ffn.time_maa_r", 0, 1, 1, 1, C)
			g.normal(p+"ffn.key.weight", 1, F, C)
			g.normal(p+"ffn.receptance.weight", 1, C, C)
			g.normal(p+"ffn.value.weight", 1, C, F)
		case V7:
			for _, n := range []string{"r", "w", "k", "v", "a", "g"} {
				g.uniform(p+"att.x_"+n, 0, 1, 1, 1, C)
			}
			g.uniform(p+"att.w0", -3, 0.5, 1, 1, C)
			g.normal(p+"att.w1", 0.1, C, sc.DecayLoRA)
			g.normal(p+"att.w2", 0.1, sc.DecayLoRA, C)
			g.uniform(p+"att.a0", -1, 1, 1, 1, C)
			g.normal(p+"att.a1", 0.1, C, sc.AaaLoRA)
			g.normal(p+"att.a2", 0.1, sc.AaaLoRA, C)
			if i > 0 {
				g.uniform(p+"att.v0", -1, 1, 1, 1, C)
				g.normal(p+"att.v1", 0.1, C, sc.ValueLoRA)
				g.normal(p+"att.v2", 0.1, sc.ValueLoRA, C)
			}
			g.normal(p+"att.g1", 0.1, C, sc.GateLoRA)
			g.normal(p+"att.g2", 0.1, sc.GateLoRA, C)
			g.around(p+"att.k_k", 0.85, 0.1, 1, 1, C)
			g.around(p+"att.k_a", 1, 0.1, 1, 1, C)
			g.around(p+"att.r_k", 0, 0.3, H, sc.HeadSize)
			for _, n := range []string{"receptance", "key", "value", "output"} {
				g.normal(p+"att."+n+".weight", 1, C, C)
			}
			g.around(p+"att.ln_x.weight", 1, 0.1, C)
			g.around(p+"att.ln_x.bias", 0, 0.1, C)
			g.uniform(p+"ffn.x_k", 0, 1, 1, 1, C)
			g.normal(p+"ffn.key.weight", 1, F, C)
			g.normal(p+"ffn.value.weight", 1, C, F)
		}
	}
	g.around("ln_out.weight", 1, 0.1, C)
	g.around("ln_out.bias", 0, 0.1, C)
	g.normal("head.weight", 1, V, C)
	return g.f, nil
}

type synth struct {
	rng *rand.Rand
	f   *File
}

func (g *synth) add(name string, vals []float32, shape []int) {
	t := f32Matrix(name, vals, 0, 0)
	t.Shape = append([]int(nil), shape...)
	g.f.Tensors = append(g.f.Tensors, t)
}

// normal adds a tensor of N(0, gain/sqrt(fan-in)) values; fan-in is the last dimension.
func (g *synth) normal(name string, gain float64, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	sd := gain / math.Sqrt(float64(shape[len(shape)-1]))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(g.rng.NormFloat64() * sd)
	}
	g.add(name, v, shape)
}

func (g *synth) uniform(name string, lo, hi float64, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*g.rng.Float64())
	}
	g.add(name, v, shape)
}

func (g *synth) around(name string, mean, spread float64, shape ...int) {
	g.uniform(name, mean-spread, mean+spread, shape...)
}
