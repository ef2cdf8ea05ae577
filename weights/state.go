package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// A state file is one sequence's recurrent state as raw little-endian
// float32 values in rwkv.cpp's layout (see Config.StateSize): no header, no
// version. What can be checked is therefore its size against the model's
// configuration (which also tells states of other versions, widths or depths
// apart) and its values: every value must be finite, and v4's denominator
// accumulator att_bb, a sum of exponentials, cannot be negative.

// MaxStateBytes bounds the size of a state file this package accepts (4 GiB).
// A configuration whose state would be larger is refused before anything is
// allocated.
const MaxStateBytes = 1 << 32

// StateBytes returns the size in bytes of one sequence's state for cfg, or an
// error when cfg does not describe a usable model (unknown version,
// non-positive dimensions, heads that do not tile the width) or its state
// size overflows or exceeds MaxStateBytes.
func StateBytes(cfg Config) (int64, error) {
	switch cfg.Version {
	case V4, V51, V52, V6, V7:
	default:
		return 0, fmt.Errorf("weights: state of unknown RWKV version %v", cfg.Version)
	}
	if cfg.Layers <= 0 || cfg.Embd <= 0 {
		return 0, fmt.Errorf("weights: state of a model with %d layers of width %d", cfg.Layers, cfg.Embd)
	}
	per := uint64(5)
	if cfg.Version != V4 {
		if cfg.Heads <= 0 || cfg.HeadSize <= 0 || uint64(cfg.Heads)*uint64(cfg.HeadSize) != uint64(cfg.Embd) {
			return 0, fmt.Errorf("weights: state of an RWKV %s model: %d heads of size %d do not make width %d", cfg.Version, cfg.Heads, cfg.HeadSize, cfg.Embd)
		}
		per = 2 + uint64(cfg.HeadSize)
	}
	n := uint64(4)
	for _, f := range []uint64{per, uint64(cfg.Embd), uint64(cfg.Layers)} {
		hi, lo := bits.Mul64(n, f)
		if hi != 0 || lo > MaxStateBytes {
			return 0, fmt.Errorf("weights: state of an RWKV %s model with %d layers of width %d exceeds %d bytes", cfg.Version, cfg.Layers, cfg.Embd, int64(MaxStateBytes))
		}
		n = lo
	}
	return int64(n), nil
}

// DecodeState reads a state file for a model with configuration cfg from r:
// exactly StateBytes(cfg) bytes, then end of input. It never reads more than
// one byte past the expected size and allocates in proportion to what r
// actually yields, so a short or endless input costs no more than the state
// itself. The decoded values are validated with CheckState.
func DecodeState(r io.Reader, cfg Config) ([]float32, error) {
	want, err := StateBytes(cfg)
	if err != nil {
		return nil, err
	}
	if err := CheckHostAlloc("the state", 2*uint64(want)); err != nil {
		return nil, err
	}
	buf, err := io.ReadAll(io.LimitReader(r, want+1))
	if err != nil {
		return nil, fmt.Errorf("weights: reading state: %w", err)
	}
	if int64(len(buf)) != want {
		return nil, stateSizeError(cfg, int64(len(buf)), want)
	}
	data := make([]float32, want/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	if err := CheckState(cfg, data); err != nil {
		return nil, err
	}
	return data, nil
}

// stateSizeError describes a state file of the wrong size.
func stateSizeError(cfg Config, got, want int64) error {
	desc := fmt.Sprintf("an RWKV %s model with %d layers of width %d", cfg.Version, cfg.Layers, cfg.Embd)
	if got > want {
		return fmt.Errorf("weights: state file is larger than the %d bytes (%d float32 values) %s needs", want, want/4, desc)
	}
	msg := fmt.Sprintf("weights: state file has %d bytes, %s needs exactly %d (%d float32 values)", got, desc, want, want/4)
	switch perLayer := want / int64(cfg.Layers); {
	case got == 0:
		msg += "; the file is empty"
	case got%4 != 0:
		msg += "; not a whole number of float32 values"
	case got%perLayer == 0:
		msg += fmt.Sprintf("; that is the size of a %d-layer state of this width", got/perLayer)
	}
	return errors.New(msg)
}

// CheckState reports whether data is a plausible state for cfg: the right
// number of values, every one finite, and (v4) no negative att_bb. The error
// names the first offending value by layer, part and index.
func CheckState(cfg Config, data []float32) error {
	want, err := StateBytes(cfg)
	if err != nil {
		return err
	}
	if int64(len(data)) != want/4 {
		return fmt.Errorf("weights: state has %d values, an RWKV %s model with %d layers of width %d needs %d", len(data), cfg.Version, cfg.Layers, cfg.Embd, want/4)
	}
	C := cfg.Embd
	per := len(data) / cfg.Layers
	for i, v := range data {
		f := float64(v)
		bad := ""
		switch {
		case math.IsNaN(f):
			bad = "is NaN"
		case math.IsInf(f, 0):
			bad = fmt.Sprintf("is %v", f)
		case cfg.Version == V4 && (i%per)/C == 3 && v < 0:
			bad = fmt.Sprintf("is %g; att_bb, a sum of exponentials, cannot be negative", v)
		default:
			continue
		}
		return fmt.Errorf("weights: state value %d (%s) %s", i, statePosition(cfg, i), bad)
	}
	return nil
}

// statePosition names the i-th value of a state in rwkv.cpp's layout.
func statePosition(cfg Config, i int) string {
	C := cfg.Embd
	per := cfg.LayerStateSize()
	layer, j := i/per, i%per
	if cfg.Version == V4 {
		part := [...]string{"ffn_xx", "att_xx", "att_aa", "att_bb", "att_pp"}[j/C]
		return fmt.Sprintf("layer %d %s[%d]", layer, part, j%C)
	}
	if j < 2*C {
		return fmt.Sprintf("layer %d %s[%d]", layer, [...]string{"ffn_xx", "att_xx"}[j/C], j%C)
	}
	j -= 2 * C
	nn := cfg.HeadSize * cfg.HeadSize
	return fmt.Sprintf("layer %d head %d state[%d][%d]", layer, j/nn, j%nn/cfg.HeadSize, j%cfg.HeadSize)
}
