package weights

import "strings"

// archV7 is RWKV-7: the generalised delta rule with LoRA-computed decay (w),
// in-context learning rate (a), value residual (v, every block but the
// first) and gate (g); six token-shift mixes r w k v a g.
var archV7 = Arch{
	Version: V7,
	Detect: func(has func(string) bool) bool {
		return has("blocks.0.att.r_k") || has("blocks.0.att.x_rwkvag") || has("blocks.0.att.x_r")
	},
	Heads: []string{"blocks.0.att.r_k"},
	Ranks: []Rank{
		{Field: func(c *Config) *int { return &c.DecayLoRA }, Tensor: "blocks.0.att.w1", Div: 1},
		{Field: func(c *Config) *int { return &c.AaaLoRA }, Tensor: "blocks.0.att.a1", Div: 1},
		{Field: func(c *Config) *int { return &c.GateLoRA }, Tensor: "blocks.0.att.g1", Div: 1},
		{Field: func(c *Config) *int { return &c.ValueLoRA }, Tensor: "blocks.1.att.v1", Div: 1, MinLayers: 2},
	},
	Block: append(commonNorms(),
		// The six mixes may also come packed as att.x_rwkvag [6, C].
		Param{Name: "att.x_r", Rule: Packed, Packed: "att.x_rwkvag", Index: 0, Stored: shapeMix, Init: uniform(0, 1)},
		Param{Name: "att.x_w", Rule: Packed, Packed: "att.x_rwkvag", Index: 1, Stored: shapeMix, Init: uniform(0, 1)},
		Param{Name: "att.x_k", Rule: Packed, Packed: "att.x_rwkvag", Index: 2, Stored: shapeMix, Init: uniform(0, 1)},
		Param{Name: "att.x_v", Rule: Packed, Packed: "att.x_rwkvag", Index: 3, Stored: shapeMix, Init: uniform(0, 1)},
		Param{Name: "att.x_a", Rule: Packed, Packed: "att.x_rwkvag", Index: 4, Stored: shapeMix, Init: uniform(0, 1)},
		Param{Name: "att.x_g", Rule: Packed, Packed: "att.x_rwkvag", Index: 5, Stored: shapeMix, Init: uniform(0, 1)},
		vec("att.w0", shapeMix, uniform(-3, 0.5)),
		lora("att.w1", func(d Dims) int { return d.DecayLoRA }, dimC),
		lora("att.w2", dimC, func(d Dims) int { return d.DecayLoRA }),
		vec("att.a0", shapeMix, uniform(-1, 1)),
		lora("att.a1", func(d Dims) int { return d.AaaLoRA }, dimC),
		lora("att.a2", dimC, func(d Dims) int { return d.AaaLoRA }),
		Param{Name: "att.v0", Layers: LaterLayers, Rule: Vector, Stored: shapeMix, Init: uniform(-1, 1)},
		later(lora("att.v1", func(d Dims) int { return d.ValueLoRA }, dimC)),
		later(lora("att.v2", dimC, func(d Dims) int { return d.ValueLoRA })),
		lora("att.g1", func(d Dims) int { return d.GateLoRA }, dimC),
		lora("att.g2", dimC, func(d Dims) int { return d.GateLoRA }),
		vec("att.k_k", shapeMix, around(0.85, 0.1)),
		vec("att.k_a", shapeMix, around(1, 0.1)),
		vec("att.r_k", shapeHN, around(0, 0.3)),
		mat("att.receptance.weight", dimC, dimC),
		mat("att.key.weight", dimC, dimC),
		mat("att.value.weight", dimC, dimC),
		mat("att.output.weight", dimC, dimC),
		vec("att.ln_x.weight", shapeC, around(1, 0.1)),
		vec("att.ln_x.bias", shapeC, around(0, 0.1)),
		vec("ffn.x_k", shapeMix, uniform(0, 1)),
		mat("ffn.key.weight", dimF, dimC),
		mat("ffn.value.weight", dimC, dimF),
	),
	// Layer 0 has no value residual; some files carry its unused v0/v1/v2.
	Optional: func(name string) bool {
		return strings.HasPrefix(name, "blocks.0.att.v0") || strings.HasPrefix(name, "blocks.0.att.v1") ||
			strings.HasPrefix(name, "blocks.0.att.v2")
	},
}

// later restricts a parameter to every block but the first.
func later(p Param) Param {
	p.Layers = LaterLayers
	return p
}
