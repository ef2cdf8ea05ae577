package sampler

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

var inf = math.Inf(-1)

func near(a, b float64) bool {
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

func nearSlice(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(a[i], b[i]) {
			return false
		}
	}
	return true
}

// logs returns the natural logs of probabilities (so Softmax recovers them).
func logs(p ...float64) []float64 {
	out := make([]float64, len(p))
	for i, x := range p {
		out[i] = math.Log(x)
	}
	return out
}

func TestRepetitionPenaltyTable(t *testing.T) {
	cases := []struct {
		name string
		l    []float64
		win  []int
		p    float64
		want []float64
	}{
		{"positive divided, negative multiplied", []float64{2, -1, 0.5, 3}, []int{0, 1, 1}, 2, []float64{1, -2, 0.5, 3}},
		{"distinct tokens penalized once", []float64{4, 4}, []int{0, 0, 0}, 2, []float64{2, 4}},
		{"zero logit unchanged", []float64{0, 1}, []int{0}, 3, []float64{0, 1}},
		{"p below 1 boosts", []float64{2, -2}, []int{0, 1}, 0.5, []float64{4, -1}},
		{"p = 1 is off", []float64{2, -2}, []int{0, 1}, 1, []float64{2, -2}},
		{"banned stays banned", []float64{inf, 1}, []int{0}, 2, []float64{inf, 1}},
	}
	for _, c := range cases {
		l := append([]float64(nil), c.l...)
		RepetitionPenalty(l, c.win, c.p)
		if !nearSlice(l, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, l, c.want)
		}
	}
}

func TestDecayedCountsTable(t *testing.T) {
	cases := []struct {
		win   []int
		decay float64
		want  map[int]float64
	}{
		{[]int{1, 2, 1}, 1, map[int]float64{1: 2, 2: 1}},
		// walk: 1 -> {1:1}; 2 -> {1:0.5, 2:1}; 1 -> {1:1.25, 2:0.5}
		{[]int{1, 2, 1}, 0.5, map[int]float64{1: 1.25, 2: 0.5}},
		// walk: 3 -> {3:1}; 3 -> {3:1.9}; 4 -> {3:1.71, 4:1}
		{[]int{3, 3, 4}, 0.9, map[int]float64{3: 1.71, 4: 1}},
		{nil, 0.5, map[int]float64{}},
	}
	for _, c := range cases {
		got := DecayedCounts(c.win, c.decay)
		if len(got) != len(c.want) {
			t.Errorf("DecayedCounts(%v, %v) = %v, want %v", c.win, c.decay, got, c.want)
			continue
		}
		for k, v := range c.want {
			if !near(got[k], v) {
				t.Errorf("DecayedCounts(%v, %v)[%d] = %v, want %v", c.win, c.decay, k, got[k], v)
			}
		}
	}
}

func TestPresenceFrequencyTable(t *testing.T) {
	cases := []struct {
		name                       string
		win                        []int
		presence, frequency, decay float64
		want                       []float64
	}{
		{"openai", []int{1, 2, 1}, 0.1, 1, 1, []float64{0, -2.1, -1.1, 0}},
		{"decayed", []int{1, 2, 1}, 0.1, 1, 0.5, []float64{0, -1.35, -0.6, 0}},
		{"presence only", []int{3, 3, 3}, 0.5, 0, 1, []float64{0, 0, 0, -0.5}},
		{"off", []int{1, 2}, 0, 0, 0.5, []float64{0, 0, 0, 0}},
	}
	for _, c := range cases {
		l := make([]float64, 4)
		PresenceFrequencyPenalty(l, c.win, c.presence, c.frequency, c.decay)
		if !nearSlice(l, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, l, c.want)
		}
	}
}

func TestNoRepeatNGramTable(t *testing.T) {
	cases := []struct {
		name    string
		history []int
		n       int
		banned  []int
	}{
		{"trigram", []int{1, 2, 3, 1, 2}, 3, []int{3}},
		{"bigram", []int{1, 2, 3, 1, 2}, 2, []int{3}},
		{"bigram two continuations", []int{1, 2, 1, 3, 1}, 2, []int{2, 3}},
		{"unigram bans history", []int{1, 2, 3, 1, 2}, 1, []int{1, 2, 3}},
		{"no match", []int{1, 2, 3, 4}, 3, nil},
		{"too short", []int{1}, 3, nil},
		{"hf example", []int{1, 2, 1}, 2, []int{2}},
		{"off", []int{1, 1, 1}, 0, nil},
	}
	for _, c := range cases {
		l := make([]float64, 6)
		NoRepeatNGram(l, c.history, c.n)
		var got []int
		for i, x := range l {
			if math.IsInf(x, -1) {
				got = append(got, i)
			}
		}
		if !reflect.DeepEqual(got, c.banned) {
			t.Errorf("%s: banned %v, want %v", c.name, got, c.banned)
		}
	}
}

func kept(l []float64) []int {
	var out []int
	for i, x := range l {
		if !math.IsInf(x, -1) {
			out = append(out, i)
		}
	}
	return out
}

func TestTopKTable(t *testing.T) {
	cases := []struct {
		l    []float64
		k    int
		want []int
	}{
		{[]float64{1, 3, 3, 2, 0}, 1, []int{1, 2}},
		{[]float64{1, 3, 3, 2, 0}, 2, []int{1, 2}},
		{[]float64{1, 3, 3, 2, 0}, 3, []int{1, 2, 3}},
		{[]float64{1, 3, 3, 2, 0}, 5, []int{0, 1, 2, 3, 4}},
		{[]float64{1, 3, 3, 2, 0}, 0, []int{0, 1, 2, 3, 4}},
		{[]float64{inf, 3, inf, 2, 0}, 2, []int{1, 3}},
	}
	for _, c := range cases {
		l := append([]float64(nil), c.l...)
		TopK(l, c.k)
		if got := kept(l); !reflect.DeepEqual(got, c.want) {
			t.Errorf("TopK(%v, %d) kept %v, want %v", c.l, c.k, got, c.want)
		}
	}
}

func TestTopPTable(t *testing.T) {
	base := logs(0.05, 0.5, 0.15, 0.3) // ranks: 1 (.5), 3 (.3), 2 (.15), 0 (.05)
	cases := []struct {
		p    float64
		want []int
	}{
		{0.1, []int{1}},
		{0.49, []int{1}},
		{0.51, []int{1, 3}},
		{0.79, []int{1, 3}},
		{0.81, []int{1, 2, 3}},
		{0.96, []int{0, 1, 2, 3}},
		{1, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		l := append([]float64(nil), base...)
		TopP(l, c.p)
		if got := kept(l); !reflect.DeepEqual(got, c.want) {
			t.Errorf("TopP(p=%v) kept %v, want %v", c.p, got, c.want)
		}
	}
	// Ties: equal probabilities are ranked by id ascending.
	l := []float64{0, 0, 0, 0}
	TopP(l, 0.3)
	if got := kept(l); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Errorf("TopP ties kept %v, want [0 1]", got)
	}
}

func TestMinPTable(t *testing.T) {
	base := logs(0.5, 0.3, 0.15, 0.05)
	cases := []struct {
		minP float64
		want []int
	}{
		{0, []int{0, 1, 2, 3}},
		{0.05, []int{0, 1, 2, 3}},
		{0.25, []int{0, 1, 2}},
		{0.5, []int{0, 1}},
		{0.7, []int{0}},
		{1, []int{0}},
	}
	for _, c := range cases {
		l := append([]float64(nil), base...)
		MinP(l, c.minP)
		if got := kept(l); !reflect.DeepEqual(got, c.want) {
			t.Errorf("MinP(%v) kept %v, want %v", c.minP, got, c.want)
		}
	}
}

func TestTypicalTable(t *testing.T) {
	// p = .5 .3 .15 .05; H = 1.1421; scores |-ln p - H| = .449 .062 .755 1.854;
	// order by score: 1, 0, 2, 3 with cumulative mass .3 .8 .95 1.
	base := logs(0.5, 0.3, 0.15, 0.05)
	cases := []struct {
		mass float64
		want []int
	}{
		{0.2, []int{1}},
		{0.25, []int{1}},
		{0.5, []int{0, 1}},
		{0.9, []int{0, 1, 2}},
		{0.99, []int{0, 1, 2, 3}},
		{1, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		l := append([]float64(nil), base...)
		Typical(l, c.mass)
		if got := kept(l); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Typical(%v) kept %v, want %v", c.mass, got, c.want)
		}
	}
}

func TestSoftmaxAndTemperature(t *testing.T) {
	l := []float64{math.Log(1), math.Log(3), inf}
	p := Softmax(l)
	if !nearSlice(p, []float64{0.25, 0.75, 0}) {
		t.Fatalf("Softmax = %v", p)
	}
	Temperature(l, 0.5)
	p = Softmax(l)
	if !nearSlice(p, []float64{0.1, 0.9, 0}) { // squares renormalized: 1/10, 9/10
		t.Fatalf("Softmax at T=0.5 = %v", p)
	}
	if Softmax([]float64{inf, inf}) != nil {
		t.Fatal("Softmax of all -Inf should be nil")
	}
	// Large logits do not overflow.
	p = Softmax([]float64{1000, 1000})
	if !nearSlice(p, []float64{0.5, 0.5}) {
		t.Fatalf("Softmax large = %v", p)
	}
}

func TestArgmaxAndDraw(t *testing.T) {
	if got := Argmax([]float64{1, 3, 3, inf}); got != 1 {
		t.Errorf("Argmax ties = %d, want 1", got)
	}
	if got := Argmax([]float64{inf, inf}); got != -1 {
		t.Errorf("Argmax all banned = %d", got)
	}
	p := []float64{0.25, 0, 0.25, 0.5}
	cases := []struct {
		u    float64
		want int
	}{{0, 0}, {0.2499, 0}, {0.25, 2}, {0.4999, 2}, {0.5, 3}, {0.99999, 3}, {1.5, 3}}
	for _, c := range cases {
		if got := Draw(p, c.u); got != c.want {
			t.Errorf("Draw(u=%v) = %d, want %d", c.u, got, c.want)
		}
	}
	if Draw([]float64{0, 0}, 0.5) != -1 {
		t.Error("Draw with no mass should be -1")
	}
}

func randLogits(r *rand.Rand, v int) []float32 {
	l := make([]float32, v)
	for i := range l {
		l[i] = float32(r.NormFloat64() * 3)
	}
	return l
}

func to64(l []float32) []float64 {
	out := make([]float64, len(l))
	for i, x := range l {
		out[i] = float64(x)
	}
	return out
}

// Property: the top-p set reaches p and is minimal.
func TestTopPMinimalProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 300; it++ {
		l := to64(randLogits(r, 1+r.IntN(60)))
		p := 0.01 + 0.98*r.Float64()
		probs := Softmax(l)
		TopP(l, p)
		mass, minKept := 0.0, math.Inf(1)
		for _, i := range kept(l) {
			mass += probs[i]
			minKept = math.Min(minKept, probs[i])
		}
		if mass < p-1e-12 {
			t.Fatalf("top-p %v kept mass %v < p", p, mass)
		}
		if len(kept(l)) > 1 && mass-minKept >= p+1e-12 {
			t.Fatalf("top-p %v not minimal: mass %v without least kept %v", p, mass, minKept)
		}
		for i := range l {
			if math.IsInf(l[i], -1) && probs[i] > minKept {
				t.Fatalf("top-p dropped token %d more probable than a kept one", i)
			}
		}
	}
}

// Property: after min-p every kept token has p >= min_p * p_max and every
// removed one has less.
func TestMinPThresholdProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for it := 0; it < 300; it++ {
		l := to64(randLogits(r, 1+r.IntN(60)))
		minP := r.Float64()
		probs := Softmax(l)
		pmax := 0.0
		for _, x := range probs {
			pmax = math.Max(pmax, x)
		}
		MinP(l, minP)
		for i, x := range l {
			keptTok := !math.IsInf(x, -1)
			if keptTok != (probs[i] >= minP*pmax) {
				t.Fatalf("min-p %v: token %d p=%v pmax=%v kept=%v", minP, i, probs[i], pmax, keptTok)
			}
		}
	}
}

// Property: every processor at its neutral setting leaves the logits unchanged.
func TestNeutralSettingsAreNoOps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	hist := []int{1, 2, 3, 1, 2, 3, 4}
	for it := 0; it < 50; it++ {
		base := to64(randLogits(r, 10))
		ops := map[string]func([]float64){
			"repetition":  func(l []float64) { RepetitionPenalty(l, hist, 1) },
			"presfreq":    func(l []float64) { PresenceFrequencyPenalty(l, hist, 0, 0, 0.7) },
			"ngram":       func(l []float64) { NoRepeatNGram(l, hist, 0) },
			"temperature": func(l []float64) { Temperature(l, 1) },
			"topk":        func(l []float64) { TopK(l, 0) },
			"topp":        func(l []float64) { TopP(l, 1) },
			"minp":        func(l []float64) { MinP(l, 0) },
			"typical":     func(l []float64) { Typical(l, 1) },
		}
		for name, op := range ops {
			l := append([]float64(nil), base...)
			op(l)
			if !reflect.DeepEqual(l, base) {
				t.Fatalf("%s at neutral setting changed logits", name)
			}
		}
		s, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		f32 := make([]float32, len(base))
		for i, x := range base {
			f32[i] = float32(x)
		}
		got, err := s.Probs(f32, hist)
		if err != nil {
			t.Fatal(err)
		}
		if want := Softmax(to64(f32)); !reflect.DeepEqual(got, want) {
			t.Fatalf("default sampler Probs differs from Softmax")
		}
	}
}
