package weights

// archV4 is RWKV-4: the WKV recurrence with a per-channel decay and bonus;
// token-shift lerp mixes; a channel mix with a receptance gate.
var archV4 = Arch{
	Version: V4,
	Detect: func(has func(string) bool) bool {
		return has("blocks.0.att.time_decay") && has("blocks.0.att.key.weight")
	},
	Block: append(commonNorms(),
		// Canonical time_decay holds -exp(time_decay), which rwkv.cpp files store.
		Param{Name: "att.time_decay", Rule: Vector, Official: negExp, Stored: shapeC, Init: uniform(-4, 1)},
		vec("att.time_first", shapeC, uniform(-1, 1)),
		vec("att.time_mix_k", shapeMix, uniform(0, 1)),
		vec("att.time_mix_v", shapeMix, uniform(0, 1)),
		vec("att.time_mix_r", shapeMix, uniform(0, 1)),
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
