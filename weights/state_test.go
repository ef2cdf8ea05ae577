package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateCfg returns the configuration of a small synthetic model.
func stateCfg(t testing.TB, v Version) Config {
	t.Helper()
	f, err := Synthesize(SynthConfig{Version: v, Layers: 3, Embd: 32, Vocab: 11, HeadSize: 8, FFN: 64,
		MixLoRA: 4, DecayLoRA: 8, AaaLoRA: 4, ValueLoRA: 4, GateLoRA: 8})
	require.NoError(t, err)
	m, err := Canonicalize(f, Options{})
	require.NoError(t, err)
	return m.Config
}

// stateBytes encodes values as a state file.
func stateBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// initialState is the state a fresh sequence starts from (v4: pp = -1e30).
func initialState(cfg Config) []float32 {
	d := make([]float32, cfg.StateSize())
	if cfg.Version == V4 {
		per := cfg.LayerStateSize()
		for l := 0; l < cfg.Layers; l++ {
			for i := 4 * cfg.Embd; i < per; i++ {
				d[l*per+i] = -1e30
			}
		}
	}
	return d
}

func TestDecodeStateRoundTrip(t *testing.T) {
	for _, v := range []Version{V4, V51, V52, V6, V7} {
		cfg := stateCfg(t, v)
		n, err := StateBytes(cfg)
		require.NoError(t, err)
		assert.Equal(t, int64(4*cfg.StateSize()), n)
		want := initialState(cfg)
		for i := range want {
			if want[i] == 0 {
				want[i] = float32(i%7) * 0.25
			}
		}
		got, err := DecodeState(bytes.NewReader(stateBytes(want)), cfg)
		require.NoError(t, err, v)
		assert.Equal(t, want, got)
	}
}

func TestDecodeStateRefusals(t *testing.T) {
	v4, v7 := stateCfg(t, V4), stateCfg(t, V7)
	good4, good7 := stateBytes(initialState(v4)), stateBytes(initialState(v7))
	with := func(b []byte, i int, x float32) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint32(c[4*i:], math.Float32bits(x))
		return c
	}
	C, per7 := v7.Embd, v7.LayerStateSize()
	cases := []struct {
		name string
		cfg  Config
		data []byte
		want string
	}{
		{"empty", v7, nil, "the file is empty"},
		{"truncated", v7, good7[:len(good7)-4], "needs exactly"},
		{"odd size", v7, good7[:len(good7)-3], "not a whole number of float32 values"},
		{"too long", v7, append(bytes.Clone(good7), 0, 0, 0, 0), "larger than"},
		{"fewer layers", v7, good7[:4*2*per7], "the size of a 2-layer state"},
		{"other version", v7, good4, "RWKV v7 model with 3 layers of width 32 needs exactly"},
		{"NaN", v7, with(good7, per7+2*C+8+3, float32(math.NaN())), "value " + strconv.Itoa(per7+2*C+8+3) + " (layer 1 head 0 state[1][3]) is NaN"},
		{"+Inf", v7, with(good7, 5, float32(math.Inf(1))), "(layer 0 ffn_xx[5]) is +Inf"},
		{"-Inf v4 pp", v4, with(good4, 4*32+1, float32(math.Inf(-1))), "(layer 0 att_pp[1]) is -Inf"},
		{"negative v4 bb", v4, with(good4, 5*32+3*32+2, -1), "(layer 1 att_bb[2]) is -1; att_bb, a sum of exponentials, cannot be negative"},
		{"v4 state for v7", v4, good7, "RWKV v4 model"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeState(bytes.NewReader(tc.data), tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "weights: "), err.Error())
		})
	}
}

func TestStateBytesRefusesBadConfigs(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown version", Config{Version: 99, Layers: 1, Embd: 4}, "unknown RWKV version"},
		{"no layers", Config{Version: V4, Embd: 4}, "0 layers"},
		{"negative width", Config{Version: V4, Layers: 2, Embd: -4}, "width -4"},
		{"heads do not tile", Config{Version: V7, Layers: 2, Embd: 64, Heads: 3, HeadSize: 16}, "3 heads of size 16 do not make width 64"},
		{"no heads", Config{Version: V6, Layers: 2, Embd: 64}, "0 heads"},
		{"huge", Config{Version: V7, Layers: 1 << 20, Embd: 1 << 20, Heads: 1 << 14, HeadSize: 64}, "exceeds"},
		{"overflowing", Config{Version: V7, Layers: math.MaxInt, Embd: math.MaxInt, Heads: 1, HeadSize: math.MaxInt}, "exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StateBytes(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = DecodeState(bytes.NewReader(make([]byte, 64)), tc.cfg)
			require.Error(t, err)
			require.Error(t, CheckState(tc.cfg, make([]float32, 4)))
		})
	}
}

// endless yields zeros forever.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

// TestDecodeStateBoundsWork checks that a huge declared state is refused
// before allocating it, and that an endless input is read only one byte past
// the expected size.
func TestDecodeStateBoundsWork(t *testing.T) {
	cfg := Config{Version: V7, Layers: 4096, Embd: 1 << 16, Heads: 1024, HeadSize: 64}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeState(bytes.NewReader(make([]byte, 16)), cfg)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "refusing a huge state allocated memory")

	small := stateCfg(t, V52)
	src := &endless{}
	_, err = DecodeState(src, small)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
	assert.LessOrEqual(t, src.n, int64(4*small.StateSize())+64*1024, "read far past the state's size")

	// A truncated input of a legitimately large state allocates no more than
	// it holds (io.ReadAll grows with the data).
	big := Config{Version: V7, Layers: 32, Embd: 4096, Heads: 64, HeadSize: 64}
	runtime.ReadMemStats(&before)
	_, err = DecodeState(io.LimitReader(&endless{}, 1024), big)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}

// TestDecodeStateReference decodes every reference state with the
// configuration of its model, and refuses it for a model of another shape.
func TestDecodeStateReference(t *testing.T) {
	idx := testdata.Path(t, "reference/index.json")
	raw, err := os.ReadFile(idx)
	require.NoError(t, err)
	var entries []struct {
		Model     string `json:"model"`
		StateFile string `json:"state_file"`
		StateLen  int    `json:"state_len"`
	}
	require.NoError(t, json.Unmarshal(raw, &entries))
	require.NotEmpty(t, entries)
	cfgs := map[string]Config{}
	for _, e := range entries {
		cfg, ok := cfgs[e.Model]
		if !ok {
			matches, _ := filepath.Glob(filepath.Join(testdata.Root(), "rwkv.cpp", "*", e.Model))
			require.Len(t, matches, 1, e.Model)
			m, err := Load(matches[0], Options{})
			require.NoError(t, err)
			cfg = m.Config
			m.Close()
			cfgs[e.Model] = cfg
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(idx), e.StateFile))
		require.NoError(t, err)
		got, err := DecodeState(bytes.NewReader(data), cfg)
		require.NoError(t, err, e.StateFile)
		assert.Len(t, got, e.StateLen)
	}
	// A state only fits models of its own shape.
	v4 := cfgs["tiny-rwkv-4v0-660K-FP32.bin"]
	v7 := cfgs["tiny-rwkv-7v0-834K-FP32.bin"]
	require.NotZero(t, v4.Version)
	require.NotZero(t, v7.Version)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(idx), "tiny-rwkv-4v0-660K-FP32.quote_in.state.f32"))
	require.NoError(t, err)
	_, err = DecodeState(bytes.NewReader(data), v7)
	require.Error(t, err)
}
