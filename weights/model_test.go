package weights

import (
	"strings"
	"testing"
)

func synthFile(t *testing.T, v Version) *File {
	t.Helper()
	f, err := Synthesize(SynthConfig{Version: v, Layers: 2, Embd: 32, Vocab: 11, HeadSize: 8, FFN: 64,
		MixLoRA: 4, DecayLoRA: 8, AaaLoRA: 4, ValueLoRA: 4, GateLoRA: 8})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func without(f *File, name string) *File {
	g := &File{Format: f.Format}
	for _, t := range f.Tensors {
		if t.Name != name {
			g.Tensors = append(g.Tensors, t)
		}
	}
	return g
}

func TestCanonicalizeDetectsEverything(t *testing.T) {
	for _, v := range []Version{V4, V51, V52, V6, V7} {
		m, err := Canonicalize(synthFile(t, v), Options{})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		c := m.Config
		want := Config{Version: v, Vocab: 11, Embd: 32, Layers: 2, FFN: 64, LayerNormEps: 1e-5, GroupNormEps: 64e-5}
		if v != V4 {
			want.Heads, want.HeadSize = 4, 8
		}
		switch v {
		case V6:
			want.MixLoRA, want.DecayLoRA = 4, 8
		case V7:
			want.DecayLoRA, want.AaaLoRA, want.ValueLoRA, want.GateLoRA = 8, 4, 4, 8
		}
		if c != want {
			t.Errorf("%s: config %+v, want %+v", v, c, want)
		}
		if c.StateSize() <= 0 {
			t.Errorf("%s: state size %d", v, c.StateSize())
		}
	}
	m, _ := Canonicalize(synthFile(t, V52), Options{V5GroupNormEps: 1e-5})
	if m.Config.GroupNormEps != 1e-5 {
		t.Errorf("v5 GroupNorm epsilon override ignored: %g", m.Config.GroupNormEps)
	}
}

// TestCanonicalizeV7OptionalLayer0Value: official v7 files may lack layer 0's
// unused v0/v1/v2 or carry them; both load.
func TestCanonicalizeV7OptionalLayer0Value(t *testing.T) {
	f := synthFile(t, V7)
	extra := []*Tensor{
		f32Matrix("blocks.0.att.v0", make([]float32, 32), 0, 0),
		f32Matrix("blocks.0.att.v1", make([]float32, 32*4), 32, 4),
		f32Matrix("blocks.0.att.v2", make([]float32, 4*32), 4, 32),
	}
	extra[0].Shape = []int{1, 1, 32}
	f.Tensors = append(f.Tensors, extra...)
	if _, err := Canonicalize(f, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	v7 := synthFile(t, V7)
	bad := synthFile(t, V6)
	for _, x := range bad.Tensors {
		if x.Name == "blocks.1.att.key.weight" {
			x.Shape = []int{16, 64}
		}
	}
	dup := synthFile(t, V4)
	dup.Tensors = append(dup.Tensors, dup.Tensors[3])
	unknown := synthFile(t, V52)
	unknown.Tensors = append(unknown.Tensors, f32Matrix("blocks.0.att.mystery", make([]float32, 4), 2, 2))
	for _, tc := range []struct {
		f   *File
		msg string
	}{
		{&File{}, "not an RWKV model"},
		{without(v7, "head.weight"), `missing tensor "head.weight"`},
		{without(v7, "blocks.1.att.a2"), `missing tensor "blocks.1.att.a2"`},
		{without(synthFile(t, V4), "blocks.1.ffn.value.weight"), `missing tensor "blocks.1.ffn.value.weight"`},
		{bad, `"blocks.1.att.key.weight" has shape [16, 64]`},
		{dup, "appears twice"},
		{unknown, "unexpected tensors"},
	} {
		_, err := Canonicalize(tc.f, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("got %v, want an error containing %q", err, tc.msg)
		}
	}
}

// TestSynthesizeOfficialLoRARanks: synthetic models get the LoRA ranks of the
// official models of the same width (RWKV-7 0.1B: 64, 64, 32, 128).
func TestSynthesizeOfficialLoRARanks(t *testing.T) {
	f, err := Synthesize(SynthConfig{Version: V7, Layers: 2, Embd: 768, Vocab: 16})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Canonicalize(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.DecayLoRA != 64 || c.AaaLoRA != 64 || c.ValueLoRA != 32 || c.GateLoRA != 128 || c.FFN != 3072 || c.Heads != 12 {
		t.Fatalf("0.1B shape: %+v", c)
	}
}
