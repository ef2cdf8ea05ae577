package weights

import (
	"fmt"
	"math"
)

// An Arch is one RWKV version's tensor table: every parameter of a block, in
// the official checkpoint layout, with what Canonicalize does to it and how
// Synthesize draws it. Each version has one file holding its Arch (v4.go,
// v5.go, v6.go, v7.go); the engine binds the canonical tensors it lists.
type Arch struct {
	Version Version
	// Detect reports whether a file's tensor names are this version's
	// (the archs are tried newest first).
	Detect func(has func(string) bool) bool
	// Heads names the tensors (first present wins) whose outermost
	// dimension is the head count (none for v4).
	Heads []string
	// PerHeadScalars: the Heads tensor holds one value per head (v5.1)
	// instead of one per channel.
	PerHeadScalars bool
	// Ranks are the LoRA ranks read from tensor shapes.
	Ranks []Rank
	// Block lists every parameter of a block, in the order Synthesize
	// draws them (which fixes synthetic models' values).
	Block []Param
	// Optional reports parameters a file may carry although the model does
	// not use them (Canonicalize ignores them instead of refusing the file).
	Optional func(name string) bool
}

// Rank is a LoRA rank of a Config, read from a tensor's shape.
type Rank struct {
	Field  func(*Config) *int
	Tensor string // full name, e.g. "blocks.0.att.w1"
	// Div divides the LoRA dimension (v6 time_maa_w1 packs 5 LoRAs).
	Div int
	// MinLayers: read only when the model has at least this many layers
	// (v7's value LoRA is absent from layer 0).
	MinLayers int
}

// Layers selects the blocks a parameter belongs to.
type Layers uint8

// Which blocks carry a parameter.
const (
	AllLayers   Layers = iota
	FirstLayer         // only block 0 (ln0)
	LaterLayers        // every block but 0 (v7's value residual)
)

// has reports whether block i carries a parameter of this kind.
func (l Layers) has(i int) bool {
	switch l {
	case FirstLayer:
		return i == 0
	case LaterLayers:
		return i > 0
	}
	return true
}

// Dims are the sizes a parameter's shapes are written in.
type Dims struct {
	C, F, H, N                                       int // width, FFN width, heads, head size
	MixLoRA, DecayLoRA, AaaLoRA, ValueLoRA, GateLoRA int
}

// Rule is how Canonicalize turns a stored parameter into canonical tensors.
type Rule uint8

// Canonicalization rules.
const (
	// Vector: C values (any leading 1s), optionally transformed (Param.Official).
	Vector Rule = iota
	// PerHead: one value per head, broadcast to C values (v5.1).
	PerHead
	// Bonus: the raw per-channel bonus, stored as time_faaaa (or, in
	// rwkv.cpp and web-rwkv files, time_first), canonical name att.time_first.
	Bonus
	// Packed: one of several vectors that may also come packed into one
	// tensor (Param.Packed, at index Param.Index).
	Packed
	// Matrix: a weight matrix, stored as its canonical [rows, cols].
	Matrix
	// LoRA: a LoRA matrix, canonical [rows, cols], transposed when stored
	// the other way round (see canon.lora).
	LoRA
	// MaaW2: v6's time_maa_w2, split into five [C, MixLoRA] matrices.
	MaaW2
)

// Init is how Synthesize draws a parameter's values.
type Init struct {
	// Normal: N(0, Gain/sqrt(fan-in)), fan-in = the last stored dimension.
	Normal bool
	Gain   float64
	// Otherwise uniform in [Lo, Hi].
	Lo, Hi float64
}

// normal draws N(0, gain/sqrt(fan-in)).
func normal(gain float64) Init { return Init{Normal: true, Gain: gain} }

// uniform draws from [lo, hi].
func uniform(lo, hi float64) Init { return Init{Lo: lo, Hi: hi} }

// around draws from [mean-spread, mean+spread].
func around(mean, spread float64) Init { return Init{Lo: mean - spread, Hi: mean + spread} }

// Param is one parameter of a block.
type Param struct {
	// Name relative to "blocks.N." (e.g. "att.key.weight").
	Name   string
	Layers Layers
	Rule   Rule
	// Official transforms each value of an official (.pth, safetensors)
	// file, whose converters to other formats bake the transform in.
	Official func(float64) float64
	// Rows and Cols give a matrix's canonical shape (Matrix, LoRA).
	Rows, Cols func(Dims) int
	// Packed and Index locate a Packed vector in its packed form.
	Packed string
	Index  int
	// Stored is the shape in official checkpoints (what Synthesize writes).
	Stored func(Dims) []int
	Init   Init
}

// Dimension helpers for the tables.
func dimC(d Dims) int     { return d.C }
func dimF(d Dims) int     { return d.F }
func shapeC(d Dims) []int { return []int{d.C} }

// shapeMix is a token-shift mix's official [1, 1, C].
func shapeMix(d Dims) []int { return []int{1, 1, d.C} }

// shapeHN is a per-head parameter's official [H, N].
func shapeHN(d Dims) []int { return []int{d.H, d.N} }

// mat is a plain weight matrix of canonical (and official) shape [rows, cols].
func mat(name string, rows, cols func(Dims) int) Param {
	return Param{Name: name, Rule: Matrix, Rows: rows, Cols: cols, Init: normal(1),
		Stored: func(d Dims) []int { return []int{rows(d), cols(d)} }}
}

// vec is a C-value vector stored as shape.
func vec(name string, shape func(Dims) []int, init Init) Param {
	return Param{Name: name, Rule: Vector, Stored: shape, Init: init}
}

// lora is a LoRA matrix of canonical shape [rows, cols], stored officially
// as the transpose.
func lora(name string, rows, cols func(Dims) int) Param {
	return Param{Name: name, Rule: LoRA, Rows: rows, Cols: cols, Init: normal(0.1),
		Stored: func(d Dims) []int { return []int{cols(d), rows(d)} }}
}

// commonNorms are the block norms of every version (ln0 only in block 0), in
// the order Synthesize draws them.
func commonNorms() []Param {
	return []Param{
		vec("ln1.weight", shapeC, around(1, 0.1)),
		vec("ln1.bias", shapeC, around(0, 0.1)),
		vec("ln2.weight", shapeC, around(1, 0.1)),
		vec("ln2.bias", shapeC, around(0, 0.1)),
		{Name: "ln0.weight", Layers: FirstLayer, Rule: Vector, Stored: shapeC, Init: around(1, 0.1)},
		{Name: "ln0.bias", Layers: FirstLayer, Rule: Vector, Stored: shapeC, Init: around(0, 0.1)},
	}
}

// Value transforms of official files.
func negExp(x float64) float64    { return -math.Exp(x) }
func expNegExp(x float64) float64 { return math.Exp(-math.Exp(x)) }

// archs lists every supported version, newest first (the detection order).
var archs = []*Arch{&archV7, &archV6, &archV52, &archV51, &archV4}

// ArchOf returns the tensor table of version v.
func ArchOf(v Version) (*Arch, error) {
	for _, a := range archs {
		if a.Version == v {
			return a, nil
		}
	}
	return nil, fmt.Errorf("weights: unknown RWKV version %v", v)
}

// Dims returns the sizes of cfg that parameter shapes are written in.
func (c Config) Dims() Dims {
	return Dims{C: c.Embd, F: c.FFN, H: c.Heads, N: c.HeadSize, MixLoRA: c.MixLoRA, DecayLoRA: c.DecayLoRA,
		AaaLoRA: c.AaaLoRA, ValueLoRA: c.ValueLoRA, GateLoRA: c.GateLoRA}
}

// BlockParams returns the canonical names (relative to "blocks.N.") of the
// tensors block i of a model of version v has after Canonicalize, with
// whether each is a vector (else a matrix). v6's time_maa_w2 appears as its
// five canonical parts time_maa_w2.0 .. .4.
func BlockParams(v Version, i int) (vectors, matrices []string, err error) {
	a, err := ArchOf(v)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range a.Block {
		if !p.Layers.has(i) || p.Name == "ln0.weight" || p.Name == "ln0.bias" {
			continue
		}
		switch p.Rule {
		case Matrix, LoRA:
			matrices = append(matrices, p.Name)
		case MaaW2:
			for j := 0; j < 5; j++ {
				matrices = append(matrices, fmt.Sprintf("%s.%d", p.Name, j))
			}
		case Bonus:
			vectors = append(vectors, "att.time_first")
		default:
			vectors = append(vectors, p.Name)
		}
	}
	return vectors, matrices, nil
}
