package generation

import (
	"slices"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// eotBytes is the byte tokenizer with an end-of-text token (id 0).
type eotBytes struct{ tokenizer.Tokenizer }

func (eotBytes) EndOfText() (int, bool) { return 0, true }

func TestParseArgs(t *testing.T) {
	st, err := ParseArgs([]string{"--temperature", "0.5", "--top-k", "7", "--beams", "2", "--stop", "xy", "--ignore-eos"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Sampler.Temperature != 0.5 || st.Sampler.TopK != 7 || st.Search.Beams != 2 || !slices.Equal(st.Search.Stop, []string{"xy"}) || !st.IgnoreEOS {
		t.Errorf("got %+v", st)
	}
	def, err := ParseArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := sampler.DefaultConfig(); def.Sampler.Temperature != want.Temperature || def.Search.Beams != 0 || def.Search.Contrastive != nil {
		t.Errorf("defaults %+v", def)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--model", "m"}, "-model"},
		{[]string{"--prompt", "p"}, "-prompt"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-h"}, "not a generation flag"},
		{[]string{"--temperature", "-1"}, "temperature"},
		{[]string{"--beams", "2", "--contrastive", "0.5"}, "exclusive"},
		{[]string{"--mirostat", "1"}, "mirostat"},
	} {
		if _, err := ParseArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.msg)
		}
	}
}

func TestConfig(t *testing.T) {
	tok := eotBytes{tokenizer.Bytes()}
	st, err := ParseArgs([]string{"--stop", "ab", "--dry-multiplier", "0.8", "--dry-sequence-breaker", "q", "--stop-token", "5"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := st.Config(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.StopStrings, []string{"ab"}) || !slices.Equal(cfg.StopTokens, []int{5, 0}) {
		t.Errorf("stops %q, stop tokens %v", cfg.StopStrings, cfg.StopTokens)
	}
	if len(cfg.DRYBreakerText) != 0 || len(cfg.DRYSequenceBreakers) != 1 || !slices.Equal(cfg.DRYSequenceBreakers[0], []int{'q'}) {
		t.Errorf("breakers %q / %v", cfg.DRYBreakerText, cfg.DRYSequenceBreakers)
	}
	if _, err := sampler.New(cfg); err != nil {
		t.Errorf("the config is not valid: %v", err)
	}
	// Settings are not changed by Config, and --ignore-eos drops the
	// end-of-text stop.
	if len(st.Sampler.StopTokens) != 1 || len(st.Sampler.DRYBreakerText) != 1 {
		t.Errorf("Config changed the settings: %+v", st.Sampler)
	}
	st.IgnoreEOS = true
	if cfg, _ = st.Config(tok); !slices.Equal(cfg.StopTokens, []int{5}) {
		t.Errorf("--ignore-eos: stop tokens %v", cfg.StopTokens)
	}
}

// Generate follows sampler.Generate for sampling and returns the best beam
// for beam search.
func TestGenerate(t *testing.T) {
	m, err := engine.Load(testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"), engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok := tokenizer.Bytes()
	prompt := tok.Encode([]byte("The king said"))
	run := func(args ...string) []int {
		t.Helper()
		st, err := ParseArgs(args)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := st.Config(tok)
		if err != nil {
			t.Fatal(err)
		}
		smp, err := sampler.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var streamed []int
		res, err := st.Generate(s, prompt, smp, tok.Decode, 16, func(id int, _ []byte) error {
			if id >= 0 {
				streamed = append(streamed, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := tok.Decode(res.Tokens); string(b) != string(res.Text) {
			t.Errorf("%v: text %q, tokens %q", args, res.Text, b)
		}
		if st.Search.Beams == 0 && !slices.Equal(streamed, res.Tokens) {
			t.Errorf("%v: streamed %v, result %v", args, streamed, res.Tokens)
		}
		return res.Tokens
	}
	a, b := run("--temperature", "1", "--seed", "3"), run("--temperature", "1", "--seed", "3")
	if len(a) != 16 || !slices.Equal(a, b) {
		t.Errorf("seeded sampling: %v / %v", a, b)
	}
	if c := run("--temperature", "1", "--seed", "4"); slices.Equal(a, c) {
		t.Error("another seed gave the same tokens")
	}
	if g, b1 := run("--temperature", "0"), run("--beams", "1"); !slices.Equal(g, b1) {
		t.Errorf("one beam %v differs from greedy %v", b1, g)
	}
}
