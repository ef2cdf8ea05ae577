package engine

import (
	"bytes"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

var allVersions = []weights.Version{weights.V4, weights.V51, weights.V52, weights.V6, weights.V7}

// synthModel builds a small random model of the given version.
func synthModel(t testing.TB, v weights.Version, opts Options) *Model {
	t.Helper()
	f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: 3, Embd: 64, Vocab: 97, HeadSize: 16, FFN: 160,
		MixLoRA: 8, DecayLoRA: 16, AaaLoRA: 8, ValueLoRA: 8, GateLoRA: 16, Seed: uint64(v)})
	if err != nil {
		t.Fatal(err)
	}
	wm, err := weights.Canonicalize(f, weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(wm, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		if a[i] != a[i] || b[i] != b[i] {
			return math.Inf(1)
		}
	}
	return d
}

var prompt = []int{3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26, 43, 38, 32, 79, 50, 28, 8, 41}

func TestSequenceEqualsTokenByToken(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			m := synthModel(t, v, Options{})
			seq, _ := m.NewSession()
			all, err := seq.FeedAll(prompt)
			if err != nil {
				t.Fatal(err)
			}
			one, _ := m.NewSession()
			var worst float64
			for i, tok := range prompt {
				lg, err := one.Feed([]int{tok})
				if err != nil {
					t.Fatal(err)
				}
				worst = math.Max(worst, maxAbsDiff(lg, all[i*97:(i+1)*97]))
			}
			if worst > 1e-5 {
				t.Fatalf("sequence vs token-by-token logits differ by %g (limit 1e-5)", worst)
			}
			s1, _ := seq.State()
			s2, _ := one.State()
			if d := maxAbsDiff(s1.Data, s2.Data); d > 1e-5 {
				t.Fatalf("states differ by %g", d)
			}
			// the logits must be informative (not constant, finite)
			var spread float64
			for _, x := range all[len(all)-97:] {
				spread = math.Max(spread, math.Abs(float64(x-all[len(all)-1])))
			}
			if spread < 1e-3 {
				t.Fatalf("degenerate logits")
			}
		})
	}
}

func TestBatchEqualsSingle(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			m := synthModel(t, v, Options{Threads: 3})
			inputs := [][]int{prompt[:7], prompt[3:4], prompt[5:20]}
			var want [][]float32
			for _, in := range inputs {
				s, _ := m.NewSession()
				lg, err := s.Feed(in)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, append([]float32(nil), lg...))
				s.Close()
			}
			var reqs []*Request
			for _, in := range inputs {
				s, _ := m.NewSession()
				defer s.Close()
				reqs = append(reqs, &Request{Session: s, Tokens: in})
			}
			if err := m.Step(reqs); err != nil {
				t.Fatal(err)
			}
			for i, r := range reqs {
				if d := maxAbsDiff(r.Logits, want[i]); d > 1e-5 {
					t.Fatalf("request %d: batched logits differ by %g", i, d)
				}
			}
		})
	}
}

func TestStateSaveRestoreFork(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			m := synthModel(t, v, Options{})
			s, _ := m.NewSession()
			if _, err := s.Feed(prompt[:10]); err != nil {
				t.Fatal(err)
			}
			st, err := s.State()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := st.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			fork, err := s.Fork()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := s.Feed(prompt[10:])
			want = append([]float32(nil), want...)
			got, _ := fork.Feed(prompt[10:])
			if d := maxAbsDiff(got, want); d != 0 {
				t.Fatalf("fork differs by %g", d)
			}
			loaded, err := ReadState(&buf, m.Config())
			if err != nil {
				t.Fatal(err)
			}
			fresh, _ := m.NewSession()
			if err := fresh.SetState(loaded); err != nil {
				t.Fatal(err)
			}
			got, _ = fresh.Feed(prompt[10:])
			if d := maxAbsDiff(got, want); d != 0 {
				t.Fatalf("restored state differs by %g", d)
			}
			if err := fresh.Reset(); err != nil {
				t.Fatal(err)
			}
			first, _ := m.NewSession()
			a, _ := first.Feed(prompt[:3])
			a = append([]float32(nil), a...)
			b, _ := fresh.Feed(prompt[:3])
			if d := maxAbsDiff(a, b); d != 0 {
				t.Fatalf("reset session differs from a new one by %g", d)
			}
			if _, err := ReadState(bytes.NewReader(make([]byte, 12)), m.Config()); err == nil {
				t.Fatal("short state accepted")
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	m := synthModel(t, weights.V7, Options{})
	s, _ := m.NewSession()
	if _, err := s.Feed([]int{97}); err == nil {
		t.Fatal("out-of-range token accepted")
	}
	if _, err := s.Feed(nil); err == nil {
		t.Fatal("empty input accepted")
	}
	if err := m.Step([]*Request{{Session: s, Tokens: []int{1}}, {Session: s, Tokens: []int{2}}}); err == nil {
		t.Fatal("a session given twice to one step was accepted")
	}
	if _, err := s.Feed([]int{5}); err != nil {
		t.Fatalf("session unusable after a rejected step: %v", err)
	}
	other := synthModel(t, weights.V4, Options{})
	if err := s.SetState(NewState(other.Config())); err == nil {
		t.Fatal("state of another model accepted")
	}
	s.Close()
	if _, err := s.Feed([]int{1}); err != ErrClosed {
		t.Fatalf("closed session: %v", err)
	}
}

// TestThreadsDoNotChangeResults: the split of work across goroutines never
// changes a result bit, so seeded generation is reproducible on any machine.
func TestThreadsDoNotChangeResults(t *testing.T) {
	for _, v := range allVersions {
		var ref []float32
		for _, threads := range []int{1, 2, 5} {
			m := synthModel(t, v, Options{Threads: threads})
			s, _ := m.NewSession()
			lg, err := s.FeedAll(prompt)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = append([]float32(nil), lg...)
			} else if d := maxAbsDiff(lg, ref); d != 0 {
				t.Fatalf("%s: %d threads change logits by %g", v, threads, d)
			}
		}
	}
}
