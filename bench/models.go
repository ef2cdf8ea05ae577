package bench

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// Preset is a named synthetic model shape.
type Preset struct {
	Name     string          `json:"name"`
	Version  weights.Version `json:"-"`
	Layers   int             `json:"layers"`
	Embd     int             `json:"width"`
	Vocab    int             `json:"vocab"`
	HeadSize int             `json:"head_size,omitempty"`
}

// presets: the official RWKV shapes of each size, and tiny ones for tests.
var presets = func() map[string]Preset {
	m := map[string]Preset{}
	sizes := []struct {
		tag           string
		layers, width int
	}{{"0.1b", 12, 768}, {"0.4b", 24, 1024}, {"1.5b", 24, 2048}, {"3b", 32, 2560}, {"7b", 32, 4096}}
	versions := []struct {
		tag string
		v   weights.Version
		voc int
	}{{"v4", weights.V4, 50277}, {"v5", weights.V52, 65536}, {"v6", weights.V6, 65536}, {"v7", weights.V7, 65536}}
	for _, v := range versions {
		for _, s := range sizes {
			n := v.tag + "-" + s.tag
			m[n] = Preset{Name: n, Version: v.v, Layers: s.layers, Embd: s.width, Vocab: v.voc}
		}
		n := v.tag + "-tiny"
		m[n] = Preset{Name: n, Version: v.v, Layers: 2, Embd: 64, Vocab: 256, HeadSize: 16}
		n = v.tag + "-small"
		m[n] = Preset{Name: n, Version: v.v, Layers: 4, Embd: 256, Vocab: 4096}
	}
	return m
}()

// LookupPreset returns the synthetic shape called name: v4, v5 (5.2), v6 or
// v7, then -tiny, -small, -0.1b, -0.4b, -1.5b, -3b or -7b (e.g. "v7-0.1b":
// 12 layers, width 768, vocabulary 65536).
func LookupPreset(name string) (Preset, error) {
	p, ok := presets[strings.ToLower(name)]
	if !ok {
		return Preset{}, fmt.Errorf("unknown synthetic model %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}

// PresetNames lists the synthetic model names.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SynthConfig returns the weights.SynthConfig of the preset.
func (p Preset) SynthConfig(seed uint64) weights.SynthConfig {
	return weights.SynthConfig{Version: p.Version, Layers: p.Layers, Embd: p.Embd, Vocab: p.Vocab, HeadSize: p.HeadSize, Seed: seed}
}

// SyntheticModel generates a random-weight model of the configuration and
// prepares it on be (nil: a new pure-Go backend owned by the model).
func SyntheticModel(sc weights.SynthConfig, be backend.Backend, threads int) (*engine.Model, error) {
	return SyntheticModelWith(sc, engine.Options{Backend: be, Threads: threads})
}

// SyntheticModelWith is SyntheticModel with every engine option (a
// quantization, say); opts.V5GroupNormEps is ignored.
func SyntheticModelWith(sc weights.SynthConfig, opts engine.Options) (*engine.Model, error) {
	f, err := weights.Synthesize(sc)
	if err != nil {
		return nil, err
	}
	wm, err := weights.Canonicalize(f, weights.Options{})
	if err != nil {
		return nil, err
	}
	return engine.New(wm, opts)
}

// ModelInfo describes the model a report was measured on.
type ModelInfo struct {
	// Source is the file path or "synthetic:NAME".
	Source     string `json:"source"`
	Version    string `json:"version"`
	Layers     int    `json:"layers"`
	Width      int    `json:"width"`
	Vocab      int    `json:"vocab"`
	Heads      int    `json:"heads,omitempty"`
	FFN        int    `json:"ffn"`
	StateBytes int64  `json:"state_bytes"`
	Params     int64  `json:"params"`
}

// DescribeModel summarises a model's configuration.
func DescribeModel(source string, cfg weights.Config) ModelInfo {
	return ModelInfo{Source: source, Version: cfg.Version.String(), Layers: cfg.Layers, Width: cfg.Embd, Vocab: cfg.Vocab,
		Heads: cfg.Heads, FFN: cfg.FFN, StateBytes: 4 * int64(cfg.StateSize()), Params: rwkvParams(cfg)}
}

// rwkvParams approximates the parameter count from the configuration: the
// matrices (embedding, head, projections, channel mix, LoRAs).
func rwkvParams(c weights.Config) int64 {
	C, F, V := int64(c.Embd), int64(c.FFN), int64(c.Vocab)
	per := 4*C*C + 2*C*F // r, k, v, o; ffn key and value
	switch c.Version {
	case weights.V4, weights.V51:
		per += C * C // ffn receptance
	case weights.V52:
		per += 2 * C * C // gate, ffn receptance
	case weights.V6:
		per += 2*C*C + 2*C*int64(5*c.MixLoRA) + 2*C*int64(c.DecayLoRA)
	case weights.V7:
		per += 2 * C * int64(c.DecayLoRA+c.AaaLoRA+c.ValueLoRA+c.GateLoRA)
	}
	return 2*V*C + int64(c.Layers)*per
}
