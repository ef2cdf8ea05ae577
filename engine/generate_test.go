package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/weights"
)

func testSampler(t *testing.T, temp float64, seed uint64) *sampler.Sampler {
	t.Helper()
	c := sampler.DefaultConfig()
	c.Temperature, c.Seed = temp, seed
	s, err := sampler.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenerateMatchesSamplerGenerate(t *testing.T) {
	m := synthModel(t, weights.V7, Options{})
	smp := testSampler(t, 0.8, 42)
	a, _ := m.NewSession()
	defer a.Close()
	want, err := sampler.Generate(a.SamplerModel(), prompt, smp, sampler.Options{MaxTokens: 12, Seq: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.NewSession()
	defer b.Close()
	got, err := b.Generate(context.Background(), prompt, smp, GenerateOptions{MaxTokens: 12, Seq: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tokens) != 12 || len(want.Tokens) != 12 {
		t.Fatalf("lengths %d, %d", len(got.Tokens), len(want.Tokens))
	}
	for i := range want.Tokens {
		if got.Tokens[i] != want.Tokens[i] {
			t.Fatalf("token %d: %d != %d", i, got.Tokens[i], want.Tokens[i])
		}
	}
	c, _ := m.NewSession()
	defer c.Close()
	var streamed []int
	for tok, err := range c.Stream(context.Background(), prompt, smp, GenerateOptions{MaxTokens: 12, Seq: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, tok.ID)
	}
	if len(streamed) != 12 || streamed[11] != want.Tokens[11] || streamed[0] != want.Tokens[0] {
		t.Fatalf("streamed %v, want %v", streamed, want.Tokens)
	}
}

func TestStreamCancelAndBreak(t *testing.T) {
	m := synthModel(t, weights.V6, Options{})
	smp := testSampler(t, 1, 1)
	s, _ := m.NewSession()
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for _, err := range s.Stream(ctx, prompt, smp, GenerateOptions{MaxTokens: 50}) {
		if err != nil {
			last = err
			break
		}
		n++
		if n == 3 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || n != 3 {
		t.Fatalf("after cancel: %d tokens, err %v; want 3 tokens and context.Canceled", n, last)
	}
	n = 0
	for _, err := range s.Stream(context.Background(), prompt, smp, GenerateOptions{MaxTokens: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("break: %d tokens", n)
	}
	if _, err := s.Generate(ctx, prompt, smp, GenerateOptions{MaxTokens: 5}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

func TestGenerateBeamAndContrastive(t *testing.T) {
	m := synthModel(t, weights.V52, Options{})
	smp := testSampler(t, 0, 0)
	g, _ := m.NewSession()
	defer g.Close()
	greedy, err := g.Generate(context.Background(), prompt, smp, GenerateOptions{MaxTokens: 6})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []GenerateOptions{{MaxTokens: 6, Beams: 1}, {MaxTokens: 6, Contrastive: &sampler.ContrastiveConfig{Alpha: 0, TopK: 3}}} {
		s, _ := m.NewSession()
		var ids []int
		for tok, err := range s.Stream(context.Background(), prompt, smp, o) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tok.ID)
		}
		s.Close()
		if len(ids) != len(greedy.Tokens) {
			t.Fatalf("%+v: %v, greedy %v", o, ids, greedy.Tokens)
		}
		for i := range ids {
			if ids[i] != greedy.Tokens[i] {
				t.Fatalf("%+v: %v, greedy %v", o, ids, greedy.Tokens)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _ := m.NewSession()
	defer s.Close()
	if _, err := s.Generate(ctx, prompt, smp, GenerateOptions{MaxTokens: 6, Beams: 2}); !errors.Is(err, context.Canceled) {
		t.Fatalf("beam with cancelled context: %v", err)
	}
}
