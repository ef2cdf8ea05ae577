package weights

import "math"

// archV51 is RWKV-5.1: multi-head matrix state with per-head scalar decay and
// bonus (broadcast to every channel of the head), GroupNorm of the heads.
var archV51 = Arch{
	Version:        V51,
	Detect:         func(has func(string) bool) bool { return has("blocks.0.att.ln_x.weight") },
	Heads:          []string{"blocks.0.att.time_decay"},
	PerHeadScalars: true,
	Block: append(commonNorms(),
		// Canonical: time_decay holds exp(-exp(w)), time_first exp(u).
		Param{Name: "att.time_decay", Rule: PerHead, Official: expNegExp, Stored: func(d Dims) []int { return []int{d.H} }, Init: uniform(-4, 0)},
		Param{Name: "att.time_first", Rule: PerHead, Official: math.Exp, Stored: func(d Dims) []int { return []int{d.H} }, Init: uniform(-1, 0.5)},
		vec("att.time_mix_k", shapeMix, uniform(0, 1)),
		vec("att.time_mix_v", shapeMix, uniform(0, 1)),
		vec("att.time_mix_r", shapeMix, uniform(0, 1)),
		vec("att.ln_x.weight", shapeC, around(1, 0.1)),
		vec("att.ln_x.bias", shapeC, around(0, 0.1)),
		mat("att.key.weight", dimC, dimC),
		mat("att.value.weight", dimC, dimC),
		mat("att.receptance.weight", dimC, dimC),
		mat("att.output.weight", dimC, dimC),
		vec("ffn.time_mix_k", shapeMix, uniform(0, 1)),
		vec("ffn.time_mix_r", shapeMix, uniform(0, 1)),
		mat("ffn.key.weight", dimF, dimC),
		mat("ffn.receptance.weight", dimC, dimC),
		mat("ffn.value.weight", dimC, dimF),
	),
}

// archV52 is RWKV-5.2: per-channel decay and bonus, a SiLU output gate.
var archV52 = Arch{
	Version: V52,
	Detect: func(has func(string) bool) bool {
		return has("blocks.0.att.ln_x.weight") && has("blocks.0.att.gate.weight")
	},
	Heads: []string{"blocks.0.att.time_decay"},
	Block: append(commonNorms(),
		// Canonical time_decay holds exp(-exp(w)).
		Param{Name: "att.time_decay", Rule: Vector, Official: expNegExp, Stored: shapeHN, Init: uniform(-4, 0)},
		Param{Name: "att.time_faaaa", Rule: Bonus, Stored: shapeHN, Init: uniform(-1, 1)},
		vec("att.time_mix_k", shapeMix, uniform(0, 1)),
		vec("att.time_mix_v", shapeMix, uniform(0, 1)),
		vec("att.time_mix_r", shapeMix, uniform(0, 1)),
		vec("att.time_mix_g", shapeMix, uniform(0, 1)),
		vec("att.ln_x.weight", shapeC, around(1, 0.1)),
		vec("att.ln_x.bias", shapeC, around(0, 0.1)),
		mat("att.key.weight", dimC, dimC),
		mat("att.value.weight", dimC, dimC),
		mat("att.receptance.weight", dimC, dimC),
		mat("att.output.weight", dimC, dimC),
		mat("att.gate.weight", dimC, dimC),
		vec("ffn.time_mix_k", shapeMix, uniform(0, 1)),
		vec("ffn.time_mix_r", shapeMix, uniform(0, 1)),
		mat("ffn.key.weight", dimF, dimC),
		mat("ffn.receptance.weight", dimC, dimC),
		mat("ffn.value.weight", dimC, dimF),
	),
}
