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
	arch, err := ArchOf(sc.Version)
	if err != nil {
		return nil, err
	}
	g := &synth{rng: rand.New(rand.NewPCG(sc.Seed, 0x5eed)), f: &File{Format: FormatPTH}}
	d := Dims{C: sc.Embd, F: sc.FFN, MixLoRA: sc.MixLoRA, DecayLoRA: sc.DecayLoRA, AaaLoRA: sc.AaaLoRA,
		ValueLoRA: sc.ValueLoRA, GateLoRA: sc.GateLoRA}
	if sc.Version != V4 {
		d.N = sc.HeadSize
		d.H = sc.Embd / sc.HeadSize
	}
	g.normal("emb.weight", 1, sc.Vocab, d.C)
	for i := 0; i < sc.Layers; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		for _, prm := range arch.Block {
			if !prm.Layers.has(i) {
				continue
			}
			if prm.Init.Normal {
				g.normal(p+prm.Name, prm.Init.Gain, prm.Stored(d)...)
			} else {
				g.uniform(p+prm.Name, prm.Init.Lo, prm.Init.Hi, prm.Stored(d)...)
			}
		}
	}
	g.around("ln_out.weight", 1, 0.1, d.C)
	g.around("ln_out.bias", 0, 0.1, d.C)
	g.normal("head.weight", 1, sc.Vocab, d.C)
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
