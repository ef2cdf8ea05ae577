package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rwkvgo/rwkvgo/weights"
)

// LoadStateFile reads an initial state for a model with configuration cfg
// from path, which is either
//
//   - a raw state: StateSize float32 little-endian values in rwkv.cpp's
//     layout, as written by State.WriteTo and `rwkvgo logits --state-out`;
//   - a state-tuning checkpoint in the RWKV trainer's layout (.pth, or the
//     same keys in safetensors): one tensor blocks.L.att.time_state of
//     shape [H, N, N] per layer (v5, v6 and v7), the attention head state
//     in the engine's order ([h][key][value] for v5/v6, [h][value][key] for
//     v7, as the trainer stores it). The token-shift parts of the state are
//     zero, as in the trainer.
//
// The format is chosen by content.
func LoadStateFile(path string, cfg weights.Config) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("engine: state file: %w", err)
	}
	switch weights.Sniff(data) {
	case weights.FormatPTH, weights.FormatSafetensors:
		if f, err := weights.Decode(data); err == nil {
			defer f.Close()
			st, err := tunedState(f, cfg)
			if err != nil {
				return nil, fmt.Errorf("engine: state file %s: %w", filepath.Base(path), err)
			}
			return st, nil
		} else if len(data) != 4*cfg.StateSize() {
			return nil, fmt.Errorf("engine: state file %s: %w", filepath.Base(path), err)
		}
	}
	st, err := ReadState(bytes.NewReader(data), cfg)
	if err != nil {
		return nil, fmt.Errorf("engine: state file %s: %w", filepath.Base(path), err)
	}
	return st, nil
}

// tunedState builds a state from blocks.L.att.time_state tensors.
func tunedState(f *weights.File, cfg weights.Config) (*State, error) {
	if cfg.Version == weights.V4 {
		return nil, fmt.Errorf("RWKV %s has no attention head state to tune", cfg.Version)
	}
	st := NewState(cfg)
	C, N := cfg.Embd, cfg.HeadSize
	per := cfg.LayerStateSize()
	for l := 0; l < cfg.Layers; l++ {
		name := fmt.Sprintf("blocks.%d.att.time_state", l)
		t := f.Get(name)
		if t == nil {
			return nil, fmt.Errorf("no tensor %s (a state-tuning file has one per layer)", name)
		}
		if t.Len() != cfg.Heads*N*N {
			return nil, fmt.Errorf("%s has shape %s, the model needs %d heads x %d x %d", name, t.ShapeString(), cfg.Heads, N, N)
		}
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		copy(st.Data[l*per+2*C:(l+1)*per], v)
	}
	if t := f.Get(fmt.Sprintf("blocks.%d.att.time_state", cfg.Layers)); t != nil {
		return nil, fmt.Errorf("the file has more layers than the model's %d", cfg.Layers)
	}
	if err := weights.CheckState(cfg, st.Data); err != nil {
		return nil, err
	}
	return st, nil
}
