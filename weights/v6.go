package weights

// archV6 is RWKV-6: data-dependent token shift (a LoRA producing the five
// mixes w, k, v, r, g — that order is time_maa_w2's) and data-dependent decay.
var archV6 = Arch{
	Version: V6,
	Detect: func(has func(string) bool) bool {
		return has("blocks.0.att.time_maa_x") || has("blocks.0.att.time_mix_x")
	},
	Heads: []string{"blocks.0.att.time_faaaa", "blocks.0.att.time_first"},
	Ranks: []Rank{
		{Field: func(c *Config) *int { return &c.MixLoRA }, Tensor: "blocks.0.att.time_maa_w1", Div: 5},
		{Field: func(c *Config) *int { return &c.DecayLoRA }, Tensor: "blocks.0.att.time_decay_w1", Div: 1},
	},
	Block: append(commonNorms(),
		vec("att.time_maa_x", shapeMix, uniform(0, 1)),
		vec("att.time_maa_w", shapeMix, uniform(0, 1)),
		vec("att.time_maa_k", shapeMix, uniform(0, 1)),
		vec("att.time_maa_v", shapeMix, uniform(0, 1)),
		vec("att.time_maa_r", shapeMix, uniform(0, 1)),
		vec("att.time_maa_g", shapeMix, uniform(0, 1)),
		// Canonical time_maa_w1 is [5*MixLoRA, C].
		lora("att.time_maa_w1", func(d Dims) int { return 5 * d.MixLoRA }, dimC),
		// Split into time_maa_w2.0 .. .4, each [C, MixLoRA], order w k v r g.
		Param{Name: "att.time_maa_w2", Rule: MaaW2, Init: normal(0.1),
			Stored: func(d Dims) []int { return []int{5, d.MixLoRA, d.C} }},
		vec("att.time_decay", shapeMix, uniform(-4, 0)),
		lora("att.time_decay_w1", func(d Dims) int { return d.DecayLoRA }, dimC),
		lora("att.time_decay_w2", dimC, func(d Dims) int { return d.DecayLoRA }),
		Param{Name: "att.time_faaaa", Rule: Bonus, Stored: shapeHN, Init: uniform(-1, 1)},
		mat("att.receptance.weight", dimC, dimC),
		mat("att.key.weight", dimC, dimC),
		mat("att.value.weight", dimC, dimC),
		mat("att.output.weight", dimC, dimC),
		mat("att.gate.weight", dimC, dimC),
		vec("att.ln_x.weight", shapeC, around(1, 0.1)),
		vec("att.ln_x.bias", shapeC, around(0, 0.1)),
		vec("ffn.time_maa_k", shapeMix, uniform(0, 1)),
		vec("ffn.time_maa_r", shapeMix, uniform(0, 1)),
		mat("ffn.key.weight", dimF, dimC),
		mat("ffn.receptance.weight", dimC, dimC),
		mat("ffn.value.weight", dimC, dimF),
	),
}
