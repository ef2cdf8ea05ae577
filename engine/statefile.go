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
//     shape [H, N, N] per layer (v5, v6 and v7). The token-shift parts of
//     the state are zero, as in the trainer.
//
// Orientation of time_state. The trainer's WKV kernels give each head's
// state one row per value channel: thread i (value i) keeps state[j] for
// key j and outputs y[i] = sum_j r[j] * state[j], so time_state[h][i][j]
// is the entry of value i and key j, [h][value][key], for every version.
// The engine stores v7 states [h][value][key] as well (State, WKV7), so v7
// files are copied as they are; v5 and v6 states are [h][key][value] in the
// engine (WKV5: y = r^T S), as in the reference inference code, which loads
// these files with time_state.transpose(1, 2): each head's matrix is
// transposed. A test loads a .pth whose only non-zero entry is
// time_state[h][i][j] and checks that the state makes value channel i of
// head h answer a receptance on key j, and that the model's logits equal
// those of the state set by hand at (value i, key j).
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
		dst := st.Data[l*per+2*C : (l+1)*per]
		if cfg.Version == weights.V7 {
			copy(dst, v)
			continue
		}
		for h := 0; h < cfg.Heads; h++ { // [value][key] -> [key][value]
			src, d := v[h*N*N:(h+1)*N*N], dst[h*N*N:(h+1)*N*N]
			for i := 0; i < N; i++ {
				for j := 0; j < N; j++ {
					d[j*N+i] = src[i*N+j]
				}
			}
		}
	}
	if t := f.Get(fmt.Sprintf("blocks.%d.att.time_state", cfg.Layers)); t != nil {
		return nil, fmt.Errorf("the file has more layers than the model's %d", cfg.Layers)
	}
	if err := weights.CheckState(cfg, st.Data); err != nil {
		return nil, err
	}
	return st, nil
}
