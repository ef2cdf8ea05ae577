package sampletest

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/sampler"
)

// goConfig returns the Go sampler configuration equivalent to a device row
// and a sparse bias (the float32 settings widened to float64, as the device
// does).
func goConfig(r Row, bias map[int]float32) sampler.Config {
	c := sampler.DefaultConfig()
	c.Temperature = float64(r.Temperature)
	c.TopK = int(r.TopK)
	c.TopP = float64(r.TopP)
	c.MinP = float64(r.MinP)
	c.RepetitionPenalty = float64(r.RepetitionPenalty)
	c.PresencePenalty = float64(r.PresencePenalty)
	c.FrequencyPenalty = float64(r.FrequencyPenalty)
	c.PenaltyDecay = float64(r.PenaltyDecay)
	c.Seed = r.Seed
	if len(bias) > 0 {
		c.LogitBias = map[int]float64{}
		for id, b := range bias {
			c.LogitBias[id] = float64(b)
		}
	}
	return c
}

// logitKind names a way of generating a logit row.
type logitKind int

const (
	normal logitKind = iota // N(0, 3)
	quant                   // N(0, 2) rounded to quarters: many exact ties
	flat                    // all equal: top-k/top-p tie rules, dyadic sums
	wide                    // uniform in [-90, 25]: many weights below 2^-80
	peaked                  // N(0, 1) with one token 12 above the rest
	dupmax                  // N(0, 3) with the maximum repeated at 3 more ids
)

func genLogits(rng *rand.Rand, v int, kind logitKind) []float32 {
	l := make([]float32, v)
	for i := range l {
		switch kind {
		case normal:
			l[i] = float32(rng.NormFloat64() * 3)
		case quant:
			l[i] = float32(math.Round(rng.NormFloat64()*8) / 4)
		case flat:
			l[i] = 0.5
		case wide:
			l[i] = float32(-90 + 115*rng.Float64())
		case peaked:
			l[i] = float32(rng.NormFloat64())
		}
	}
	switch kind {
	case peaked:
		l[rng.IntN(v)] = 12
	case dupmax:
		for i := range l {
			l[i] = float32(rng.NormFloat64() * 3)
		}
		for i := 0; i < 3; i++ {
			l[rng.IntN(v)] = 20
		}
	}
	return l
}

// genHistory returns n tokens drawn mostly from a small set, so tokens repeat.
func genHistory(rng *rand.Rand, v, n int) []int {
	h := make([]int, n)
	hot := make([]int, 8)
	for i := range hot {
		hot[i] = rng.IntN(v)
	}
	for i := range h {
		if rng.IntN(3) > 0 {
			h[i] = hot[rng.IntN(len(hot))]
		} else {
			h[i] = rng.IntN(v)
		}
	}
	return h
}

// genBias returns a sparse bias: a few bans (-Inf) and a few additive values,
// some on history tokens.
func genBias(rng *rand.Rand, v int, hist []int, bans, adds int) map[int]float32 {
	b := map[int]float32{}
	for i := 0; i < bans; i++ {
		b[rng.IntN(v)] = float32(math.Inf(-1))
	}
	for i := 0; i < adds; i++ {
		id := rng.IntN(v)
		if len(hist) > 0 && i%2 == 0 {
			id = hist[rng.IntN(len(hist))]
		}
		b[id] = float32(rng.NormFloat64() * 2)
	}
	return b
}

func denseBias(b map[int]float32, v int) []float32 {
	if b == nil {
		return nil
	}
	d := make([]float32, v)
	for id, x := range b {
		d[id] = x
	}
	return d
}

func toInt32(h []int) []int32 {
	o := make([]int32, len(h))
	for i, x := range h {
		o[i] = int32(x)
	}
	return o
}

// checkCounts compares a device count row with sampler.DecayedCounts(hist):
// equal with decay 1, within 1e-5 relative otherwise (float32 vs float64
// decays); presence must agree exactly.
func checkCounts(t *testing.T, what string, got []float32, hist []int, decay float32) {
	t.Helper()
	want := sampler.DecayedCounts(hist, float64(decay))
	for id, g := range got {
		w, ok := want[id]
		if ok != (g > 0) {
			t.Fatalf("%s: token %d present on device %v, in Go %v (count %v vs %v)", what, id, g > 0, ok, g, w)
		}
		if !ok {
			continue
		}
		if decay == 1 {
			if float64(g) != w {
				t.Fatalf("%s: token %d count %v, want %v", what, id, g, w)
			}
		} else if w >= 1e-30 && math.Abs(float64(g)-w) > 1e-5*w {
			t.Fatalf("%s: token %d count %v, want %v", what, id, g, w)
		}
	}
}

// testCase is one configuration of the table.
type testCase struct {
	name  string
	v     int
	kind  logitKind
	row   Row
	hist  int // history length (0: none)
	bans  int // bias bans
	adds  int // additive biases
	seeds int // rows per launch, each with its own seed and sequence id
	steps []uint64
	mis   bool // misaligned pointers: scalar loads
}

func rowWith(f func(*Row)) Row {
	r := NeutralRow()
	f(&r)
	return r
}

var steps4 = []uint64{0, 1, 7, 1 << 33}

var table = []testCase{
	{name: "greedy", v: 1000, kind: quant, row: rowWith(func(r *Row) { r.Temperature = 0 }), seeds: 2, steps: []uint64{0}},
	{name: "greedy/flat", v: 256, kind: flat, row: rowWith(func(r *Row) { r.Temperature = 0 }), seeds: 1, steps: []uint64{0}},
	{name: "greedy/ties", v: 1000, kind: dupmax, row: rowWith(func(r *Row) { r.Temperature = 0; r.TopK = 2 }), seeds: 2, steps: []uint64{0}},
	{name: "top-k2/ties", v: 1000, kind: dupmax, row: rowWith(func(r *Row) { r.TopK = 2 }), seeds: 16, steps: steps4},
	{name: "top-p0.3/dupmax", v: 1000, kind: dupmax, row: rowWith(func(r *Row) { r.TopP = 0.3 }), seeds: 16, steps: steps4},
	{name: "greedy/penalties+bias", v: 1000, kind: quant, hist: 50, bans: 5, adds: 10, seeds: 2, steps: []uint64{0},
		row: rowWith(func(r *Row) { r.Temperature = 0; r.RepetitionPenalty = 1.3; r.PresencePenalty = 0.4 })},
	{name: "temperature1", v: 256, kind: normal, row: NeutralRow(), seeds: 16, steps: steps4},
	{name: "temperature0.7", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.Temperature = 0.7 }), seeds: 16, steps: steps4},
	{name: "temperature1.9/wide", v: 1000, kind: wide, row: rowWith(func(r *Row) { r.Temperature = 1.9 }), seeds: 16, steps: steps4},
	{name: "top-k1", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.TopK = 1 }), seeds: 8, steps: steps4[:2]},
	{name: "top-k5", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.TopK = 5; r.Temperature = 0.8 }), seeds: 16, steps: steps4},
	{name: "top-k50", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.TopK = 50; r.Temperature = 1.2 }), seeds: 16, steps: steps4},
	{name: "top-k5/ties", v: 1000, kind: quant, row: rowWith(func(r *Row) { r.TopK = 5 }), seeds: 16, steps: steps4},
	{name: "top-k5/flat", v: 256, kind: flat, row: rowWith(func(r *Row) { r.TopK = 5 }), seeds: 16, steps: steps4},
	{name: "top-p0.1", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.TopP = 0.1 }), seeds: 16, steps: steps4},
	{name: "top-p0.9", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.TopP = 0.9 }), seeds: 16, steps: steps4},
	{name: "top-p1", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.TopP = 1 }), seeds: 8, steps: steps4[:2]},
	{name: "top-p0.5/flat", v: 256, kind: flat, row: rowWith(func(r *Row) { r.TopP = 0.5 }), seeds: 16, steps: steps4},
	{name: "top-p0.3/ties", v: 1000, kind: quant, row: rowWith(func(r *Row) { r.TopP = 0.3 }), seeds: 16, steps: steps4},
	{name: "top-p0.9/peaked", v: 1000, kind: peaked, row: rowWith(func(r *Row) { r.TopP = 0.9 }), seeds: 8, steps: steps4[:2]},
	{name: "min-p0.05", v: 1000, kind: normal, row: rowWith(func(r *Row) { r.MinP = 0.05 }), seeds: 16, steps: steps4},
	{name: "min-p0.05/T0.6", v: 1000, kind: quant, row: rowWith(func(r *Row) { r.MinP = 0.05; r.Temperature = 0.6 }), seeds: 16, steps: steps4},
	{name: "repetition1.3", v: 1000, kind: normal, hist: 60, row: rowWith(func(r *Row) { r.RepetitionPenalty = 1.3 }), seeds: 16, steps: steps4},
	{name: "presence-frequency/decay0.9", v: 1000, kind: normal, hist: 80,
		row: rowWith(func(r *Row) { r.PresencePenalty = 0.5; r.FrequencyPenalty = 0.3; r.PenaltyDecay = 0.9 }), seeds: 16, steps: steps4},
	{name: "frequency/decay1", v: 1000, kind: quant, hist: 80,
		row: rowWith(func(r *Row) { r.FrequencyPenalty = 0.75 }), seeds: 16, steps: steps4},
	{name: "bias", v: 1000, kind: normal, bans: 40, adds: 40, row: NeutralRow(), seeds: 16, steps: steps4},
	{name: "combined", v: 1000, kind: normal, hist: 100, bans: 20, adds: 20, seeds: 16, steps: steps4,
		row: rowWith(func(r *Row) {
			r.Temperature = 0.9
			r.TopK = 40
			r.TopP = 0.85
			r.MinP = 0.02
			r.RepetitionPenalty = 1.2
			r.PresencePenalty = 0.2
			r.FrequencyPenalty = 0.1
			r.PenaltyDecay = 0.95
		})},
	{name: "combined/ties", v: 1000, kind: quant, hist: 100, bans: 20, adds: 20, seeds: 16, steps: steps4,
		row: rowWith(func(r *Row) { r.TopK = 100; r.TopP = 0.6; r.MinP = 0.1; r.RepetitionPenalty = 1.5 })},
	{name: "odd-vocab", v: 1001, kind: normal, hist: 30, bans: 5, adds: 5, seeds: 8, steps: steps4[:2],
		row: rowWith(func(r *Row) { r.TopK = 30; r.TopP = 0.8; r.RepetitionPenalty = 1.1 })},
	{name: "misaligned", v: 1000, kind: normal, hist: 30, bans: 5, adds: 5, seeds: 8, steps: steps4[:2], mis: true,
		row: rowWith(func(r *Row) { r.TopP = 0.7; r.FrequencyPenalty = 0.2 })},
	{name: "V65536/temperature", v: 65536, kind: normal, row: NeutralRow(), seeds: 2, steps: []uint64{3}},
	{name: "V65536/top-k50+top-p0.9", v: 65536, kind: normal, hist: 200, seeds: 2, steps: []uint64{5},
		row: rowWith(func(r *Row) { r.TopK = 50; r.TopP = 0.9; r.RepetitionPenalty = 1.3 })},
	{name: "V65536/top-p0.95+min-p", v: 65536, kind: quant, hist: 200, bans: 100, adds: 50, seeds: 2, steps: []uint64{9},
		row: rowWith(func(r *Row) {
			r.Temperature = 1.3
			r.TopP = 0.95
			r.MinP = 0.01
			r.PresencePenalty = 0.3
			r.FrequencyPenalty = 0.2
			r.PenaltyDecay = 0.9
		})},
}

// runCase draws with the device and the Go sampler for every (seed, step) of
// c and compares token ids, probabilities and the counts after the draw.
func runCase(t *testing.T, c testCase, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(len(c.name))))
	logits := genLogits(rng, c.v, c.kind)
	hist := genHistory(rng, c.v, c.hist)
	bias := genBias(rng, c.v, hist, c.bans, c.adds)
	if c.bans == 0 && c.adds == 0 {
		bias = nil
	}
	dense := denseBias(bias, c.v)

	// The penalty state of the history, recorded by the observe kernel.
	base := make([]float32, c.v)
	if err := Observe(base, 1, c.v, 0, toInt32(hist), c.row.PenaltyDecay); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, "observe", base, hist, c.row.PenaltyDecay)

	rows := make([]Row, c.seeds)
	all := make([]float32, 0, c.seeds*c.v)
	var allBias []float32
	for i := range rows {
		rows[i] = c.row
		rows[i].Seed = rng.Uint64()
		rows[i].Seq = uint64(rng.IntN(4))
		all = append(all, logits...)
		if dense != nil {
			allBias = append(allBias, dense...)
		}
	}
	for _, step := range c.steps {
		counts := make([]float32, 0, c.seeds*c.v)
		for range rows {
			counts = append(counts, base...)
		}
		toks, probs, err := Sample(all, c.v, rows, counts, allBias, step, c.mis)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			s, err := sampler.New(goConfig(r, bias))
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.Sample(logits, hist, r.Seq, step)
			if errors.Is(err, sampler.ErrNoCandidates) {
				want = -1
			} else if err != nil {
				t.Fatal(err)
			}
			if int(toks[i]) != want {
				t.Fatalf("row %d seed %#x seq %d step %d: device token %d, Go %d", i, r.Seed, r.Seq, step, toks[i], want)
			}
			if want < 0 {
				continue
			}
			p, err := s.Probs(logits, hist)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(probs[i])-p[want]) > 1e-5*p[want] {
				t.Fatalf("row %d step %d token %d: device probability %v, Go %v", i, step, want, probs[i], p[want])
			}
			checkCounts(t, "after sample", counts[i*c.v:(i+1)*c.v], append(append([]int(nil), hist...), want), r.PenaltyDecay)
		}
	}
}

// TestTable compares the device sampler with the Go sampler on the table of
// configurations.
func TestTable(t *testing.T) {
	for _, c := range table {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.v > 4096 {
				t.Skip("large vocabulary in -short mode")
			}
			runCase(t, c, 1)
		})
	}
}

// zeroUniform lists (seed, step) pairs, sequence 0, whose uniform is exactly
// 0 (Philox word 0 < 256): Go then draws the first token with p > 0, however
// small.
var zeroUniform = [][2]uint64{{2812526, 3}, {6786339, 1}, {12121362, 0}}

// TestDrawBoundaries draws where u*Z falls exactly on a cumulative sum: a
// flat distribution over 256 tokens (every cumulative sum is a multiple of
// 1/256, exact in any order) with seeds whose u is a multiple of 1/256, and
// u = 0 exactly with weights far below 2^-80 at the lowest ids.
func TestDrawBoundaries(t *testing.T) {
	const v = 256
	var seeds []Row
	for seed := uint64(1); len(seeds) < 12; seed++ {
		if sampler.PhiloxBlock(seed, 0, 2)[0]>>8%(1<<16) == 0 {
			r := NeutralRow()
			r.Seed = seed
			seeds = append(seeds, r)
		}
	}
	for _, c := range []struct {
		name string
		kind logitKind
		mod  func(*Row)
		rows []Row
		step uint64
	}{
		{"flat", flat, func(*Row) {}, seeds, 2},
		{"flat/top-p0.5", flat, func(r *Row) { r.TopP = 0.5 }, seeds, 2},
		{"flat/top-k100", flat, func(r *Row) { r.TopK = 100 }, seeds, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			logits := genLogits(rand.New(rand.NewPCG(1, 1)), v, c.kind)
			rows := append([]Row(nil), c.rows...)
			var all []float32
			for i := range rows {
				c.mod(&rows[i])
				all = append(all, logits...)
			}
			toks, _, err := Sample(all, v, rows, make([]float32, len(rows)*v), nil, c.step, false)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rows {
				s, _ := sampler.New(goConfig(r, nil))
				want, _ := s.Sample(logits, nil, 0, c.step)
				if int(toks[i]) != want {
					t.Fatalf("seed %d: device %d, Go %d (u = %v)", r.Seed, toks[i], want, sampler.Uniform(r.Seed, 0, c.step))
				}
			}
		})
	}
	t.Run("u=0", func(t *testing.T) {
		const v = 1000
		logits := genLogits(rand.New(rand.NewPCG(5, 5)), v, wide)
		logits[0], logits[1] = -100, 25 // token 0: weight about e^-125
		for _, mod := range []func(*Row){func(*Row) {}, func(r *Row) { r.TopK = 500 }, func(r *Row) { r.Temperature = 3 }} {
			for _, z := range zeroUniform {
				r := NeutralRow()
				mod(&r)
				r.Seed = z[0]
				toks, _, err := Sample(logits, v, []Row{r}, make([]float32, v), nil, z[1], false)
				if err != nil {
					t.Fatal(err)
				}
				s, _ := sampler.New(goConfig(r, nil))
				want, _ := s.Sample(logits, nil, 0, z[1])
				if int(toks[0]) != want {
					t.Fatalf("%+v step %d: device %d, Go %d", r, z[1], toks[0], want)
				}
			}
		}
	})
}

// TestMixedRows samples rows with different settings in one launch.
func TestMixedRows(t *testing.T) {
	const v = 512
	rng := rand.New(rand.NewPCG(7, 7))
	var rows []Row
	for _, c := range table {
		if c.v == 1000 && c.hist == 0 && c.bans == 0 && c.adds == 0 {
			r := c.row
			r.Seed = rng.Uint64()
			r.Seq = uint64(len(rows))
			rows = append(rows, r)
		}
	}
	logits := make([]float32, 0, len(rows)*v)
	rowLogits := make([][]float32, len(rows))
	for i := range rows {
		rowLogits[i] = genLogits(rng, v, logitKind(i%5))
		logits = append(logits, rowLogits[i]...)
	}
	for _, step := range []uint64{0, 11, 12} {
		counts := make([]float32, len(rows)*v)
		toks, _, err := Sample(logits, v, rows, counts, nil, step, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			s, err := sampler.New(goConfig(r, nil))
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.Sample(rowLogits[i], nil, r.Seq, step)
			if err != nil {
				t.Fatal(err)
			}
			if int(toks[i]) != want {
				t.Fatalf("row %d (%+v) step %d: device %d, Go %d", i, r, step, toks[i], want)
			}
		}
	}
}

// TestGeneration runs a short generation: each step draws from fresh logits
// with the penalty state the device updated itself, and the Go sampler sees
// the growing history.
func TestGeneration(t *testing.T) {
	const v = 300
	rng := rand.New(rand.NewPCG(3, 4))
	row := rowWith(func(r *Row) {
		r.Temperature = 0.8
		r.TopK = 20
		r.TopP = 0.9
		r.RepetitionPenalty = 1.4
		r.PresencePenalty = 0.3
		r.FrequencyPenalty = 0.5
		r.PenaltyDecay = 0.8
		r.Seed = 0xdecafbad
		r.Seq = 5
	})
	hist := genHistory(rng, v, 20)
	counts := make([]float32, v)
	if err := Observe(counts, 1, v, 0, toInt32(hist), row.PenaltyDecay); err != nil {
		t.Fatal(err)
	}
	s, err := sampler.New(goConfig(row, nil))
	if err != nil {
		t.Fatal(err)
	}
	for step := uint64(0); step < 40; step++ {
		logits := genLogits(rng, v, peaked)
		for i := range logits {
			logits[i] *= 0.4 // a flatter distribution: penalties matter
		}
		toks, _, err := Sample(logits, v, []Row{row}, counts, nil, step, false)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.Sample(logits, hist, row.Seq, step)
		if err != nil {
			t.Fatal(err)
		}
		if int(toks[0]) != want {
			t.Fatalf("step %d: device %d, Go %d", step, toks[0], want)
		}
		hist = append(hist, want)
		checkCounts(t, "generation", counts, hist, row.PenaltyDecay)
	}
}

// TestAllBanned: every token banned gives -1 and leaves the counts alone.
func TestAllBanned(t *testing.T) {
	const v = 64
	logits := make([]float32, v)
	bias := make([]float32, v)
	for i := range bias {
		bias[i] = float32(math.Inf(-1))
	}
	counts := make([]float32, v)
	counts[3] = 2
	rows := []Row{NeutralRow()}
	rows[0].PenaltyDecay = 0.5
	toks, probs, err := Sample(logits, v, rows, counts, bias, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if toks[0] != -1 || probs[0] != 0 || counts[3] != 2 {
		t.Fatalf("got token %d prob %v count %v, want -1, 0, 2", toks[0], probs[0], counts[3])
	}
}

// TestObserveDecayFloor: a present token never decays to 0.
func TestObserveDecayFloor(t *testing.T) {
	const v = 8
	counts := make([]float32, v)
	hist := []int32{1}
	for i := 0; i < 300; i++ {
		hist = append(hist, 2)
	}
	if err := Observe(counts, 1, v, 0, hist, 0.5); err != nil {
		t.Fatal(err)
	}
	if counts[1] <= 0 || counts[0] != 0 || counts[2] != 2 {
		t.Fatalf("counts %v", counts)
	}
}

// TestValidation checks the launchers' argument checks.
func TestValidation(t *testing.T) {
	const invalid = 1 // cudaErrorInvalidValue
	want := []int{invalid, invalid, invalid, invalid, 0, invalid, invalid, 0}
	for i, w := range want {
		if got := validate(i); got != w {
			t.Errorf("case %d: status %d, want %d", i, got, w)
		}
	}
}

// TestSignedZero: -0 and +0 are the same logit for ranking (Go compares them
// equal), so a top-p tie at 0 is broken by id.
func TestSignedZero(t *testing.T) {
	const v = 16
	logits := make([]float32, v)
	for i := range logits {
		logits[i] = -3 - float32(i)
	}
	logits[1] = float32(math.Copysign(0, -1))
	logits[3] = 0
	for _, mod := range []func(*Row){
		func(r *Row) { r.TopP = 0.01 },
		func(r *Row) { r.TopP = 0.01; r.Temperature = 0 },
		func(r *Row) { r.TopK = 1 },
	} {
		for seed := uint64(0); seed < 4; seed++ {
			r := NeutralRow()
			mod(&r)
			r.Seed = seed
			toks, _, err := Sample(logits, v, []Row{r}, make([]float32, v), nil, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := sampler.New(goConfig(r, nil))
			want, _ := s.Sample(logits, nil, 0, 0)
			if int(toks[0]) != want {
				t.Fatalf("%+v: device %d, Go %d", r, toks[0], want)
			}
		}
	}
}

// TestRandomSweep draws with random combinations of every setting: 60
// configurations x 8 seeds x 2 steps over V = 256 and 1000 (12 in -short
// mode).
func TestRandomSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	n := 60
	if testing.Short() {
		n = 12
	}
	pick := func(p float64) bool { return rng.Float64() < p }
	for i := 0; i < n; i++ {
		r := NeutralRow()
		if pick(0.15) {
			r.Temperature = 0
		} else {
			r.Temperature = float32(0.3 + 1.7*rng.Float64())
		}
		if pick(0.5) {
			r.TopK = int32(1 + rng.IntN(200))
		}
		if pick(0.5) {
			r.TopP = float32(0.05 + 0.95*rng.Float64())
		}
		if pick(0.4) {
			r.MinP = float32(0.2 * rng.Float64())
		}
		if pick(0.5) {
			r.RepetitionPenalty = float32(0.8 + 0.8*rng.Float64())
		}
		if pick(0.5) {
			r.PresencePenalty = float32(rng.NormFloat64())
			r.FrequencyPenalty = float32(rng.NormFloat64() * 0.5)
			if pick(0.5) {
				r.PenaltyDecay = float32(0.5 + 0.5*rng.Float64())
			}
		}
		c := testCase{
			name:  "sweep",
			v:     []int{256, 1000}[rng.IntN(2)],
			kind:  logitKind(rng.IntN(6)),
			row:   r,
			hist:  rng.IntN(120),
			seeds: 8,
			steps: []uint64{rng.Uint64() >> 40, rng.Uint64()},
		}
		if pick(0.5) {
			c.bans, c.adds = rng.IntN(30), rng.IntN(30)
		}
		runCase(t, c, uint64(100+i))
		if t.Failed() {
			t.Fatalf("configuration %d: %+v", i, c)
		}
	}
}
